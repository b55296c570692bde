"""Human handoff end to end over real SIP through Kamailio: a Celery worker calls a
simulated customer through the trunk; the customer asks for a person; the worker finds a
ready agent in the ACD (Redis) and rings the agent's phone, which registered at Kamailio;
the two legs are bridged in the worker, audio flows both ways (the agent's greeting is
recognised in what the customer heard, the customer's words reach the agent's phone),
and both sides keep being transcribed. With no agent ready, the robot apologises,
promises a callback, and the call counts as abandoned."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from campaigns.db import Database
from campaigns.lifecycle import progress
from dialer.handoff.acd import Acd
from dialer.handoff.desk import Transcriber
from nlu.training_data import load_training_data
from tests.support.kamailio import kamailio_trunk
from tests.support.procs import (
    DEMO,
    celery_worker,
    dialer_cmd,
    free_udp_tcp_port,
    redis_server,
    spawn,
    stop,
    wait_for,
)
from voices.asr import VoskAsr, load_model, resolve_model_path
from voices.audio import read_wav

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(600),
    pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio is not installed"),
]

GREETING = "네 상담원 김지수 입니다"  # recognised exactly through TTS -> RTP -> vosk
CUSTOMERS = """\
personas:
  - name: wants a person
    number: "+821077770001"
    ring_s: 0.5
    replies:
      - say: 담당자 연결 해 주세요
      - {say: 요금제 문의 드리려고요, after: 9}
  - name: nobody free
    number: "+821077770002"
    ring_s: 0.5
    replies:
      - say: 담당자 연결 해 주세요
  - name: console customer
    number: "+821077770003"
    ring_s: 0.5
    replies:
      - say: 어디 세요
      - say: 담당자 연결 해 주세요
      - {say: 요금제 문의 드리려고요, after: 7}
      - {say: 네 감사합니다, after: 2}
  - name: transferred
    number: "+821077770004"
    ring_s: 0.5
    replies:
      - say: 담당자 연결 해 주세요
"""
AGENT_PHONE = f"""\
personas:
  - name: agent phone
    number: agent1
    answer: agent
    ring_s: 0.3
    talk_s: 14
    greeting: {GREETING}
