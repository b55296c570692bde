"""End to end: the demo campaign through a real Celery worker on a real Redis, real SIP calls
on 127.0.0.1 to the customer simulator, vosk on the received RTP audio."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import subprocess
import time
import urllib.error
import urllib.request
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from celery import Celery
from sqlalchemy import func, select

from campaigns.db import Database
from campaigns.lifecycle import progress
from campaigns.models import CallAttempt, Turn
from dialer.web.words import intent_word
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
    # (tests/e2e/test_handoff.py has agents).
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
    with db.session() as s:
        ids = list(s.scalars(select(CallAttempt.id)))
        before = s.scalar(select(func.count(CallAttempt.id)))
    assert ids, "runs after the campaign test"
    sim_calls_before = stack["sim_log"].read_text().count('"event": "ringing"')
    app = Celery(broker=stack["broker"])
    for attempt_id in ids:
        # The stack's worker is a sandbox one (simulated customers): its own queue.
        app.send_task("dialer.place_call", args=[attempt_id], queue="calls.sandbox")
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


def test_a_production_worker_dials_the_campaigns_trunk_with_its_caller_id(
        stack: Any, tmp_path: Path) -> None:
    """A real (not dry-run) campaign on a production worker: it dials the trunk the
    campaign names from the admins' list (a second simulator), From one of the caller IDs
    that trunk allows; the workers' own trunk never rings, and the stack's sandbox worker,
    on the same broker, never takes it. Its voice reaches the worker with the call."""
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
    # A real campaign keeps its call window: the callee is put where it is 14:00 now.
    offset = 14 - datetime.now(UTC).hour
    zone = "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset else "")
    contacts = tmp_path / "one.csv"
    contacts.write_text(f"name,phone,timezone\n한지민,010-5555-0001,{zone}\n",
                        encoding="utf-8")
    first_before = stack["sim_log"].read_text().count('"event": "ringing"')
    sandbox_before = stack["worker_log"].read_text(errors="replace")
    with simulator(tmp_path, env, personas) as (port, second_log):
        run_cli(env, "trunk", "set", "second", "--host", f"127.0.0.1:{port}",
                "--caller-id", "+8215885555", "--caller-id", "+8215885556")
        refused = run_cli(env, "campaign", "create", "--name", "far trunk", "--script",
                          str(DEMO), "--csv", str(contacts), "--trunk", "192.0.2.1:5060",
                          check=False)
        assert refused.returncode != 0 and "not a trunk's name" in refused.stderr
        created = json.loads(run_cli(
            env, "campaign", "create", "--name", "own trunk", "--script", str(DEMO), "--csv",
            str(contacts), "--ring-timeout", "6", "--trunk", "second", "--caller-id",
            "+8215885556", "--voice", "gmw/en-us", "--json").stdout)
        cid = created["campaign_id"]
        run_cli(env, "campaign", "start", str(cid))
        production = dict(env, DIALER_RTP_PORT_BASE="48600")
        with celery_worker(tmp_path, production, processes=1, sandbox=False) as prod_log:
            wait_finished(env, cid, timeout=180)
        [ringing] = [ln for ln in second_log.read_text().splitlines()
                     if '"event": "ringing"' in ln]
        assert "sip:+8215885556@" in json.loads(ringing)["caller"], ringing
    report = json.loads(run_cli(env, "campaign", "report", str(cid), "--json").stdout)
    (call,) = report["calls"]
    assert call["sip_status"] == 200 and call["disposition"] == "not_interested", (
        [(t["speaker"], t["text"], t.get("intent")) for t in call["turns"]],
        second_log.read_text())
    assert stack["sim_log"].read_text().count('"event": "ringing"') == first_before
    log = prod_log.read_text(errors="replace")
    assert f"attempt {call['attempt_id']}: the campaign's voice gmw/en-us" in log
    sandbox_after = stack["worker_log"].read_text(errors="replace")[len(sandbox_before):]
    assert f"attempt {call['attempt_id']}" not in sandbox_after
    bad = run_cli(env, "campaign", "create", "--name", "bad voice", "--script", str(DEMO),
                  "--csv", str(contacts), "--voice", "klingon", check=False)
    assert bad.returncode != 0 and "not installed" in bad.stderr


PASSWORD = "a long password"


def test_the_analysts_pages_show_the_campaign_that_ran(stack: Any) -> None:
    """The dashboard, the call explorer, a call's page with its recording and the live
    wallboard, in headless Chromium, on the demo campaign that ran above: every chart's
    numbers are the report JSON's and the analytics' own. Screenshots in
    test-artifacts/browser/dashboard/."""
    from selenium.webdriver.common.by import By

    from campaigns import analytics
    from dialer.handoff.acd import Acd
    from tests.support.browser import Shots, chromium, log_in, until, web_server

    env, work = stack["env"], stack["work"]
    db = Database(f"sqlite:///{Path(env['DIALER_DATA_DIR']).resolve() / 'dialer.db'}")
    ids = {c["name"]: c["id"] for c in json.loads(
        run_cli(env, "campaign", "list", "--json").stdout)}
    cid = ids["e2e demo"]
    other = ids.get("own trunk", cid)  # the campaign of the test before, when it ran
    truth = analytics.dashboard(*analytics.load(db, [cid]), tz="UTC")
    assert truth["funnel"][0]["count"] == 6 and truth["metrics"]["conversions"] == 1
    for user, role in (("ana", "analyst"), ("mark", "marketing")):
        subprocess.run(dialer_cmd("user", "create", user, "--role", role, "--password-stdin"),
                       input=PASSWORD + "\n", env=env, text=True, check=True,
                       capture_output=True, timeout=60)
    (work / "analyst-browser").mkdir(exist_ok=True)
    (work / "marketing-browser").mkdir(exist_ok=True)
    # /metrics is closed to anonymous scrapers: Prometheus brings this token.
    env = dict(env, DIALER_METRICS_TOKEN="scrape-token-e2e")
    with web_server(work, env) as base, chromium(work / "analyst-browser") as b:
        shot = Shots(b, "dashboard")

        def js(script: str) -> Any:
            return b.execute_script(script)

        # -- the dashboard: every chart drawn from the report, the report the truth
        log_in(b, base, "ana", PASSWORD, f"/dashboard?campaign={cid}")
        until(lambda: js("return window.dashboardDrawn === true"), 30, "the charts")
        report = js("return window.dashboardReport")
        api = js(f"return fetch('/api/dashboard?campaign={cid}&tz=UTC').then(r => r.json())")
        for key in ("metrics", "funnel", "intents", "drop_off", "latency"):
            assert report[key] == api[key] == truth[key], key

        def chart(name: str, n: int = 0) -> list[Any]:
            return list(js(f"return Chart.getChart('chart-{name}').data.datasets[{n}].data"))

        def labels(name: str) -> list[Any]:
            return list(js(f"return Chart.getChart('chart-{name}').data.labels"))

        assert labels("funnel") == ["dialed", "answered", "human", "engaged", "converted"]
        assert chart("funnel") == [f["count"] for f in truth["funnel"]]
        assert chart("funnel")[:2] == [6, 4]  # busy and no answer were not answered
        assert labels("intents") == [i["intent"] for i in truth["intents"]]
        assert chart("intents") == [i["count"] for i in truth["intents"]]
        assert labels("drop-off") == [d["node"] for d in truth["drop_off"]]
        assert chart("drop-off") == [d["count"] for d in truth["drop_off"]]
        assert chart("latency") == truth["latency"]["counts"]
        assert sum(chart("latency")) == len(
            [t for c in json.loads(run_cli(env, "campaign", "report", str(cid),
                                           "--json").stdout)["calls"]
             for t in c["turns"] if t["speaker"] == "customer" and t["latency_ms"]])
        series = js("return Chart.getChart('chart-over-time').data.datasets"
                    ".map(d => [d.label, d.data])")
        assert {name: data for name, data in series} == report["over_time"]["series"]
        assert sum(sum(d) for _, d in series) == 6
        cells = js("return [...document.querySelectorAll('#heatmap tbody td')]"
                   ".map(td => Number(td.dataset.count))")
        assert len(cells) == 7 * 24 and sum(cells) == 6
        shown = {el.get_attribute("data-metric"): el.text
                 for el in b.find_elements(By.CSS_SELECTOR, "[data-metric]")}
        assert shown["attempts"] == "6"
        assert shown["connect_rate"] == f"{100 * truth['metrics']['connect_rate']:.1f} %"
        tip = b.find_element(By.CSS_SELECTOR, "[data-metric=abandon_rate]").find_element(
            By.XPATH, "..").get_attribute("title")
        assert tip == analytics.DEFINITIONS["abandon_rate"]
        shot("dashboard")

        # side by side with another campaign
        b.get(f"{base}/dashboard?campaign={cid}&compare={other}")
        until(lambda: js("return window.dashboardDrawn === true"), 30, "the comparison")
        assert chart("compare", 0) == chart("funnel")
        assert chart("compare", 1) == [f["count"] for f in analytics.funnel(
            *analytics.load(db, [other]))]
        shot("compare")

        # -- the call explorer: masked numbers for an analyst, the call's page
        b.get(f"{base}/calls?phone=0001&campaign={cid}")
        rows = b.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        assert len(rows) == 1, b.page_source[:2000]
        phone = rows[0].find_element(By.CSS_SELECTOR, ".phone").text
        assert phone.endswith("0001") and "1011110001" not in phone and "•" in phone
        shot("calls")
        rows[0].find_element(By.CSS_SELECTOR, "a").click()
        until(lambda: b.find_elements(By.ID, "transcript"), 20, "the call's page")
        call = js("return fetch(location.pathname.replace('/calls/', '/api/calls/'))"
                  ".then(r => r.json())")
        assert call["disposition"] == "interested" and call["phone"] == phone
        turns = b.find_elements(By.CSS_SELECTOR, "#transcript tbody tr")
        assert len(turns) == len(call["turns"]) >= 5
        said = [t for t in call["turns"] if t["speaker"] == "customer"]
        assert said[1]["text"] == "가격이 얼마에요" and said[1]["text"] in turns[
            call["turns"].index(said[1])].text
        assert intent_word(said[1]["intent"]) in b.find_element(By.ID, "transcript").text
        until(lambda: js("return document.getElementById('recording').readyState >= 1"),
              20, "the recording's header in the browser")
        assert js("return document.getElementById('recording').duration") > 5
        shot("call")

        # -- the wallboard: pushed, and at once on an ACD change
        b.get(f"{base}/wallboard")
        until(lambda: js("return window.wallboardUpdates") >= 1, 20, "the first snapshot")
        board = js("return window.wallboardLast")
        recent = analytics.metrics(*analytics.load(
            db, None, analytics.pd.Timestamp.now(tz="UTC") - analytics.pd.Timedelta(
                minutes=15)))
        assert board["last_15_min"]["attempts"] == recent["attempts"] >= 1
        assert board["acd"] is True and board["queue_length"] == 0
        acd = Acd.from_url(stack["broker"])
        acd.enqueue("wallboard-test", "e2e", info={"campaign": "e2e demo"})
        try:
            until(lambda: b.find_element(By.CSS_SELECTOR, "[data-board=queue_length]").text
                  == "1", 5, "the queued call on the wallboard")
            shot("wallboard")
        finally:
            acd.abandon("wallboard-test")
        until(lambda: b.find_element(By.CSS_SELECTOR, "[data-board=queue_length]").text
              == "0", 5, "the queue empty again")

        # -- CDR: the XLSX the page's button downloads, opened with openpyxl
        def ms(t: datetime) -> datetime:
            return t.replace(microsecond=t.microsecond // 1000 * 1000)

        b.get(f"{base}/cdr")
        b.find_element(By.ID, "download-xlsx")
        shot("cdr")
        data = js("return fetch('/api/cdr.xlsx?campaign=" + str(cid) + "').then(r => "
                  "r.arrayBuffer()).then(b => btoa(String.fromCharCode(...new Uint8Array(b))))")
        sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(data))).active
        assert sheet is not None
        header, *cdr = [list(r) for r in sheet.iter_rows(values_only=True)]
        rows = {r[header.index("call_id")]: dict(zip(header, r, strict=True)) for r in cdr}
        with db.session() as s:
            attempts = s.scalars(select(CallAttempt).where(
                CallAttempt.campaign_id == cid)).all()
            assert set(rows) == {a.id for a in attempts} and len(rows) == 6
            for a in attempts:
                row = rows[a.id]
                assert (row["disposition"], row["sip_status"]) == (a.disposition, a.sip_status)
                assert row["callee"].startswith("•") and row["campaign"] == "e2e demo"
                talk = ((ms(a.ended_at) - ms(a.answered_at)).total_seconds()  # CDR: to the ms
                        if a.answered_at and a.ended_at else 0)
                assert row["billable_s"] == math.ceil(talk)
        b.get(f"{base}/cdr")
        assert "xlsx" in b.find_element(By.ID, "recent-exports").text

        # -- Prometheus: the campaign's calls from the database, the worker's turn
        # timings from Redis (every customer turn of every call of this module so far)
        from prometheus_client.parser import text_string_to_metric_families

        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(f"{base}/metrics", timeout=10)
        scrape = urllib.request.Request(
            f"{base}/metrics", headers={"Authorization": "Bearer scrape-token-e2e"})
        with urllib.request.urlopen(scrape, timeout=10) as r:
            families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
        dialed = {s.labels["campaign"]: s.value
                  for s in families["dialer_calls_dialed"].samples}
        assert dialed["e2e demo"] == 6
        with db.session() as s:
            turns = int(s.scalar(select(func.count(Turn.id)).where(
                Turn.speaker == "customer", Turn.latency_ms.is_not(None))) or 0)
        latency = {s.name: s.value for s in families["dialer_turn_latency_seconds"].samples
                   if not s.labels.get("le")}
        assert latency["dialer_turn_latency_seconds_count"] == turns > 0
        assert 0.2 < latency["dialer_turn_latency_seconds_sum"] / turns < 3.0
        assert {s.labels["component"]: s.value
                for s in families["dialer_up"].samples} == {"db": 1.0, "acd": 1.0}

    # marketing sees whole numbers but not the recording; the admin sees the export
    subprocess.run(dialer_cmd("user", "create", "root", "--role", "admin",
                              "--password-stdin"), input=PASSWORD + "\n", env=env, text=True,
                   check=True, capture_output=True, timeout=60)

    with web_server(work, env) as base, chromium(work / "marketing-browser") as m:
        log_in(m, base, "mark", PASSWORD, f"/calls?phone=0001&campaign={cid}")
        assert m.find_element(By.CSS_SELECTOR, "#results .phone").text == "+821011110001"
        m.find_element(By.CSS_SELECTOR, "#results a").click()
        until(lambda: m.find_elements(By.ID, "no-recording"), 20, "the call, no player")
        status = m.execute_script(
            "return fetch(location.pathname.replace('/calls/', '/api/calls/') + "
            "'/recording').then(r => r.status)")
        assert status == 403
        m.find_element(By.CSS_SELECTOR, "form.who button").click()
        until(lambda: m.find_elements(By.NAME, "username"), 20, "logged out")
        log_in(m, base, "root", PASSWORD, "/admin/audit")
        log = m.find_element(By.ID, "audit").text
        assert "ana" in log and "xlsx" in log and "Analyst" in log
        Shots(m, "audit-log")("audit")
