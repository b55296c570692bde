"""End to end: the demo campaign through a real Celery worker on a real Redis, real SIP calls
on 127.0.0.1 to the customer simulator, vosk on the received RTP audio."""

from __future__ import annotations

import json
import os
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from campaigns.db import Database
from campaigns.service import progress
from tests.support.procs import DEMO, celery_worker, dialer_cmd, redis_server, simulator

pytestmark = pytest.mark.e2e


def run_cli(env: dict[str, str], *args: str,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(dialer_cmd(*args), env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"dialer {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("e2e")
    with redis_server(work / "redis") as broker:
        env = dict(os.environ, DIALER_DATA_DIR=str(work / "data"), DIALER_BROKER_URL=broker,
                   DIALER_RTP_PORT_BASE="47000", DIALER_PROMPT_CACHE_DIR=str(work / "cache"))
        with simulator(work, env) as (sim_port, sim_log):
            env["DIALER_SIP_TRUNK"] = f"127.0.0.1:{sim_port}"
            with celery_worker(work, env, processes=2) as worker_log:
                yield {"env": env, "work": work, "broker": broker, "sim_log": sim_log,
                       "worker_log": worker_log}


def wait_finished(env: dict[str, str], campaign_id: int, timeout: float) -> None:
    db = Database(f"sqlite:///{Path(env['DIALER_DATA_DIR']).resolve() / 'dialer.db'}")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if progress(db, campaign_id)["status"] == "finished":
            return
        time.sleep(1)
    raise AssertionError(f"campaign {campaign_id} not finished: {progress(db, campaign_id)}")


def test_demo_campaign_runs_to_final_dispositions(stack: Any) -> None:
    env = stack["env"]
    created = json.loads(run_cli(env, "campaign", "create", "--name", "e2e demo", "--script",
                                 str(DEMO), "--csv", str(DEMO / "contacts.csv"), "--region",
                                 "KR", "--ring-timeout", "6", "--dry-run", "--json").stdout)
    assert created["accepted"] == 6 and created["rejected"] == 1
    assert created["errors"][0]["row"] == 8 and created["errors"][0]["value"] == "12345"
    cid = created["campaign_id"]
    run_cli(env, "campaign", "start", str(cid))
    wait_finished(env, cid, timeout=420)

    report = json.loads(run_cli(env, "campaign", "report", str(cid), "--json").stdout)
    calls = {c["phone"]: c for c in report["calls"]}
    assert len(calls) == 6, "every contact was called exactly once"
    assert all(c["status"] == "done" for c in report["contacts"])

    def intents(phone: str) -> list[str]:
        return [t["intent"] for t in calls[phone]["turns"] if t["speaker"] == "customer"]

    interested = calls["+821011110001"]
    assert interested["disposition"] == "interested", interested
    assert intents("+821011110001") == ["affirm", "ask_price", "affirm", "affirm"]
    heard = [t["text"] for t in interested["turns"] if t["speaker"] == "customer"]
    assert heard[1] == "가격이 얼마에요"  # recognised by vosk from the RTP audio
    assert interested["sip_status"] == 200 and interested["duration_s"] > 5
    bot_latencies = [t["latency_ms"] for t in interested["turns"]
                     if t["speaker"] == "customer" and t["latency_ms"] is not None]
    assert len(bot_latencies) >= 3 and all(0 < ms < 3000 for ms in bot_latencies)

    declined = calls["+821011110002"]
    assert declined["disposition"] == "not_interested"
    assert declined["reason"] == "too_expensive"
    assert calls["+821011110003"]["disposition"] == "not_interested"
    assert "ask_price" in intents("+821011110003")

    # Nobody is logged in at the ACD: not kept waiting, a callback is promised at once
    # (tests/test_e2e_handoff.py has agents).
    human = calls["+821011110004"]
    assert human["disposition"] == "callback" and human["handoff"] is True, human
    assert human["handoff_result"] == "abandoned" and human["callback_at"], human
    assert human["reason"].startswith("customer intent request_human; no agent logged in")
    assert human["turns"][-1]["node"] == "no_agent", human["turns"]
    assert intents("+821011110004")[-1] == "request_human"

    no_answer, busy = calls["+821011110005"], calls["+821011110006"]
    assert (no_answer["disposition"], no_answer["sip_status"]) == ("no_answer", 487)
    assert (busy["disposition"], busy["sip_status"]) == ("busy", 486)
    assert not no_answer["turns"] and not busy["turns"]

    with wave.open(interested["recording"]) as w:  # both sides of the call, mixed
        assert w.getframerate() == 16000
        assert w.getnframes() / w.getframerate() > interested["duration_s"] - 2


def test_redelivered_place_call_never_dials_twice(stack: Any) -> None:
    """Send place_call again for every finished attempt through the real broker."""
    env = stack["env"]
    db = Database(f"sqlite:///{Path(env['DIALER_DATA_DIR']).resolve() / 'dialer.db'}")
    from sqlalchemy import func, select

    from campaigns.models import CallAttempt

    with db.session() as s:
        ids = list(s.scalars(select(CallAttempt.id)))
        before = s.scalar(select(func.count(CallAttempt.id)))
    assert ids, "runs after the campaign test"
    sim_calls_before = stack["sim_log"].read_text().count('"event": "ringing"')
    app = Celery(broker=stack["broker"])
    for attempt_id in ids:
        app.send_task("dialer.place_call", args=[attempt_id], queue="calls")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _skipped(stack["worker_log"]) >= len(ids):
            break
        time.sleep(0.5)
    assert _skipped(stack["worker_log"]) >= len(ids)
    with db.session() as s:
        assert s.scalar(select(func.count(CallAttempt.id))) == before
    assert stack["sim_log"].read_text().count('"event": "ringing"') == sim_calls_before


def _skipped(log: Path) -> int:
    return log.read_text(errors="replace").count("'skipped': 'already taken'")


def test_a_campaign_dials_through_its_own_trunk_with_its_own_voice(
        stack: Any, tmp_path: Path) -> None:
    """The workers' trunk is the first simulator; this campaign names a second one, and
    only the second rings. Its voice reaches the worker with the call."""
    env = stack["env"]
    personas = tmp_path / "personas.yml"
    personas.write_text("""\
personas:
  - name: second trunk
    number: "+821055550001"
    ring_s: 0.3
    replies:
      - say: 아니요 됐어요
      - say: 너무 비싼 데요
      - say: 아니요 됐어요
""", encoding="utf-8")  # the third reply is spare: one reply misheard still ends the call
    contacts = tmp_path / "one.csv"
    contacts.write_text("name,phone\n한지민,010-5555-0001\n", encoding="utf-8")
    first_before = stack["sim_log"].read_text().count('"event": "ringing"')
    with simulator(tmp_path, env, personas) as (port, second_log):
        created = json.loads(run_cli(
            env, "campaign", "create", "--name", "own trunk", "--script", str(DEMO), "--csv",
            str(contacts), "--ring-timeout", "6", "--dry-run", "--trunk", f"127.0.0.1:{port}",
            "--voice", "gmw/en-us", "--json").stdout)
        cid = created["campaign_id"]
        run_cli(env, "campaign", "start", str(cid))
        wait_finished(env, cid, timeout=180)
        assert '"event": "ringing"' in second_log.read_text()
    report = json.loads(run_cli(env, "campaign", "report", str(cid), "--json").stdout)
    (call,) = report["calls"]
    assert call["sip_status"] == 200 and call["disposition"] == "not_interested", (
        [(t["speaker"], t["text"], t.get("intent")) for t in call["turns"]],
        second_log.read_text())
    assert stack["sim_log"].read_text().count('"event": "ringing"') == first_before
    log = stack["worker_log"].read_text(errors="replace")
    assert f"attempt {call['attempt_id']}: the campaign's voice gmw/en-us" in log
    bad = run_cli(env, "campaign", "create", "--name", "bad voice", "--script", str(DEMO),
                  "--csv", str(contacts), "--voice", "klingon", check=False)
    assert bad.returncode != 0 and "not installed" in bad.stderr