"""
SUPERVISOR_PHONE = """\
personas:
  - name: supervisor phone
    number: sup1
    answer: agent
    ring_s: 0.3
    greeting: 팀장입니다
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("handoff")
    script = work / "script"
    script.mkdir()
    (script / "nlu.yml").write_bytes((DEMO / "nlu.yml").read_bytes())
    text = (DEMO / "script.yml").read_text(encoding="utf-8")
    (script / "script.yml").write_text(
        text.replace("settings:\n", "settings:\n  handoff_wait_s: 5\n", 1), encoding="utf-8")
    refer = work / "refer-script"  # the same campaign, for a trunk that wants REFER
    refer.mkdir()
    (refer / "nlu.yml").write_bytes((DEMO / "nlu.yml").read_bytes())
    (refer / "script.yml").write_text(text.replace(
        "settings:\n", "settings:\n  handoff_wait_s: 5\n  handoff_transfer: refer\n", 1),
        encoding="utf-8")
    (work / "customers.yml").write_text(CUSTOMERS, encoding="utf-8")
    (work / "agent.yml").write_text(AGENT_PHONE, encoding="utf-8")
    (work / "supervisor.yml").write_text(SUPERVISOR_PHONE, encoding="utf-8")
    heard = work / "heard"
    env = dict(os.environ, DIALER_DATA_DIR=str(work / "data"),
               DIALER_PROMPT_CACHE_DIR=str(work / "cache"), DIALER_RTP_PORT_BASE="44000")
    customer_port = free_udp_tcp_port()
    with redis_server(work / "redis") as broker, \
            kamailio_trunk(work / "kamailio", target=f"127.0.0.1:{customer_port}",
                           agents=("agent1", "sup1")) as trunk:
        env["DIALER_BROKER_URL"] = broker
        customers_log, phone_log = work / "customers.log", work / "agent-phone.log"
        customers = spawn(dialer_cmd("simulate", "--personas", str(work / "customers.yml"),
                                     "--port", str(customer_port), "--rtp-port", "45000",
                                     "--record-dir", str(heard)), customers_log, env)
        phone = spawn(dialer_cmd("simulate", "--personas", str(work / "agent.yml"), "--port",
                                 str(free_udp_tcp_port()), "--rtp-port", "45400",
                                 "--registrar", f"{trunk.host}:{trunk.port}",
                                 "--username", "agent1", "--password", trunk.password),
                      phone_log, env)
        sup_log = work / "supervisor-phone.log"
        sup = spawn(dialer_cmd("simulate", "--personas", str(work / "supervisor.yml"), "--port",
                               str(free_udp_tcp_port()), "--rtp-port", "45600",
                               "--registrar", f"{trunk.host}:{trunk.port}",
                               "--username", "sup1", "--password", trunk.password),
                    sup_log, env)
        try:
            for proc, log in ((customers, customers_log), (phone, phone_log), (sup, sup_log)):
                wait_for(lambda log=log: '"event": "ready"' in log.read_text(errors="replace"),
                         90, "simulator", proc, log)
            trunk.wait_for_log("TRUNK REGISTER-OK aor=sip:agent1", 30)
            trunk.wait_for_log("TRUNK REGISTER-OK aor=sip:sup1", 30)
            env.update(DIALER_SIP_TRUNK=f"{trunk.host}:{trunk.port}",
                       DIALER_SIP_REGISTRAR=trunk.uri, DIALER_SIP_USERNAME=trunk.username,
                       DIALER_SIP_PASSWORD=trunk.password, DIALER_SIP_CALLER_ID=trunk.username)
            with celery_worker(work, env, processes=1) as worker_log:
                yield {"env": env, "work": work, "script": script, "refer_script": refer,
                       "broker": broker,
                       "trunk": trunk, "heard": heard, "phone_log": phone_log,
                       "customers_log": customers_log, "worker_log": worker_log,
                       "sup_log": sup_log}
        finally:
            stop(sup)
            stop(phone)
            stop(customers)


def start_campaign(stack: dict[str, Any], name: str, phone: str,
                   script: str = "script") -> int:
    env, work = stack["env"], stack["work"]
    csv = work / f"{name}.csv"
    csv.write_text(f"name,phone\n한지민,{phone}\n", encoding="utf-8")
    created = subprocess.run(dialer_cmd("campaign", "create", "--name", name, "--script",
                                        str(stack[script]), "--csv", str(csv), "--dry-run",
                                        "--ring-timeout", "10", "--json"),
                             env=env, capture_output=True, text=True, timeout=120, check=False)
    assert created.returncode == 0, created.stderr[-2000:]
    cid = int(json.loads(created.stdout)["campaign_id"])
    subprocess.run(dialer_cmd("campaign", "start", str(cid)), env=env, check=True,
                   capture_output=True, timeout=60)
    return cid


