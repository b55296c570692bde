"""Issue 15, defect 7, at the ACD: a supervisor's monitor command goes to the worker
(its command list) and to the supervisors' channel, never onto the events channel
every console reads; and what an agent's stream may carry of an event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dialer.handoff.acd import Acd, event_for_agent
from tests.support.procs import redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("acd-hardening")) as url:
        yield url


@pytest.fixture
def acd(redis_url: str, request: pytest.FixtureRequest) -> Acd:
    return Acd.from_url(redis_url, prefix=f"h-{request.node.name}:")


def drain(ps: Any, wait_s: float = 0.5) -> list[dict[str, Any]]:
    got, end = [], time.monotonic() + wait_s
    while time.monotonic() < end:
        msg = ps.get_message(timeout=0.05)
        if msg is not None:
            got.append(json.loads(msg["data"]))
    return got


def test_monitor_commands_reach_the_worker_and_supervisors_only(acd: Acd) -> None:
    everyone, floor = acd.subscribe(), acd.subscribe(supervisors=True)
    acd.command("c1", {"monitor": "listen", "uri": "sip:sup@pbx", "by": "boss"})
    acd.publish("monitoring", call="c1", mode="listen")  # the worker: the leg is up
    acd.publish("monitor_failed", call="c1", mode="barge", error="no answer")
    acd.publish("transcript", call="c1", turn={"seq": 1, "text": "hi"})
    assert acd.next_command("c1") == {"monitor": "listen", "uri": "sip:sup@pbx",
                                      "by": "boss"}
    assert [e["type"] for e in drain(everyone)] == ["transcript"]
    assert [e["type"] for e in drain(floor)] == ["command", "monitoring", "monitor_failed",
                                                 "transcript"]
    everyone.close()
    floor.close()


def test_what_an_agent_stream_carries_of_each_event() -> None:
    mine = {"type": "transcript", "at": 1.0, "call": "c1", "turn": {"text": "hello"}}
    assert event_for_agent(mine, "ann", "c1") == mine
    offer = {"type": "offered", "at": 1.0, "call": "c1", "agent": "ann", "queue": "q"}
    assert event_for_agent(offer, "ann", "") == offer  # before her hash says so
    assert event_for_agent({**mine, "call": "c2"}, "ann", "c1") is None
    other = {"type": "offered", "at": 2.0, "call": "c2", "agent": "bob", "queue": "q"}
    assert event_for_agent(other, "ann", "c1") == {"type": "queue", "at": 2.0}
    assert event_for_agent({"type": "agent", "at": 3.0, "agent": "bob", "state": "ready",
                            "reason": ""}, "ann", "c1") == {"type": "queue", "at": 3.0}
    for kind in ("command", "monitoring", "monitor_failed"):
        assert event_for_agent({"type": kind, "at": 4.0, "call": "c1", "agent": "ann",
                                "monitor": "listen"}, "ann", "c1") is None
