"""`dialer demo`: the demo campaign end to end on embedded defaults.

Starts what is missing (Redis, the customer simulator, a worker), imports the demo call
list, runs the campaign with a progress bar, prints a summary, and stops what it started.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from campaigns.db import Database
from campaigns.lifecycle import progress, start_campaign
from campaigns.list_imports import create_campaign
from campaigns.report import campaign_report
from campaigns.settings import CampaignSettings
from dialer.sandbox.stack import (
    log_out_agents,
    simulated_agents,
    spawn,
    start_redis,
    stop_process,
    wait_for_line,
)
from dialer.settings import DialerSettings

DEMO_DIR = Path(__file__).resolve().parents[2] / "campaigns" / "examples" / "demo"


def wait_for_campaign(db: Database, campaign_id: int, timeout: float = 900,
                      console: Console | None = None) -> bool:
    console = console or Console(stderr=True)
    with Progress(TextColumn("[bold]campaign {task.fields[cid]}[/bold] {task.description}"),
                  BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        p = progress(db, campaign_id)
        task = bar.add_task("dialing", total=p["total"], cid=campaign_id)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            p = progress(db, campaign_id)
            bar.update(task, completed=p["done"],
                       description=f"{p['status']}, {p['in_progress']} on the line")
            if p["status"] == "finished":
                return True
            time.sleep(0.5)
    return False


def print_report(console: Console, report: dict[str, Any]) -> None:
    c = report["campaign"]
    table = Table("phone", "name", "disposition", "sip", "turns", "handoff", "reason",
                  title=f"campaign {c['id']} — {c['name']} ({c['status']})")
    for call in report["calls"]:
        table.add_row(call["phone"], str(call["name"] or ""), str(call["disposition"]),
                      str(call["sip_status"] or ""), str(len(call["turns"])),
                      "yes" if call["handoff"] else "", str(call["reason"] or ""))
    console.print(table)
    counts = Counter(call["disposition"] for call in report["calls"])
    turns = sum(len(call["turns"]) for call in report["calls"])
    handoffs = sum(call["handoff"] for call in report["calls"])
    console.print(f"contacts: {len(report['contacts'])}  calls: {len(report['calls'])}  "
                  f"turns: {turns}  handoffs: {handoffs}  dispositions: {dict(counts)}")


def run_demo(console: Console, timeout: float = 900, processes: int = 2) -> int:
    settings, dialer = CampaignSettings(), DialerSettings()
    data = settings.data_dir.resolve()
    logs = data / "logs"
    db = Database(settings.resolved_database_url())
    db.migrate()
    exe = [sys.executable, "-m", "dialer.cli"]
    env_note = f"data in {data}, broker {dialer.broker_url}"
    console.print(f"[bold]dialer demo[/bold] — {env_note}")
    with ExitStack() as stack:
        redis_proc = start_redis(dialer.broker_url, data / "redis")
        if redis_proc is not None:
            console.print("started a local redis-server")
            stack.callback(stop_process, redis_proc)
        trunk_port = int(dialer.sip_trunk.rsplit(":", 1)[-1]) if ":" in dialer.sip_trunk else 5060
        sim_log = logs / "simulator.log"
        sim_log.unlink(missing_ok=True)
        sim = spawn(exe + ["simulate", "--personas", str(DEMO_DIR / "personas.yml"),
                            "--port", str(trunk_port)], sim_log)
        stack.callback(stop_process, sim)
        worker_log = logs / "worker.log"
        worker_log.unlink(missing_ok=True)
        # A sandbox worker: it dials the demo's dry-run and nothing else, and only here.
        work = spawn(exe + ["worker", "--processes", str(processes)], worker_log,
                      dict(os.environ, DIALER_SANDBOX="1"))
        stack.callback(stop_process, work, 30)
        wait_for_line(sim_log, '"event": "ready"', sim, 60)
        wait_for_line(worker_log, "ready.", work, 120)
        agents = simulated_agents(dialer.resolved_acd_url, DEMO_DIR / "personas.yml",
                                  trunk_port)
        stack.callback(log_out_agents, dialer.resolved_acd_url, agents)
        console.print(f"simulated customers on 127.0.0.1:{trunk_port}, worker with "
                      f"{processes} call processes, {len(agents)} simulated agent(s) ready "
                      f"for handoffs (logs in {logs})")

        name = f"demo {datetime.now():%Y-%m-%d %H:%M:%S}"
        summary = create_campaign(db, name=name, script_dir=DEMO_DIR,
                                  csv_path=DEMO_DIR / "contacts.csv",
                                  uploads_dir=settings.uploads_dir, region="KR",
                                  max_concurrent=processes, max_attempts=1, ring_timeout_s=8,
                                  # simulated customers: no call window, any hour
                                  dry_run=True, max_cps=float(processes))
        console.print(f"imported {summary.accepted} contacts, rejected {summary.rejected}:")
        for e in summary.errors:
            console.print(f"  row {e['row']}: {e['value']!r} — {e['reason']}", highlight=False)
        start_campaign(db, summary.campaign_id)
        finished = wait_for_campaign(db, summary.campaign_id, timeout, console)

    report = campaign_report(db, summary.campaign_id)
    out = data / "reports" / f"campaign-{summary.campaign_id}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print_report(console, report)
    console.print(f"report: {out}\nrecordings: {settings.recordings_dir.resolve()}"
                  f"/campaign-{summary.campaign_id}/\ntranscripts: "
                  f"dialer campaign report {summary.campaign_id}")
    if not finished:
        console.print(f"[red]the campaign did not finish within {timeout:.0f}s; see {logs}")
        return 1
    return 0
