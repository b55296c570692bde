"""The operations metrics on a real redis-server and a real database (SQLite and
PostgreSQL): turn timings land in the right cumulative buckets, each figure of a turn
once though the turn is stored twice, and a scrape parsed back with Prometheus's own
parser gives exactly the numbers of a hand-made set of calls, queues and agents; with
the ACD's Redis away the database's numbers are still served and `dialer_up` says so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from campaigns.db import Database
from campaigns.models import CallAttempt, Campaign, Contact
from campaigns.statuses import AttemptStatus
from dialer.handoff.acd import Acd
from dialer.opsmetrics import OpsCollector, TurnTimings, observe_turn, redis_client
from tests.support.procs import free_udp_tcp_port, redis_server

NOW = 1_700_000_000.0  # the scrape's clock: every age below is exact


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Turn:  # the fields of dialer.call.session.TurnRecord the metrics read
    seq: int
    asr_ms: float | None = None
    nlu_ms: float | None = None
    tts_ms: float | None = None
    latency_ms: float | None = None
    processing_ms: float | None = None


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("ops-redis")) as url:
        yield url


@pytest.fixture
def r(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    # No [] of a parametrized name: the ACD lists agents with a SCAN glob.
    return "t-" + request.node.name.replace("[", "-").replace("]", "") + ":"


def scrape(collector: OpsCollector) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The exposition text as Prometheus reads it: sample name and labels -> value."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def names(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> set[str]:
    return {name for name, _ in samples}


def bucket_counts(r: redis.Redis, key: str) -> dict[str, float]:
    data: dict[str, str] = r.hgetall(key)  # type: ignore[assignment]
    return {k: float(v) for k, v in data.items()}


def test_observe_turn_fills_cumulative_buckets(r: redis.Redis, prefix: str) -> None:
    assert observe_turn(r, asr_ms=30.0, nlu_ms=1.2, latency_ms=420.0, processing_ms=110.0,
                        prefix=prefix)
    assert observe_turn(r, latency_ms=1700.0, prefix=prefix)
    assert observe_turn(r, tts_ms=0.0, prefix=prefix)
    assert not observe_turn(r, prefix=prefix), "nothing measured: nothing sent"

    latency = bucket_counts(r, f"{prefix}hist:dialer_turn_latency_seconds")
    assert latency["count"] == 2 and latency["sum"] == pytest.approx(2.12)
    assert "0.4" not in latency, "420 ms is above the 0.4 s bucket"
    assert latency["0.5"] == latency["1.5"] == 1
    assert latency["2.0"] == latency["5.0"] == latency["+Inf"] == 2
    asr = bucket_counts(r, f"{prefix}hist:dialer_asr_seconds")
    assert "0.025" not in asr and asr["0.05"] == asr["+Inf"] == asr["count"] == 1
    nlu = bucket_counts(r, f"{prefix}hist:dialer_nlu_seconds")
    assert "0.001" not in nlu and nlu["0.0025"] == nlu["+Inf"] == 1
    processing = bucket_counts(r, f"{prefix}hist:dialer_turn_processing_seconds")
    assert "0.1" not in processing and processing["0.15"] == 1
    tts = bucket_counts(r, f"{prefix}hist:dialer_tts_seconds")
    assert tts["0.001"] == tts["+Inf"] == 1 and tts["sum"] == 0


def test_each_figure_of_a_turn_counts_once(r: redis.Redis, prefix: str) -> None:
    timings = TurnTimings(r, prefix)
    customer = Turn(seq=1, asr_ms=40.0, nlu_ms=2.0)
    timings.observe(customer)  # stored when understood...
    customer.latency_ms, customer.processing_ms = 380.0, 80.0
    timings.observe(customer)  # ...and again once the reply started
    timings.observe(customer)
    timings.observe(Turn(seq=2, tts_ms=12.0))
    timings.observe(Turn(seq=3))  # an agent's words: nothing measured
    for name in ("asr", "nlu", "tts", "turn_latency", "turn_processing"):
        assert r.hget(f"{prefix}hist:dialer_{name}_seconds", "count") == "1", name
    TurnTimings(None).observe(Turn(seq=1, asr_ms=1.0))  # no Redis: nothing, no error


def test_observe_turn_never_raises_when_redis_is_away() -> None:
    away = redis_client(f"redis://127.0.0.1:{free_udp_tcp_port()}/0", timeout_s=0.5)
    assert observe_turn(away, asr_ms=10.0) is False
    TurnTimings(away).observe(Turn(seq=1, latency_ms=300.0))


def at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, UTC)


def add_calls(db: Database) -> dict[str, int]:
    """Two campaigns with attempts in every state (and one campaign never dialed)."""
    plan: dict[str, list[tuple[AttemptStatus, float | None, float | None]]] = {
        "winter": [  # status, dialed, answered (seconds before the scrape)
            (AttemptStatus.DIALING, 10.0, None),
            (AttemptStatus.ANSWERED, 30.0, 25.0),
            (AttemptStatus.COMPLETED, 300.0, 290.0),
            (AttemptStatus.QUEUED, None, None),
        ],
        "spring": [
            (AttemptStatus.COMPLETED, 7200.0, None),
            (AttemptStatus.FAILED, 20.0, None),
            (AttemptStatus.COMPLETED, 59.0, 50.0),
        ],
        "never": [],
    }
    ids = {}
    with db.session() as s:
        for name, attempts in plan.items():
            camp = Campaign(name=name, script_dir="/nowhere")
            s.add(camp)
            s.flush()
            ids[name] = camp.id
            for i, (status, dialed, answered) in enumerate(attempts):
                contact = Contact(campaign_id=camp.id, phone=f"+8210555{camp.id:02d}{i:03d}")
                s.add(contact)
                s.flush()
                s.add(CallAttempt(campaign_id=camp.id, contact_id=contact.id, attempt_no=1,
                                  status=status,
                                  dialed_at=None if dialed is None else at(dialed),
                                  answered_at=None if answered is None else at(answered)))
    return ids


def staff_the_acd(acd: Acd, clock: Clock) -> None:
    """ana ready, bo logged in (not ready), cy on a call from the billing queue; one more
    call waits in billing, one in sales, and a sales caller gave up."""
    clock.t = NOW - 20
    for agent in ("ana", "bo", "cy"):
        acd.login(agent)
    acd.ready("cy")
    acd.enqueue("c1", "billing")
    [offer] = acd.route()
    assert (offer.call_id, offer.agent_id) == ("c1", "cy")
    acd.accept("cy", "c1")
    clock.t = NOW - 12
    acd.enqueue("c2", "billing")
    clock.t = NOW - 7.5
    acd.enqueue("c3", "sales")
    acd.enqueue("c4", "sales")
    acd.abandon("c4")
    acd.ready("ana")
    clock.t = NOW


def test_a_scrape_gives_the_exact_numbers(db: Database, r: redis.Redis, prefix: str) -> None:
    ids = add_calls(db)
    clock = Clock(NOW)
    collector = OpsCollector(db, r, acd_prefix=f"{prefix}acd:", prefix=f"{prefix}ops:",
                             clock=clock)
    assert collector.acd is not None
    staff_the_acd(collector.acd, clock)
    observe_turn(r, asr_ms=30.0, nlu_ms=1.2, latency_ms=420.0, prefix=f"{prefix}ops:")
    observe_turn(r, asr_ms=80.0, latency_ms=1700.0, prefix=f"{prefix}ops:")

    m = scrape(collector)
    assert value(m, "dialer_up", component="db") == 1
    assert value(m, "dialer_up", component="acd") == 1
    # Calls, from the database.
    assert value(m, "dialer_active_calls", state="dialing") == 1
    assert value(m, "dialer_active_calls", state="answered") == 1
    assert value(m, "dialer_active_call_oldest_seconds") == 30.0
    winter = {"campaign_id": str(ids["winter"]), "campaign": "winter"}
    spring = {"campaign_id": str(ids["spring"]), "campaign": "spring"}
    assert value(m, "dialer_calls_dialed_total", **winter) == 3
    assert value(m, "dialer_calls_dialed_total", **spring) == 3
    assert value(m, "dialer_calls_answered_total", **winter) == 2
    assert value(m, "dialer_calls_answered_total", **spring) == 1
    assert value(m, "dialer_calls_dialed_last_minute", **winter) == 2
    assert value(m, "dialer_calls_dialed_last_minute", **spring) == 2
    assert not any(dict(labels).get("campaign") == "never" for _, labels in m)
    # Queues, handoffs and agents, from the ACD.
    assert value(m, "dialer_queue_length", queue="billing") == 1
    assert value(m, "dialer_queue_length", queue="sales") == 1
    assert value(m, "dialer_queue_longest_wait_seconds", queue="billing") == 12.0
    assert value(m, "dialer_queue_longest_wait_seconds", queue="sales") == 7.5
    assert value(m, "dialer_queue_calls_total", queue="billing", outcome="accepted") == 1
    assert value(m, "dialer_queue_calls_total", queue="sales", outcome="abandoned") == 1
    assert value(m, "dialer_queue_calls_total", queue="sales", outcome="accepted") == 0
    assert value(m, "dialer_handoff_calls", state="waiting") == 2
    assert value(m, "dialer_handoff_calls", state="offered") == 0
    assert value(m, "dialer_handoff_calls", state="connected") == 1
    assert {state: value(m, "dialer_agents", state=state)
            for state in ("not_ready", "ready", "offered", "on_call", "wrap_up")} == {
        "not_ready": 1, "ready": 1, "offered": 0, "on_call": 1, "wrap_up": 0}
    # Turn timings, from the shared histograms.
    assert value(m, "dialer_turn_latency_seconds_bucket", le="0.5") == 1
    assert value(m, "dialer_turn_latency_seconds_bucket", le="1.5") == 1
    assert value(m, "dialer_turn_latency_seconds_bucket", le="2.0") == 2
    assert value(m, "dialer_turn_latency_seconds_bucket", le="+Inf") == 2
    assert value(m, "dialer_turn_latency_seconds_count") == 2
    assert value(m, "dialer_turn_latency_seconds_sum") == pytest.approx(2.12)
    assert value(m, "dialer_asr_seconds_bucket", le="0.05") == 1
    assert value(m, "dialer_asr_seconds_bucket", le="0.1") == 2
    assert value(m, "dialer_asr_seconds_sum") == pytest.approx(0.11)
    assert value(m, "dialer_nlu_seconds_count") == 1
    assert value(m, "dialer_tts_seconds_count") == 0, "nothing said yet: zero, not absent"

    clock.t = NOW + 60  # a minute later nothing new was dialed
    later = scrape(collector)
    assert value(later, "dialer_calls_dialed_last_minute", **winter) == 0
    assert value(later, "dialer_calls_dialed_total", **winter) == 3
    assert value(later, "dialer_queue_longest_wait_seconds", queue="billing") == 72.0


@pytest.mark.parametrize("acd", ["away", "none"])
def test_without_the_acd_the_calls_are_still_served(db: Database, acd: str) -> None:
    ids = add_calls(db)
    client = (redis_client(f"redis://127.0.0.1:{free_udp_tcp_port()}/0", timeout_s=0.5)
              if acd == "away" else None)
    m = scrape(OpsCollector(db, client, clock=Clock(NOW)))
    assert value(m, "dialer_up", component="acd") == 0
    assert value(m, "dialer_up", component="db") == 1
    assert value(m, "dialer_calls_dialed_total", campaign_id=str(ids["winter"]),
                 campaign="winter") == 3
    assert value(m, "dialer_active_calls", state="answered") == 1
    assert not {n for n in names(m) if n.startswith(("dialer_queue", "dialer_agents",
                                                     "dialer_asr", "dialer_turn"))}


def test_without_the_database_the_acd_is_still_served(tmp_path: Path, r: redis.Redis,
                                                      prefix: str) -> None:
    broken = Database(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every query fails
    m = scrape(OpsCollector(broken, r, acd_prefix=f"{prefix}acd:", prefix=f"{prefix}ops:"))
    assert value(m, "dialer_up", component="db") == 0
    assert value(m, "dialer_up", component="acd") == 1
    assert value(m, "dialer_agents", state="ready") == 0
    assert "dialer_active_calls" not in names(m)

