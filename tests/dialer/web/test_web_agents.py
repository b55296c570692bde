"""The agent console's and the supervisor's API on a real Redis (the ACD) and a real
database: presence, the screen pop's data, accept and reject, the disposition form
(stored with the call, a callback scheduled, refusals that say why), and a supervisor's
listen-in command reaching the call's worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns.models import CallAttempt, Contact
from campaigns.settings import CampaignSettings
from campaigns.statuses import ContactStatus
from campaigns.users import create_user
from dialer.handoff.acd import Acd
from dialer.web.app import create_app
from tests.support import calls
from tests.support.procs import redis_server

PASSWORD = "a long password"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("agents-web")
    with redis_server(work / "redis") as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", url)
        app = create_app(CampaignSettings(data_dir=work / "data"))
        db = app.state.db
        create_user(db, "jisu", PASSWORD, "agent", "sip:agent1@127.0.0.1:5999", "billing")
        create_user(db, "nophone", PASSWORD, "agent")
        create_user(db, "boss", PASSWORD, "supervisor", "sip:sup1@127.0.0.1:5999")
        yield {"app": app, "db": db, "acd": Acd.from_url(url), "work": work, "acd_url": url}


@pytest.fixture(autouse=True)
def empty_acd(env: dict[str, Any]) -> None:
    """Each test starts with no agent present and no call queued, whatever ran before."""
    redis.Redis.from_url(env["acd_url"]).flushdb()


def login(app: Any, user: str) -> tuple[TestClient, dict[str, str]]:
    c = TestClient(app)
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def handed_off_attempt(env: dict[str, Any], agent: str, label: str = "") -> int:
    """A real call attempt that an agent took (as the worker stores it)."""
    return calls.handed_off_attempt(env["db"], env["work"], agent, f"web {agent}{label}")


def test_presence_screen_pop_accept_reject(env: dict[str, Any]) -> None:
    acd: Acd = env["acd"]
    c, h = login(env["app"], "jisu")
    assert c.get("/api/agent/state").json()["agent"]["state"] == "offline"
    page = c.get("/agent")
    assert page.status_code == 200 and "sip:agent1@127.0.0.1:5999" in page.text
    me = c.post("/api/agent/login", json={}, headers=h).json()
    assert me["state"] == "not_ready" and me["skills"] == ["billing"]
    assert me["sip_uri"] == "sip:agent1@127.0.0.1:5999"
    bad = c.post("/api/agent/not-ready", json={"reason": "nap"}, headers=h)
    assert bad.status_code == 409 and "not-ready reason 'nap'" in bad.json()["detail"]
    assert c.post("/api/agent/ready", headers=h).json()["state"] == "ready"

    acd.enqueue("501", "campaign-9", skills=["billing"],
                info={"campaign": "winter", "phone": "+821051000001",
                      "fields": {"name": "한지민"}, "reason": "customer intent request_human"})
    acd.add_transcript("501", {"seq": 1, "speaker": "customer", "text": "상담원 연결해 주세요",
                               "intent": "request_human"})
    acd.route()
    state = c.get("/api/agent/state").json()
    assert state["agent"]["state"] == "offered" and state["current"]["id"] == "501"
    assert state["current"]["info"]["fields"]["name"] == "한지민"
    assert state["current"]["transcript"][0]["intent"] == "request_human"
    # Rejected: back in the queue, and this agent is not offered the next one.
    assert c.post("/api/agent/reject", json={"call": "501"}, headers=h).json()[
        "state"] == "not_ready"
    assert acd.call("501")["state"] == "waiting" and acd.position("501") == 1
    c.post("/api/agent/ready", headers=h)  # ready routes: the waiting call comes back
    assert c.get("/api/agent/state").json()["current"]["id"] == "501"
    wrong = c.post("/api/agent/accept", json={"call": "502"}, headers=h)
    assert wrong.status_code == 409 and "not offered" in wrong.json()["detail"]
    accepted = c.post("/api/agent/accept", json={"call": "501"}, headers=h).json()
    assert accepted["state"] == "connected" and accepted["agent"] == "jisu"

    no_phone, h2 = login(env["app"], "nophone")
    r = no_phone.post("/api/agent/login", json={}, headers=h2)
    assert r.status_code == 409 and "no phone" in r.json()["detail"]


def test_the_disposition_form_after_the_call(env: dict[str, Any]) -> None:
    attempt = handed_off_attempt(env, "jisu")
    c, h = login(env["app"], "jisu")
    c.post("/api/agent/login", json={}, headers=h)

    def form(**kw: Any) -> Any:
        body = {"call": str(attempt), "outcome": "resolved", "notes": "", **kw}
        return c.post("/api/agent/disposition", json=body, headers=h)

    assert "outcome 'great'" in form(outcome="great").json()["detail"]
    assert "needs its time" in form(outcome="callback").json()["detail"]
    naive = (datetime.now() + timedelta(days=1)).isoformat()
    assert "time zone" in form(outcome="callback", callback_at=naive).json()["detail"]
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert "has passed" in form(outcome="callback", callback_at=past).json()["detail"]
    other, h3 = login(env["app"], "nophone")
    r = other.post("/api/agent/disposition", json={"call": str(attempt),
                                                    "outcome": "resolved"}, headers=h3)
    assert r.status_code == 400 and "not taken by nophone" in r.json()["detail"]

    when = datetime.now(UTC) + timedelta(days=1)
    ok = form(outcome="callback", notes="내일 오후에 다시", callback_at=when.isoformat())
    assert ok.status_code == 200 and ok.json()["state"] == "ready", ok.text
    with env["db"].session() as s:
        a = s.get(CallAttempt, attempt)
        assert a is not None
        assert (a.agent_disposition, a.agent_notes) == ("callback", "내일 오후에 다시")
        contact = s.scalar(select(Contact).where(Contact.id == a.contact_id))
        assert contact is not None and contact.status == ContactStatus.PENDING
        assert abs((contact.next_attempt_at.replace(tzinfo=UTC) - when).total_seconds()) < 1


def test_the_supervisor_sees_the_floor_and_listens_in(env: dict[str, Any]) -> None:
    acd: Acd = env["acd"]
    c, h = login(env["app"], "boss")
    assert c.get("/supervisor").status_code == 200
    acd.login("ana", sip_uri="sip:ana@127.0.0.1")
    acd.ready("ana")
    acd.enqueue("701", "campaign-7", info={"campaign": "spring"})
    floor = c.get("/api/supervisor/state").json()
    assert {"ana"} <= {a["id"] for a in floor["agents"]}
    assert "701" in {x["id"] for x in floor["calls"]}
    early = c.post("/api/supervisor/monitor", json={"call": "701", "mode": "listen"},
                   headers=h)
    assert early.status_code in (409,) and "not with an agent" in early.json()["detail"]
    acd.route()
    acd.accept(acd.call("701")["agent"], "701")
    bad = c.post("/api/supervisor/monitor", json={"call": "701", "mode": "shout"}, headers=h)
    assert bad.status_code == 400
    ok = c.post("/api/supervisor/monitor", json={"call": "701", "mode": "whisper"}, headers=h)
    assert ok.status_code == 200, ok.text
    assert acd.next_command("701") == {"monitor": "whisper", "uri": "sip:sup1@127.0.0.1:5999",
                                       "by": "boss"}
    assert acd.next_command("701") is None


def test_logging_out_of_the_web_leaves_the_queue(env: dict[str, Any]) -> None:
    """Before: "Log out" ended the web session only, and the agent stayed ready in the
    queue, so calls kept being offered to someone who had gone."""
    acd: Acd = env["acd"]
    for state in ("ready", "not_ready", "offered", "wrap_up"):
        c, h = login(env["app"], "jisu")
        c.post("/api/agent/login", json={}, headers=h)
        if state != "not_ready":
            c.post("/api/agent/ready", headers=h)
        if state in ("offered", "wrap_up"):
            acd.enqueue(f"8{len(state)}", "campaign-8", info={"campaign": "autumn"})
            acd.route()
        if state == "wrap_up":
            acd.accept("jisu", f"8{len(state)}")
            acd.hang_up("jisu")
        assert acd.agent("jisu")["state"] == state
        if state == "ready":  # the browser's form
            r = c.post("/logout", data={"csrf_token": h["X-CSRF-Token"]},
                       follow_redirects=False)
            assert r.status_code == 303, r.text
        else:
            assert c.post("/api/logout", headers=h).json() == {"logged_out": True}
        assert acd.agent("jisu")["state"] == "offline", state
        assert c.get("/api/agent/state").status_code == 401  # and out of the web
        if state == "offered":  # the offer goes back to the front of the queue
            assert acd.call("87")["state"] == "waiting" and acd.position("87") == 1
            acd.abandon("87")


def test_an_agent_on_a_call_logging_out_keeps_the_call(env: dict[str, Any]) -> None:
    acd: Acd = env["acd"]
    c, h = login(env["app"], "jisu")
    c.post("/api/agent/login", json={}, headers=h)
    c.post("/api/agent/ready", headers=h)
    acd.enqueue("901", "campaign-9", info={"campaign": "winter"})
    acd.route()
    acd.accept("jisu", "901")
    assert c.post("/api/logout", headers=h).status_code == 200
    assert acd.agent("jisu")["state"] == "on_call"
    assert acd.call("901")["state"] == "connected"


def test_logging_out_with_the_queue_away_still_logs_out(env: dict[str, Any]) -> None:
    from dialer.settings import DialerSettings

    app = env["app"]
    c, h = login(app, "jisu")
    real = app.state.dialer_settings
    app.state.dialer_settings = DialerSettings(acd_url="redis://127.0.0.1:1/0")
    try:
        r = c.post("/api/logout", headers=h)
    finally:
        app.state.dialer_settings = real
    assert r.status_code == 200 and r.json() == {"logged_out": True}
    assert c.get("/api/me").status_code == 401


def test_wrap_up_refusals_and_staying_not_ready(env: dict[str, Any]) -> None:
    attempt = handed_off_attempt(env, "jisu", " (wrap-up)")
    c, h = login(env["app"], "jisu")
    c.post("/api/agent/login", json={}, headers=h)
    body = {"call": str(attempt), "outcome": "", "notes": "고객이 요금제 문의"}
    empty = c.post("/api/agent/disposition", json=body, headers=h)
    assert empty.status_code == 400 and empty.json()["detail"] == (
        "choose the call's outcome before saving")
    away = c.post("/api/agent/disposition", headers=h, json={
        **body, "outcome": "interested", "ready": False, "not_ready_reason": "break"})
    assert away.status_code == 200, away.text
    assert (away.json()["state"], away.json()["reason"]) == ("not_ready", "break")
    state = c.get("/api/agent/state").json()
    assert state["offer_s"] == 15.0  # the console's countdown: the desk's offer time
