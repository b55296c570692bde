"""Issue 15, defect 7: an agent sees their own offer and call, nothing of the other
calls on the floor, and never a supervisor's monitor command. Two agents take two calls
on a real Redis; a supervisor listens in on one; each one's console state and event
stream (the real /api/acd/events generator, read as the browser would) is checked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from campaigns.models import Role
from campaigns.settings import CampaignSettings
from campaigns.users import CurrentUser, create_user
from dialer.handoff.acd import Acd
from dialer.web.app import create_app
from dialer.web.auth import path_operations
from tests.support.procs import redis_server

PASSWORD = "a long password"
A_CALL, B_CALL = "9101", "9202"
A_PHONE, B_PHONE = "+821011112222", "+821033334444"
B_SAID = "제 계좌번호는 비밀이에요"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("agent-leaks")
    with redis_server(work / "redis") as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", url)
        app = create_app(CampaignSettings(data_dir=work / "data"))
        users = {}
        for name, role, uri in (("ann", "agent", "sip:ann@127.0.0.1"),
                                ("bob", "agent", "sip:bob@127.0.0.1"),
                                ("boss", "supervisor", "sip:boss@127.0.0.1")):
            users[name] = create_user(app.state.db, name, PASSWORD, role, uri)
        yield {"app": app, "acd": Acd.from_url(url), "users": users}


def login(app: Any, user: str) -> tuple[TestClient, dict[str, str]]:
    c = TestClient(app)
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf_token"]}


def events_endpoint(app: Any) -> Any:
    [route] = [r for r in path_operations(app.routes) if r.path == "/api/acd/events"]
    return route.endpoint


def as_user(name: str, role: Role, user_id: int) -> Request:
    """The request the route sees once the session cookie named this user (and the
    user, `request.state.user`, is what the route takes as its `User`)."""
    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the browser never goes away during the test
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/api/acd/events", "headers": [],
             "query_string": b"", "state": {"user": CurrentUser(user_id, name, role, "t")}}
    return Request(scope, receive)


def take_calls(env: dict[str, Any]) -> None:
    """The floor: ann and bob each on a call with a customer, a supervisor listening in
    on bob's (and the worker reporting the listen leg is up)."""
    acd: Acd = env["acd"]
    for agent, call, phone, name in (("ann", A_CALL, A_PHONE, "에이"),
                                     ("bob", B_CALL, B_PHONE, "비")):
        a, h = login(env["app"], agent)
        assert a.post("/api/agent/login", json={}, headers=h).status_code == 200
        acd.enqueue(call, "campaign-1", info={"campaign": "spring", "phone": phone,
                                              "fields": {"name": name},
                                              "reason": f"{name} asked for a person"})
        acd.add_transcript(call, {"seq": 1, "speaker": "customer",
                                  "text": B_SAID if agent == "bob" else "상담원 부탁해요"})
        assert a.post("/api/agent/ready", headers=h).json()["state"] == "offered"
        assert a.post("/api/agent/accept", json={"call": call}, headers=h).status_code == 200
    acd.add_transcript(B_CALL, {"seq": 2, "speaker": "agent", "text": "네 고객님 " + B_SAID})
    acd.add_transcript(A_CALL, {"seq": 2, "speaker": "agent", "text": "네 말씀하세요"})
    sup, h = login(env["app"], "boss")
    for call in (B_CALL, A_CALL):
        r = sup.post("/api/supervisor/monitor", json={"call": call, "mode": "listen"},
                     headers=h)
        assert r.status_code == 200, r.text
    acd.publish("monitoring", call=B_CALL, mode="listen")  # as the worker tells it
    # the commands still reach the worker carrying each call
    assert acd.next_command(B_CALL) == {"monitor": "listen", "uri": "sip:boss@127.0.0.1",
                                        "by": "boss"}
    assert acd.next_command(A_CALL) is not None


def read_streams(env: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each console's event stream while `take_calls` happens."""
    endpoint, users = events_endpoint(env["app"]), env["users"]
    viewers = {"ann": Role.AGENT, "bob": Role.AGENT, "boss": Role.SUPERVISOR}

    async def main() -> dict[str, list[str]]:
        got: dict[str, list[str]] = {name: [] for name in viewers}
        streams = {}
        for name, role in viewers.items():
            request = as_user(name, role, users[name])
            response = await endpoint(request, env["app"].state.dialer_settings,
                                      request.state.user)
            streams[name] = response.body_iterator
            assert (await anext(streams[name])).startswith("retry:")  # subscribed

        async def read(name: str) -> None:
            async for chunk in streams[name]:
                got[name].append(str(chunk))

        readers = [asyncio.create_task(read(n)) for n in viewers]
        await asyncio.to_thread(take_calls, env)
        await asyncio.sleep(1.0)  # let the last events through
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        return got

    raw = asyncio.run(main())
    return {name: [json.loads(c[len("data: "):]) for c in chunks if c.startswith("data: ")]
            for name, chunks in raw.items()}


@pytest.fixture(scope="module")
def streams(env: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return read_streams(env)


def test_an_agents_stream_carries_only_their_own_call_and_never_a_listen(
        streams: dict[str, list[dict[str, Any]]]) -> None:
    ann, bob, boss = streams["ann"], streams["bob"], streams["boss"]
    # ann's stream: her own call, whole; nothing of bob's call or of bob.
    text = json.dumps(ann, ensure_ascii=False)
    assert any(e.get("call") == A_CALL and e["type"] == "transcript" for e in ann), ann
    assert B_CALL not in text and B_SAID not in text and "bob" not in text, ann
    # nobody on the floor but a supervisor learns of a listen, least of all the agent
    # whose call is being listened to
    for name, events in (("ann", ann), ("bob", bob)):
        text = json.dumps(events, ensure_ascii=False)
        assert not [e for e in events if "monitor" in e or e["type"] in (
            "command", "monitoring", "monitor_failed")], (name, events)
        assert "listen" not in text and "boss" not in text, (name, events)
    assert any(e.get("call") == B_CALL and e["type"] == "transcript" for e in bob)
    assert A_CALL not in json.dumps(bob)
    # the supervisor still sees the whole floor, and the listen
    assert {A_CALL, B_CALL} <= {e.get("call") for e in boss}
    assert any(e.get("monitor") == "listen" or e["type"] == "monitoring" for e in boss), boss


def test_an_agents_state_holds_only_their_own_call(
        env: dict[str, Any], streams: dict[str, list[dict[str, Any]]]) -> None:
    ann_web, _ = login(env["app"], "ann")
    state = ann_web.get("/api/agent/state").json()
    assert state["agent"]["id"] == "ann" and state["current"]["id"] == A_CALL
    assert state["current"]["info"]["phone"] == A_PHONE
    assert [t["seq"] for t in state["current"]["transcript"]] == [1, 2]
    text = json.dumps(state, ensure_ascii=False)
    for secret in (B_CALL, B_PHONE, B_SAID, "bob", "비 asked"):
        assert secret not in text, (secret, state)
    # the supervisor's floor is whole
    sup, _ = login(env["app"], "boss")
    floor = sup.get("/api/supervisor/state").json()
    assert {A_CALL, B_CALL} <= {c["id"] for c in floor["calls"]}
    assert {"ann", "bob"} <= {a["id"] for a in floor["agents"]}
