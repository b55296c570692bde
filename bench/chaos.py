"""Faults injected into a running campaign, measured: a worker killed -9 with live calls
(parent, call children and beat), Redis killed -9 and started again empty, PostgreSQL
restarted. Callees are a SIPp farm on 127.0.0.1 (real SIP, each callee answers, keeps a
quiet line alive and waits for the robot to hang up).

Per fault: a fresh campaign of --contacts numbers with --live calls at once (a worker of
2 call processes x 4 calls), the fault injected when that many are answered, then the
campaign left to finish by itself. Prints one JSON object:
{"faults": {name: {"contacts", "final", "open_attempts", "overlapping_dials",
"lost_turns", "recovery_s", "cpu_s_per_call_s", ...}}} with the median of --runs runs
for the figures and every run's values beside them.

recovery_s: worker kill, from the new worker being ready until every call the killed one
left open is closed (restart_to_closed_s: from the start command, the model load
included); Redis and PostgreSQL, from the server being back until the
dispatcher's next successful round (its `Task dialer.dispatch[...] succeeded` line).

    .venv/bin/python bench/chaos.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from campaigns.db import Database
from campaigns.lifecycle import progress
from campaigns.models import CallAttempt
from campaigns.statuses import AttemptStatus
from tests.support import postgres
from tests.support.chaos import (
    Redis,
    Worker,
    contacts_csv,
    create_campaign,
    dispatch_rounds,
    farm_env,
    group_pids,
    restart_postgres,
    short_script,
    start_campaign,
    tally,
    wait_until,
)
from tests.support.sipp_farm import sipp_farm

FAULTS = ("worker_kill", "redis_restart", "postgres_restart")
TICK = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of every process in the workers' process groups, sampled twice a
    second (a killed process's last sample is kept)."""

    def __init__(self) -> None:
        self.groups: set[int] = set()
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        for pgid in list(self.groups):
            for pid in group_pids(pgid):
                try:
                    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                        fields = f.read().rsplit(") ", 1)[1].split()
                except (FileNotFoundError, IndexError):
                    continue
                self.seen[pid] = max(self.seen.get(pid, 0.0),
                                     (int(fields[11]) + int(fields[12])) / TICK)

    def stop(self) -> float:
        self.sample()
        self._stop.set()
        return sum(self.seen.values())


def dispatch_after(log: Path, t0: datetime) -> datetime | None:
    """The first successful dispatcher round logged after t0."""
    return next((t for t in dispatch_rounds(log) if t > t0), None)


def call_seconds(db: Database, cid: int) -> float:
    with db.session() as s:
        rows = s.execute(select(CallAttempt.answered_at, CallAttempt.ended_at).where(
            CallAttempt.campaign_id == cid, CallAttempt.answered_at.is_not(None),
            CallAttempt.ended_at.is_not(None))).all()
    return float(sum(max(0.0, (e - a).total_seconds()) for a, e in rows if a and e))


def answered(db: Database, cid: int) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(CallAttempt.id).where(
            CallAttempt.campaign_id == cid, CallAttempt.status == AttemptStatus.ANSWERED)))


@contextmanager
def pg_database() -> Iterator[tuple[str, Callable[[float], None]]]:
    """A database on a private PostgreSQL, and a way to stop it for some seconds."""
    with postgres.postgres_server() as server:
        url = postgres.fresh_database(server)
        yield url, lambda down_s: restart_postgres(url, down_s)


