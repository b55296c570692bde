"""Agent presence and call distribution on a real redis-server: longest idle first,
skills, the last agent who spoke to the contact, not-ready reasons, wrap-up, rejected
offers, queue positions and waits, and routing from several hosts at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dialer.handoff.acd import Acd, AcdError
from tests.support.procs import redis_server


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("acd-redis")) as url:
        yield url


@pytest.fixture
def acd(redis_url: str, request: pytest.FixtureRequest) -> Acd:
    a = Acd.from_url(redis_url, prefix=f"t-{request.node.name}:")
    a.now = Clock()
    return a


def tick(acd: Acd, seconds: float) -> None:
    acd.now.t += seconds  # type: ignore[attr-defined]


def test_the_agent_idle_longest_gets_the_oldest_call(acd: Acd) -> None:
    for agent in ("ana", "bo", "cy"):
        acd.login(agent, sip_uri=f"sip:{agent}@127.0.0.1")
    acd.ready("bo")
    tick(acd, 5)
    acd.ready("ana")
    tick(acd, 5)
    acd.ready("cy")
    acd.ready("bo")  # clicking ready again keeps bo's place in the line
    assert acd.enqueue("c1", "campaign-1") == 1
    tick(acd, 2)
    assert acd.enqueue("c2", "campaign-1") == 2
    assert acd.position("c2") == 2 and acd.call("c2")["waited_s"] == 0
    tick(acd, 3)
    offers = acd.route()
    assert [(o.call_id, o.agent_id, o.waited_s) for o in offers] == [("c1", "bo", 5.0),
                                                                       ("c2", "ana", 3.0)]
    assert acd.agent("bo")["state"] == "offered" and acd.agent("bo")["call"] == "c1"
    assert acd.position("c1") is None and acd.call("c1")["state"] == "offered"
    assert acd.route() == []  # nothing left to offer: cy waits


def test_skills_and_the_last_agent_who_spoke_to_the_contact(acd: Acd) -> None:
    acd.login("ana", skills=["ko"])
    acd.login("bo", skills=["ko", "billing"])
    acd.login("cy", skills=["ko"])
    for agent in ("ana", "bo", "cy"):
        acd.ready(agent)
        tick(acd, 1)
    acd.enqueue("bill", "billing", skills=["billing"])
    acd.enqueue("again", "campaign-1", skills=["ko"], prefer="cy")
    acd.enqueue("any", "campaign-1", skills=["ko"])
    tick(acd, 1)
    got = {o.call_id: o.agent_id for o in acd.route()}
    # billing needs bo although ana is idle longer; "again" goes to cy, who spoke to that
    # contact before, although ana is idle longer; "any" gets ana.
    assert got == {"bill": "bo", "again": "cy", "any": "ana"}
    acd.enqueue("fr", "campaign-1", skills=["fr"])
    assert acd.route() == [] and acd.position("fr") == 1


def test_offers_accepted_rejected_and_wrap_up(acd: Acd) -> None:
    acd.login("ana")
    acd.login("bo")
    acd.ready("ana")
    tick(acd, 1)
    acd.ready("bo")
    acd.enqueue("c1", "q")
    tick(acd, 1)
    acd.enqueue("c2", "q")
    [first, second] = acd.route()
    assert (first.agent_id, second.agent_id) == ("ana", "bo")
    # ana lets it ring out: the call goes back to the front, ana is not ready.
    acd.reject("ana", "c1", missed=True)
    assert acd.agent("ana")["reason"] == "missed offer" and acd.position("c1") == 1
    with pytest.raises(AcdError, match="not offered to agent 'bo'"):
        acd.accept("bo", "c1")
    acd.accept("bo", "c2")
    assert acd.agent("bo")["state"] == "on_call" and acd.call("c2")["state"] == "connected"
    with pytest.raises(AcdError, match="is on_call and cannot go ready"):
        acd.ready("bo")
    tick(acd, 30)
    acd.hang_up("bo")
    assert acd.agent("bo")["state"] == "wrap_up" and acd.call("c2")["state"] == "ended"
    assert acd.route() == []  # wrap-up is not ready
    tick(acd, 10)
    acd.ready("bo")
    assert [(o.call_id, o.agent_id) for o in acd.route()] == [("c1", "bo")]
    with pytest.raises(AcdError, match="not-ready reason 'nap'"):
        acd.not_ready("ana", "nap")
    acd.not_ready("ana", "lunch")
    assert {a["id"]: (a["state"], a["reason"]) for a in acd.agents()} == {
        "ana": ("not_ready", "lunch"), "bo": ("offered", "")}


def test_a_caller_who_leaves_frees_the_offered_agent(acd: Acd) -> None:
    acd.login("ana")
    acd.ready("ana")
    acd.enqueue("gone", "q", info={"phone": "+821011110001", "campaign": 1})
    assert acd.call("gone")["info"]["phone"] == "+821011110001"
    acd.route()
    acd.abandon("gone")
    assert acd.call("gone")["state"] == "abandoned" and acd.agent("ana")["state"] == "ready"
    acd.enqueue("waiting", "q2")
    acd.abandon("waiting")
    assert acd.queue("q2") == []


def test_routing_from_many_hosts_never_double_books(redis_url: str) -> None:
    """Eight routers (as several web and worker hosts) race over 40 calls and 25 agents:
    every agent gets at most one call, every call at most one agent."""
    acd = Acd.from_url(redis_url, prefix="race:")
    for i in range(25):
        acd.login(f"a{i}")
        acd.ready(f"a{i}")
    for i in range(40):
        acd.enqueue(f"c{i}", f"q{i % 3}")
    offers: list[object] = []
    lock = threading.Lock()

    def router() -> None:
        mine = Acd.from_url(redis_url, prefix="race:").route()
        with lock:
            offers.extend(mine)

    threads = [threading.Thread(target=router) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    agents = [o.agent_id for o in offers]  # type: ignore[attr-defined]
    calls = [o.call_id for o in offers]  # type: ignore[attr-defined]
    assert len(offers) == 25 and len(set(agents)) == 25 and len(set(calls)) == 25
    waiting = sum(len(acd.queue(f"q{i}")) for i in range(3))
    assert waiting == 15


def test_unknown_agents_are_named(acd: Acd, tmp_path: Path) -> None:
    with pytest.raises(AcdError, match="agent 'zed' is not logged in"):
        acd.ready("zed")
    with pytest.raises(AcdError, match="no call 'nope'"):
        acd.call("nope")


def test_an_unreachable_agent_phone_puts_the_call_back_and_counts_stay_true(acd: Acd) -> None:
    assert not acd.staffed()  # nobody logged in: a caller is not kept waiting
    acd.login("ana", skills=["ko"])
    assert acd.staffed(["ko"]) and not acd.staffed(["billing"])
    acd.ready("ana")
    acd.enqueue("c1", "q")
    tick(acd, 1)
    acd.enqueue("c2", "q")
    acd.route()
    acd.accept("ana", "c1")
    # Her phone never answered: c1 is first in line again, ana is not ready.
    acd.connect_failed("ana", "c1")
    assert acd.position("c1") == 1 and acd.call("c1")["state"] == "waiting"
    assert acd.agent("ana")["state"] == "not_ready"
    assert acd.agent("ana")["reason"] == "missed offer"
    acd.abandon("c2")
    acd.abandon("c2")  # told twice (two hosts): counted once
    assert acd.stats("q") == {"accepted": 1, "abandoned": 1}
    assert [c["id"] for c in acd.live_calls()] == ["c1"]


def test_the_screen_pop_transcript_and_the_event_stream(acd: Acd) -> None:
    events = acd.subscribe()
    acd.login("ana", auto_accept=True)
    acd.enqueue("c1", "q", info={"reason": "customer intent request_human"})
    acd.add_transcript("c1", {"seq": 1, "speaker": "bot", "text": "안녕하세요"})
    acd.add_transcript("c1", {"seq": 2, "speaker": "customer", "text": "상담원 연결해 주세요",
                              "intent": "request_human"})
    assert [t["seq"] for t in acd.transcript("c1")] == [1, 2]
    assert acd.agent("ana")["auto_accept"] == "1"
    got: list[dict[str, Any]] = []
    end = time.monotonic() + 5
    while len(got) < 3 and time.monotonic() < end:
        msg = events.get_message(timeout=0.5)
        if msg is not None:
            got.append(json.loads(msg["data"]))
    assert [g["type"] for g in got] == ["agent", "transcript", "transcript"], got
    assert got[2]["turn"]["intent"] == "request_human" and got[2]["call"] == "c1"
    events.close()
