"""Dry-runs: rehearse a campaign against simulated customers before it dials people.

`rehearse()` starts everything privately — its own Redis on a free port, the customer
simulator with the campaign's personas (script_dir/personas.yml, or a given file), a
worker whose trunk is that simulator — so a production worker on the same broker or host
can never take one of these calls, and they can never leave the machine. It copies the
campaign into a `dry_run` rehearsal (one contact per persona, the script's fields taken
from the campaign's first contact), runs it over real SIP on loopback, and stops what it
started. `rehearsal_report()` shows each persona's transcript and disposition and flags
every turn where the robot fell back, reprompted, or understood something other than
what the persona said (the NLU's reading of the persona's own text is the truth).
"""

from __future__ import annotations

import os
import re
import sys
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from campaigns.db import Database
from campaigns.lifecycle import CampaignError, change_status, create_draft, progress
from campaigns.list_imports import add_contacts
from campaigns.models import Campaign, Contact
from campaigns.refusals import Code, Phrase
from campaigns.report import campaign_report
from campaigns.settings import CampaignSettings
from dialer.sandbox.personas import Expectation, Persona, load_personas
from dialer.sandbox.phone_lines import LineSpec
from dialer.sandbox.stack import simulated_agents, spawn, start_redis, stop_process, wait_for_line

CALLING_MODES = ("answer", "machine", "busy", "no_answer", "decline")
# The end of a rehearsal's name, as prepare_rehearsal writes it: its stamp, then its
# line unless that is the clean one.
NAME_END = re.compile(r" · dry-run \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: · (?P<line>\S+))?$")


def free_port() -> int:
    """A port free for both UDP (SIP) and TCP (Redis) on loopback, right now."""
    import socket

    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on 127.0.0.1")


def personas_for(script_dir: str | Path, personas: Path | None = None) -> tuple[Path,
                                                                             dict[str, Persona]]:
    path = Path(personas) if personas else Path(script_dir) / "personas.yml"
    if not path.is_file():
        raise CampaignError("{path}: no personas to rehearse with; write one persona per "
                            "kind of customer (see campaigns/examples/demo/personas.yml)",
                            path=str(path))
    cast = load_personas(path)
    expected_nodes = {p.name: p.expect.node for p in cast.values() if p.expect and p.expect.node}
    if expected_nodes:
        from dialer.conversation.script_loader import load_script

        nodes = load_script(script_dir).nodes
        for name, node in expected_nodes.items():
            if node not in nodes:
                raise CampaignError("{path}: persona {name!r}: expect.node {node!r} is no "
                                    "node of the script; its nodes are {nodes}",
                                    path=str(path), name=name, node=node, nodes=sorted(nodes))
    return path, cast


def prepare_rehearsal(db: Database, campaign_id: int, personas: Path | None = None,
                      processes: int = 2, line: LineSpec | None = None) -> int:
    """Create the rehearsal: a dry_run copy of the campaign with one contact per persona
    that will take a call. Fast; the web app does it in the request, so the page shows
    the rehearsal at once."""
    with db.session() as s:
        original = s.get(Campaign, campaign_id)
        if original is None:
            raise CampaignError("no campaign with id {campaign_id}", campaign_id=campaign_id)
        if original.rehearsal_of is not None:
            raise CampaignError("campaign {campaign_id} is itself a dry-run; rehearse "
                                "campaign {original} instead", campaign_id=campaign_id,
                                original=original.rehearsal_of)
        script_dir, name, region = original.script_dir, original.name, original.region
        # It sounds like the campaign; it never dials through the campaign's trunk (nor
        # with its caller ID: that belongs to the trunk).
        sound = {"voice": original.voice}
        first = s.scalar(select(Contact.fields).where(Contact.campaign_id == campaign_id)
                         .order_by(Contact.id).limit(1))
    _, cast = personas_for(script_dir, personas)
    callable_cast = [p for p in cast.values() if p.answer in CALLING_MODES]
    if not callable_cast:
        raise CampaignError("none of the personas takes calls (answer: {modes})",
                            modes=list(CALLING_MODES))
    fields = dict(first or {})
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    on = f" · {line.name}" if line and line != LineSpec() else ""
    rehearsal = create_draft(
        db, name=f"{name} · dry-run {stamp}{on}", script_dir=Path(script_dir), region=region,
        dry_run=True, rehearsal_of=campaign_id, max_concurrent=processes,
        max_cps=float(processes), max_attempts=1, ring_timeout_s=8, **sound)
    add_contacts(db, rehearsal, [(p.number, {**fields, "persona": p.name})
                                 for p in callable_cast])
    return rehearsal


def rehearsal_line(name: str) -> str:
    """The name of the line a rehearsal calls on, read from the name it was given."""
    match = NAME_END.search(name)
    return (match.group("line") if match else None) or "clean"