def finished_call(stack: dict[str, Any], cid: int) -> dict[str, Any]:
    env = stack["env"]
    db = Database(f"sqlite:///{Path(env['DIALER_DATA_DIR']).resolve() / 'dialer.db'}")
    end = time.monotonic() + 180
    while progress(db, cid)["status"] != "finished":
        assert time.monotonic() < end, stack["worker_log"].read_text(errors="replace")[-4000:]
        time.sleep(1)
    report = subprocess.run(dialer_cmd("campaign", "report", str(cid), "--json"), env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    (call,) = json.loads(report.stdout)["calls"]
    call["campaign_id"] = cid
    return dict(call)


def run_campaign(stack: dict[str, Any], name: str, phone: str,
                 script: str = "script") -> dict[str, Any]:
    return finished_call(stack, start_campaign(stack, name, phone, script))


# The grammar the greeting is checked with: it and every phrase of the demo's NLU, so the
# robot's prompts and the hold music read as other phrases, never as the greeting.
NLU_PHRASES = tuple(e.text for e in load_training_data(DEMO / "nlu.yml").examples)


def heard_phrases(wav: Path, phrases: tuple[str, ...]) -> list[str]:
    """What the recogniser makes of a recording, allowed only `phrases`."""
    pcm, rate = read_wav(wav)
    assert rate == 16000, rate
    out: list[str] = []
    asr = VoskAsr(load_model(resolve_model_path(None, "ko")))
    tr = Transcriber(asr, lambda text, *_: out.append(text), phrases=phrases)
    at = 0.0
    for i in range(0, len(pcm) - 640, 640):
        tr.feed(pcm[i:i + 640], at)
        at += 0.02
    tr.close()
    return out


def test_a_customer_asking_for_a_person_talks_to_the_ready_agent(
        stack: dict[str, Any]) -> None:
    acd = Acd.from_url(stack["broker"])
    trunk = stack["trunk"]
    acd.login("kim", name="김지수", sip_uri=f"sip:agent1@{trunk.host}:{trunk.port}",
              auto_accept=True)
    acd.ready("kim")
    call = run_campaign(stack, "handoff connected", "010-7777-0001")

    assert call["disposition"] == "handoff" and call["handoff_result"] == "connected", call
    assert call["agent"] == "kim" and call["reason"] == "customer intent request_human"
    decided = datetime.fromisoformat(call["handoff_at"])
    ringing = datetime.fromisoformat(call["agent_ringing_at"])
    answered = datetime.fromisoformat(call["agent_connected_at"])
    ring_s = (ringing - decided).total_seconds()
    print(json.dumps({"escalation_to_agent_ringing_s": ring_s,
                      "escalation_to_agent_answer_s": (answered - decided).total_seconds()}))
    assert 0 < ring_s < 3.0, call  # goal 1 s; bench/handoff.py measures it
    # The trunk routed the agent leg to the phone's registered contact.
    assert stack["trunk"].trunk_lines("INVITE-AGENT")
    # Both sides were transcribed after the bridge: the agent's leg too.
    speakers = [t["speaker"] for t in call["turns"] if t["node"] == "agent"]
    assert "agent" in speakers, call["turns"]
    # Audio both ways: the agent's greeting is in what the customer heard...
    (wav,) = stack["heard"].glob("call-*-+821077770001.wav")
    heard_lines = heard_phrases(wav, (GREETING, *NLU_PHRASES))
    assert any(GREETING in line for line in heard_lines), (wav, heard_lines)
    # ...and the customer's words (said 9 s after asking) reached the agent's phone.
    events = [json.loads(ln) for ln in stack["phone_log"].read_text().splitlines()
              if ln.startswith("{")]
    heard = next(e for e in events if e["event"] == "agent heard")
    assert heard["heard_ms"] > 800, heard
    # The agent's call ended: wrap-up, with the call kept for the disposition form.
    agent = acd.agent("kim")
    assert agent["state"] == "wrap_up" and agent["call"] == str(call["attempt_id"]), agent


def test_with_no_agent_ready_the_robot_promises_a_callback(stack: dict[str, Any]) -> None:
    acd = Acd.from_url(stack["broker"])
    acd.login("kim", name="김지수", sip_uri="sip:agent1@127.0.0.1")
    acd.not_ready("kim", "break")
    call = run_campaign(stack, "handoff abandoned", "010-7777-0002")

    assert call["disposition"] == "callback" and call["handoff_result"] == "abandoned", call
    assert "no agent within 5s" in call["reason"], call["reason"]
    assert call["callback_at"] and call["agent"] is None
    bot = [t for t in call["turns"] if t["speaker"] == "bot"]
    assert bot[-1]["node"] == "no_agent" and "다시 전화드리겠습니다" in bot[-1]["text"], bot
    assert acd.stats(f"campaign-{call['campaign_id']}") == {"abandoned": 1}


PASSWORD = "correct horse battery"


def test_the_agent_console_pops_the_call_and_the_supervisor_listens_in(
        stack: dict[str, Any]) -> None:
    """In headless Chromium: an agent logs in to the queue and goes ready; the customer
    asks for a person; the screen pop shows who, why and the transcript; the agent
    accepts, the phone rings, the transcript goes on with both sides; a supervisor
    (second browser) sees the call and listens in from their phone; after the call the
    agent saves the disposition form and is ready again. Screenshots in
    test-artifacts/browser/agent-console/."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from tests.support.browser import Shots, chromium, log_in, until, web_server

    env, work, trunk = stack["env"], stack["work"], stack["trunk"]
    acd = Acd.from_url(stack["broker"])
    if acd.r.exists(acd._agent("kim")) and acd.agent("kim")["state"] != "offline":
        acd.logout("kim")  # the auto-accepting agent of the first test is gone home
    for user, role, phone in (("jisu", "agent", "agent1"), ("boss", "supervisor", "sup1")):
        subprocess.run(dialer_cmd("user", "create", user, "--role", role, "--password-stdin",
                                  "--sip-uri", f"sip:{phone}@{trunk.host}:{trunk.port}"),
                       input=PASSWORD + "\n", env=env, text=True, check=True,
                       capture_output=True, timeout=60)

    for d in ("agent-browser", "supervisor-browser"):
        (work / d).mkdir(exist_ok=True)
    with web_server(work, env) as base, chromium(work / "agent-browser") as b, \
            chromium(work / "supervisor-browser") as sb:
        shot, sshot = Shots(b, "agent-console"), Shots(sb, "supervisor")

        def state() -> str:
            return str(b.find_element(By.ID, "state").get_attribute("data-state"))

        log_in(b, base, "jisu", PASSWORD, "/agent")
        until(lambda: state() == "offline", 20, "the console's first state")
        b.find_element(By.ID, "login").click()
        until(lambda: state() == "not_ready", 20, "logged in to the queue")
        b.find_element(By.ID, "ready").click()
        until(lambda: state() == "ready", 20, "ready")
        shot("ready")

        log_in(sb, base, "boss", PASSWORD, "/supervisor")
        until(lambda: sb.find_elements(By.CSS_SELECTOR, "#agents tr[data-agent=jisu]"
                                       "[data-state=ready]"), 20, "jisu on the floor")
        sshot("floor")

        cid = start_campaign(stack, "console", "010-7777-0003")
        until(lambda: not b.find_element(By.ID, "pop").get_attribute("hidden")
              and b.find_element(By.ID, "pop-title").text == "Call offered", 120,
              "the screen pop", every=0.5)
        pop = b.find_element(By.ID, "pop")
        # What the customer meant and why a person, in words (dialer/web/words.py).
        until(lambda: "Asked for a person" in pop.text, 10, "the intents in the pop")
        facts = b.find_element(By.ID, "facts").text
        assert "한지민 +821077770003" in facts and "console" in facts, facts
        assert "The customer: asked for a person" in facts, facts
        assert "request_human" not in pop.text, pop.text
        lines = b.find_elements(By.CSS_SELECTOR, "#transcript tr")
        assert [ln.get_attribute("class") for ln in lines][:2] == ["bot", "customer"], \
            [ln.text for ln in lines]
        shot("screen-pop")
        b.find_element(By.ID, "accept").click()
        until(lambda: b.find_element(By.ID, "pop-title").text == "On the call", 30,
              "on the call")
        # The agent's greeting, heard by the worker on the agent leg, joins the transcript.
        until(lambda: b.find_elements(By.CSS_SELECTOR, "#transcript tr.agent"), 30,
              "the agent's words in the live transcript")
        shot("on-call")

        listen = until(lambda: sb.find_elements(By.XPATH, "//table[@id='calls']//tr"
                                                 "[td[4]='connected']//button[.='listen']"),
                       20, "the live call on the supervisor's page")
        sshot("live-call")
        listen[0].click()
        until(lambda: '"event": "agent answered"' in stack["sup_log"].read_text(), 30,
              "the supervisor's phone answering")

        until(lambda: not b.find_element(By.ID, "wrap-up").get_attribute("hidden"), 60,
              "the wrap-up form after the agent hung up", every=0.5)
        assert state() == "wrap_up"
        Select(b.find_element(By.ID, "outcome")).select_by_value("resolved")
        b.find_element(By.ID, "notes").send_keys("요금제 문의, 안내 완료")
        shot("wrap-up")
        b.find_element(By.CSS_SELECTOR, "#disposition button[type=submit]").click()
        until(lambda: state() == "ready", 20, "ready again after the form")
        shot("ready-again")

    call = finished_call(stack, cid)
    assert call["handoff_result"] == "connected" and call["agent"] == "jisu", call
    assert call["agent_disposition"] == "resolved"
    assert call["agent_notes"] == "요금제 문의, 안내 완료"
    agent_lines = [t for t in call["turns"] if t["node"] == "agent"]
    assert {t["speaker"] for t in agent_lines} == {"agent", "customer"}, agent_lines
    # The supervisor heard the call (listen: both sides reach their phone).
    events = [json.loads(ln) for ln in stack["sup_log"].read_text().splitlines()
              if ln.startswith("{")]
    until_heard = [e for e in events if e["event"] == "agent heard"]
    assert until_heard and until_heard[-1]["heard_ms"] > 500, events


def test_a_blind_transfer_by_refer_through_kamailio(stack: dict[str, Any]) -> None:
    """A campaign whose trunk wants REFER: the worker asks the customer's side to call
    the agent itself; Kamailio relays the in-dialog REFER and the transferred INVITE to
    the agent's registered phone; the robot's leg ends; customer and agent hear each
    other."""
    acd, trunk = Acd.from_url(stack["broker"]), stack["trunk"]
    for agent in acd.agents():
        if agent["state"] in ("ready", "wrap_up"):
            acd.not_ready(agent["id"], "break")
    acd.login("kim", name="김지수", sip_uri=f"sip:agent1@{trunk.host}:{trunk.port}",
              auto_accept=True)
    acd.ready("kim")
    call = run_campaign(stack, "handoff by refer", "010-7777-0004", script="refer_script")

    assert call["disposition"] == "handoff" and call["handoff_result"] == "transferred", call
    assert call["agent"] == "kim" and call["agent_connected_at"], call
    assert any(" REFER " in line for line in trunk.trunk_lines("IN-DIALOG")), \
        trunk.log_text()[-3000:]
    assert trunk.trunk_lines("INVITE-TRANSFERRED"), trunk.log_text()[-3000:]
    def transferred() -> list[dict[str, Any]]:
        return [e for e in (json.loads(ln) for ln in stack["customers_log"].read_text()
                            .splitlines() if ln.startswith("{"))
                if e.get("sim") == "transferred"]

    # The robot is gone from the call; customer and agent talk on until the agent
    # hangs up (14 s after answering).
    wait_for(lambda: any(e["event"] == "transfer heard" for e in transferred()), 40,
             "the transferred call to end")
    events = transferred()
    kinds = [e["event"] for e in events]
    assert "transferred" in kinds and "transfer answered" in kinds, events
    heard = [e for e in events if e["event"] == "transfer heard"]
    assert heard and heard[-1]["heard_ms"] > 800, events  # the agent's greeting
    (wav,) = stack["heard"].glob("call-*-+821077770004-transferred.wav")
    lines = heard_phrases(wav, (GREETING, *NLU_PHRASES))
    assert any(GREETING in line for line in lines), (wav, lines)
    phone = [json.loads(ln) for ln in stack["phone_log"].read_text().splitlines()
             if ln.startswith("{")]
    assert [e for e in phone if e["event"] == "agent heard"][-1]["heard_ms"] > 500, phone
    assert acd.agent("kim")["state"] == "wrap_up"