def run_fault(fault: str, contacts: int, live: int, workdir: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        redis = Redis(workdir / "redis").start()
        stack.callback(redis.stop)
        farm = stack.enter_context(sipp_farm(workdir / "farm"))
        env = farm_env(workdir, redis.url, farm.target, 54000, 4)
        restart_pg: Callable[[float], None] | None = None
        if fault == "postgres_restart":
            url, restart_pg = stack.enter_context(pg_database())
            env["DIALER_DATABASE_URL"] = url
        cid = create_campaign(env, f"chaos-{fault}", short_script(workdir / "script"),
                              contacts_csv(workdir / "list.csv", contacts), concurrent=live,
                              retry_delays={"interrupted": 2})
        from tests.support.chaos import database
        db = database(env)
        meter = CpuMeter()
        log = workdir / "worker.log"
        worker = Worker(env, log, processes=max(1, live // 4)).start()
        assert worker.proc is not None
        meter.groups.add(worker.proc.pid)
        stack.callback(lambda: worker.stop())
        started = time.monotonic()
        start_campaign(env, cid)
        wait_until(lambda: len(answered(db, cid)) >= live, 180, f"{live} calls answered")
        time.sleep(2)
        was_live = answered(db, cid)
        extra: dict[str, Any] = {}
        if fault == "worker_kill":
            meter.sample()
            worker.kill9()
            time.sleep(3)
            restarted = time.monotonic()
            worker = Worker(env, log, processes=max(1, live // 4)).start()
            assert worker.proc is not None
            meter.groups.add(worker.proc.pid)

            def closed() -> bool:
                with db.session() as s:
                    return not s.scalar(select(func.count(CallAttempt.id)).where(
                        CallAttempt.id.in_(was_live),
                        CallAttempt.status == AttemptStatus.ANSWERED))
            recovery = wait_until(closed, 120, "the killed worker's calls closed", 0.1)
            extra["restart_to_closed_s"] = round(time.monotonic() - restarted, 2)
        else:
            if fault == "redis_restart":
                redis.kill9()
                redis.start()
            else:
                assert restart_pg is not None
                restart_pg(5.0)
            back = datetime.now()
            wait_until(lambda: dispatch_after(log, back) is not None, 120,
                       "the dispatcher's next round", 0.1)
            at = dispatch_after(log, back)
            assert at is not None
            recovery = max(0.0, (at - back).total_seconds())
        wait_until(lambda: progress(db, cid)["status"] == "finished", 900,
                   "the campaign finished", 1.0)
        wall = time.monotonic() - started
        cpu = meter.stop()
        result = tally(db, cid).as_json()
        busy = call_seconds(db, cid)
        result.update(recovery_s=round(recovery, 2), calls_live_at_fault=len(was_live),
                      wall_s=round(wall, 1), call_s=round(busy, 1),
                      cpu_s_per_call_s=round(cpu / busy, 3) if busy else None, **extra)
        return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contacts", type=int, default=24)
    ap.add_argument("--live", type=int, default=8)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--keep", type=Path, help="keep each run's logs and data under this directory")
    args = ap.parse_args()
    # Stopped from outside: still stop the workers, Redis, SIPp and PostgreSQL it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    faults = [f for f in args.faults.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        ap.error(f"unknown fault(s) {sorted(unknown)}; one of {', '.join(FAULTS)}")
    if args.contacts < 1 or not 1 <= args.live <= 32:
        ap.error("--contacts must be >= 1 and --live 1..32")
    out: dict[str, Any] = {"contacts": args.contacts, "live": args.live, "runs": args.runs,
                           "faults": {}}
    for fault in faults:
        runs = []
        for i in range(args.runs):
            print(f"[chaos] {fault} run {i + 1}/{args.runs} ...", file=sys.stderr, flush=True)
            if args.keep:
                runs.append(run_fault(fault, args.contacts, args.live,
                                      args.keep / f"{fault}-{i + 1}"))
                continue
            with tempfile.TemporaryDirectory(prefix=f"chaos-{fault}-") as tmp:
                runs.append(run_fault(fault, args.contacts, args.live, Path(tmp)))
        summary = {k: statistics.median(r[k] for r in runs)
                   for k in ("recovery_s", "cpu_s_per_call_s", "wall_s")
                   if all(r[k] is not None for r in runs)}
        for k in ("contacts", "final", "open_attempts", "overlapping_dials", "lost_turns"):
            summary[k] = max(r[k] for r in runs) if k != "final" else min(r[k] for r in runs)
        summary["goal_met"] = all(
            r["final"] == r["contacts"] and r["open_attempts"] == 0
            and r["overlapping_dials"] == 0 and r["recovery_s"] <= 10 for r in runs)
        summary["each_run"] = runs
        out["faults"][fault] = summary
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