def run_rehearsal(db: Database, settings: CampaignSettings, rehearsal: int,
                  personas: Path | None = None, timeout: float = 600, processes: int = 2,
                  log_dir: Path | None = None, line: LineSpec | None = None) -> None:
    """Call the rehearsal's personas on `line` (dialer/sandbox/phone_lines.py; None: a
    clean one); on any failure the rehearsal is stopped (so the page never shows it
    running forever) and the error raised."""
    try:
        _run(db, settings, rehearsal, personas, timeout, processes, log_dir,
             line or LineSpec())
    except BaseException:
        if progress(db, rehearsal)["status"] in ("draft", "running", "paused"):
            change_status(db, rehearsal, "stop")
        raise


def rehearse(db: Database, settings: CampaignSettings, campaign_id: int,
             personas: Path | None = None, timeout: float = 600, processes: int = 2,
             log_dir: Path | None = None, line: LineSpec | None = None) -> int:
    """Run a dry-run of the campaign; returns the rehearsal's id (its report: below)."""
    rehearsal = prepare_rehearsal(db, campaign_id, personas, processes, line)
    run_rehearsal(db, settings, rehearsal, personas, timeout, processes, log_dir, line)
    return rehearsal


def _run(db: Database, settings: CampaignSettings, rehearsal: int, personas: Path | None,
         timeout: float, processes: int, log_dir: Path | None, line: LineSpec) -> None:
    with db.session() as s:
        c = s.get(Campaign, rehearsal)
        if c is None or c.rehearsal_of is None:
            raise CampaignError("campaign {rehearsal} is not a dry-run", rehearsal=rehearsal)
        script_dir, campaign_id = c.script_dir, c.rehearsal_of
    path, _ = personas_for(script_dir, personas)
    # One directory per rehearsal: a matrix's lines keep their own logs.
    logs = (log_dir or settings.data_dir / "logs" / f"dry-run-{campaign_id}"
            / f"rehearsal-{rehearsal}").resolve()
    logs.mkdir(parents=True, exist_ok=True)
    broker_port, sip_port = free_port(), free_port()
    env = dict(os.environ,
               DIALER_BROKER_URL=f"redis://127.0.0.1:{broker_port}/0",
               DIALER_SIP_TRUNK=f"127.0.0.1:{sip_port}",
               DIALER_RTP_PORT_BASE=str(52000 + (broker_port % 20) * 200),
               DIALER_DATABASE_URL=db.url,
               # Its worker dials this rehearsal and nothing else, never a real campaign,
               # and refuses to start with a trunk off this machine.
               DIALER_SANDBOX="1", DIALER_SANDBOX_CAMPAIGN=str(rehearsal))
    # Nothing of production: no registrar, and the ACD is the private Redis (real agents
    # are never offered a rehearsal's calls; the personas' simulated agents are).
    for key in ("DIALER_SIP_REGISTRAR", "DIALER_SIP_USERNAME", "DIALER_SIP_PASSWORD",
                "DIALER_SIP_OUTBOUND_PROXY", "DIALER_ACD_URL"):
        env.pop(key, None)
    exe = [sys.executable, "-m", "dialer.cli"]
    with ExitStack() as stack:
        redis_proc = start_redis(env["DIALER_BROKER_URL"], logs / "redis")
        if redis_proc is not None:
            stack.callback(stop_process, redis_proc)
        sim_log, worker_log = logs / "simulator.log", logs / "worker.log"
        for log in (sim_log, worker_log):
            log.unlink(missing_ok=True)
        sim = spawn(exe + ["simulate", "--personas", str(path), "--port", str(sip_port),
                            "--rtp-port", str(int(env["DIALER_RTP_PORT_BASE"]) + 3000),
                            "--line", line.name], sim_log, env)
        stack.callback(stop_process, sim)
        work = spawn(exe + ["worker", "--processes", str(processes)], worker_log, env)
        stack.callback(stop_process, work, 30)
        wait_for_line(sim_log, '"event": "ready"', sim, 90)
        wait_for_line(worker_log, "ready.", work, 180)
        simulated_agents(env["DIALER_BROKER_URL"], path, sip_port)
        change_status(db, rehearsal, "start")
        end = time.monotonic() + timeout
        while progress(db, rehearsal)["status"] != "finished":
            if time.monotonic() > end:
                raise CampaignError("the dry-run did not finish within {timeout:.0f}s; "
                                    "see {logs}", timeout=timeout, logs=str(logs))
            if work.poll() is not None:
                raise CampaignError("the dry-run's worker stopped; see {log}",
                                    log=str(worker_log))
            time.sleep(0.5)


def rehearsal_report(db: Database, rehearsal_id: int,
                     personas: Path | None = None) -> dict[str, Any]:
    """The rehearsal's calls, one per persona, with every turn flagged where the robot
    fell back, reprompted or misunderstood."""
    from dialer.conversation.kit import load_kit

    report = campaign_report(db, rehearsal_id)
    with db.session() as s:
        c = s.get(Campaign, rehearsal_id)
        assert c is not None
        script_dir, original = c.script_dir, c.rehearsal_of
        fields = {ct.phone: ct.fields for ct in s.scalars(
            select(Contact).where(Contact.campaign_id == rehearsal_id))}
    _, cast = personas_for(script_dir, personas)
    nlu = load_kit(script_dir).nlu
    out = []
    flagged = 0
    for call in report["calls"]:
        persona = cast.get(call["phone"])
        said = [r.text for r in (persona.replies if persona else ()) if r.kind == "say"]
        expected = [nlu.parse(t)["intent"]["name"] for t in said]
        turns = _flagged_turns(call["turns"], said, expected)
        flagged += sum(bool(t["flags"]) for t in turns)
        expect = persona.expect if persona else None
        out.append({"persona": persona.name if persona else fields.get(call["phone"], {})
                    .get("persona", "?"), "phone": call["phone"],
                    "disposition": call["disposition"], "reason": call["reason"],
                    "end_node": call["end_node"], "turns": turns,
                    "flags": sum(bool(t["flags"]) for t in turns),
                    **_verdict(expect, call["disposition"], call["end_node"])})
    # A persona with an expectation whose call never happened fails too, once the
    # rehearsal is over (before, its call may still come).
    called = {c["phone"] for c in out}
    over = report["campaign"]["status"] in ("finished", "stopped")
    for number, persona in cast.items():
        if (over and persona.expect and persona.answer in CALLING_MODES
                and number not in called):
            out.append({"persona": persona.name, "phone": number, "disposition": None,
                        "reason": None, "end_node": None, "turns": [], "flags": 0,
                        **_verdict(persona.expect, None, None, Phrase("no call was made"))})
    return {"rehearsal": report["campaign"], "campaign_id": original,
            "line": rehearsal_line(report["campaign"]["name"]),
            "dispositions": report["dispositions"], "flagged_turns": flagged,
            "expectations": _tally(out), "calls": out}


def _flagged_turns(call_turns: list[dict[str, Any]], said: list[str],
                   expected: list[str]) -> list[dict[str, Any]]:
    """The call's turns, each with what the persona really said and its flags: phrases,
    so a page says them in the reader's language (intents as its words)."""
    turns, k, last_bot_node, asking = [], 0, None, False
    answers = [t.get("confirmation") for t in call_turns if t["speaker"] == "customer"]
    for t in call_turns:
        flags: list[Phrase] = []
        truth = None
        if t["speaker"] == "customer":
            truth = said[k] if k < len(said) else None
            if t["intent"] in (None, "nlu_fallback"):
                flags.append(Phrase("fell back: not understood"))
            elif k < len(expected) and expected[k] != t["intent"]:
                flags.append(Phrase("misunderstood: {said!r} means {expected}, understood "
                                    "{understood}", said=said[k],
                                    expected=Code(expected[k], "intent"),
                                    understood=Code(t["intent"], "intent")))
            asking = t.get("confirmation") == "asked"
            if asking:  # the robot was unsure before an irreversible action
                answer = answers[k + 1] if k + 1 < len(answers) else None
                intent = Code(t["intent"], "intent")
                flags.append(Phrase("asked to confirm {intent}: answered {answer}",
                                    intent=intent, answer=answer) if answer else
                             Phrase("asked to confirm {intent}: answered nothing",
                                    intent=intent))
            k += 1
        elif t["node"] is not None and t["node"] == last_bot_node and not asking:
            flags.append(Phrase("reprompted"))  # (the confirmation question is not)
        if t["speaker"] == "bot":
            last_bot_node, asking = t["node"], False
        turns.append({**t, "said": truth, "flags": flags})
    return turns


def _verdict(expect: Expectation | None, disposition: str | None, node: str | None,
             why: str | None = None) -> dict[str, Any]:
    """A call's pass/fail against its persona's `expect:` (passed None: nothing expected)."""
    if expect is None:
        return {"expected": None, "passed": None, "why": None}
    why = why or expect.check(disposition, node)
    return {"expected": {"disposition": expect.disposition, "node": expect.node},
            "passed": why is None, "why": why}


def _tally(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """How many calls had an expectation, how many met it; `ok` when all did."""
    checked = [c for c in calls if c["passed"] is not None]
    passed = sum(bool(c["passed"]) for c in checked)
    return {"checked": len(checked), "passed": passed, "failed": len(checked) - passed,
            "unchecked": len(calls) - len(checked), "ok": passed == len(checked)}
