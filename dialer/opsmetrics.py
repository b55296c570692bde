"""Operations metrics for Prometheus: what the dialer is doing now and how fast its voice
loop answers, served by the web app at GET /metrics (dialer/web/routes/ops.py).

Calls run in worker processes on any number of hosts, so the timings of each turn are
added up in Redis (the ACD's, which every worker and web host already shares) as
cumulative histogram buckets; everything else is read when Prometheus scrapes: calls
from the database (a few aggregates, no rows loaded), queues and agents from the ACD.

Keys (prefix `ops:` by default), one hash per histogram:
  hist:<name>   fields <le> (cumulative bucket counts, `+Inf` included), sum (seconds),
                count
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from redis.exceptions import RedisError
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError

from campaigns.db import Database
from campaigns.models import CallAttempt, Campaign
from campaigns.statuses import AttemptStatus
from dialer.handoff.acd import STATES, Acd, AcdError

log = logging.getLogger(__name__)

PREFIX = "ops:"
# Seconds. Fine steps where the voice loop lives: NLU in 1-15 ms, ASR in tens of ms, the
# reply latency at 300 ms of endpoint silence plus processing, the goal at 1 s.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4,
           0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)
_LE = [floatToGoString(b) for b in (*BUCKETS, math.inf)]

# Turn field (milliseconds) -> histogram name and help.
HISTOGRAMS: dict[str, tuple[str, str]] = {
    "asr_ms": ("dialer_asr_seconds",
               "Speech recognition time of a customer turn."),
    "nlu_ms": ("dialer_nlu_seconds",
               "Intent parsing time of a customer turn."),
    "tts_ms": ("dialer_tts_seconds",
               "Speech synthesis time of a robot turn (0 when its prompt was pre-rendered)."),
    "latency_ms": ("dialer_turn_latency_seconds",
                   "End of the customer's speech to the first audio of the robot's reply."),
    "processing_ms": ("dialer_turn_processing_seconds",
                      "Endpoint decision to the first audio of the reply: the latency "
                      + "without the trailing silence the endpointer waits for."),
}
ACTIVE_STATES = (AttemptStatus.DIALING, AttemptStatus.ANSWERED)
HANDOFF_STATES = ("waiting", "offered", "connected")


def _key(prefix: str, name: str) -> str:
    return f"{prefix}hist:{name}"


def observe_turn(client: Any, *, asr_ms: float | None = None, nlu_ms: float | None = None,
                 tts_ms: float | None = None, latency_ms: float | None = None,
                 processing_ms: float | None = None, prefix: str = PREFIX) -> bool:
    """Add one turn's timings (milliseconds; None: not measured) to the shared histograms,
    in one round trip. Never raises: metrics trouble must not touch a call. False when
    Redis did not take them."""
    given = {"asr_ms": asr_ms, "nlu_ms": nlu_ms, "tts_ms": tts_ms, "latency_ms": latency_ms,
             "processing_ms": processing_ms}
    values = {HISTOGRAMS[f][0]: ms / 1000.0 for f, ms in given.items()
              if ms is not None and math.isfinite(ms)}
    if client is None or not values:
        return False
    try:
        with client.pipeline() as p:  # MULTI/EXEC: a scrape never sees half a turn
            for name, seconds in values.items():
                key = _key(prefix, name)
                for le, bound in zip(_LE, (*BUCKETS, math.inf), strict=True):
                    if seconds <= bound:
                        p.hincrby(key, le, 1)
                p.hincrbyfloat(key, "sum", seconds)
                p.hincrby(key, "count", 1)
            p.execute()
        return True
    except (RedisError, OSError) as exc:
        log.warning("turn metrics not stored (Redis: %s)", exc)
        return False


class TurnTimings:
    """One call's `on_turn` companion: hands each turn's timings to `observe_turn` once,
    though a turn is stored twice (a customer turn again when its reply's latency is
    known). `client` None (no shared Redis): nothing is counted."""

    def __init__(self, client: Any, prefix: str = PREFIX) -> None:
        self.client, self.prefix = client, prefix
        self._seen: set[tuple[int, str]] = set()

    def observe(self, turn: Any) -> None:
        if self.client is None:
            return
        new: dict[str, float] = {}
        for field in HISTOGRAMS:
            value = getattr(turn, field, None)
            if value is not None and (turn.seq, field) not in self._seen:
                self._seen.add((turn.seq, field))
                new[field] = float(value)
        if new:
            observe_turn(self.client, prefix=self.prefix, **new)


class OpsCollector(Collector):
    """Everything /metrics shows, gathered at scrape time. `client`: the ACD's Redis
    (None: there is none; the database metrics are served all the same)."""

    def __init__(self, db: Database, client: Any = None, *, acd_prefix: str = "acd:",
                 prefix: str = PREFIX, clock: Callable[[], float] = time.time) -> None:
        self.db, self.client, self.prefix, self.clock = db, client, prefix, clock
        self.acd = Acd(client, acd_prefix, clock) if client is not None else None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("dialer_up", "1 when the component answered this scrape.",
                               labels=["component"])
        try:
            calls = list(self._calls())
            up.add_metric(["db"], 1)
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            calls = []
            up.add_metric(["db"], 0)
        try:
            acd = self._acd() if self.acd is not None else []
            up.add_metric(["acd"], 1 if self.acd is not None else 0)
        except (RedisError, OSError, AcdError, ValueError) as exc:
            log.warning("metrics: the ACD's Redis did not answer: %s", exc)
            acd = []
            up.add_metric(["acd"], 0)
        yield up
        yield from calls
        yield from acd

    # -- the database ---------------------------------------------------------------
    def _calls(self) -> Iterator[Metric]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        active = CallAttempt.status.in_([str(s) for s in ACTIVE_STATES])
        stmt = (select(CallAttempt.campaign_id, Campaign.name,
                       func.count(CallAttempt.dialed_at),
                       func.count(CallAttempt.answered_at),
                       func.sum(case((CallAttempt.dialed_at >= now - timedelta(minutes=1), 1),
                                     else_=0)),
                       *(func.sum(case((CallAttempt.status == str(s), 1), else_=0))
                         for s in ACTIVE_STATES),
                       func.min(case((active, CallAttempt.dialed_at))))
                .join(Campaign, Campaign.id == CallAttempt.campaign_id)
                .group_by(CallAttempt.campaign_id, Campaign.name)
                .order_by(CallAttempt.campaign_id))
        with self.db.session() as s:
            rows = s.execute(stmt).all()
        dialed = CounterMetricFamily(
            "dialer_calls_dialed", "Call attempts dialed (INVITE sent), by campaign.",
            labels=["campaign_id", "campaign"])
        answered = CounterMetricFamily(
            "dialer_calls_answered", "Call attempts answered, by campaign.",
            labels=["campaign_id", "campaign"])
        last_minute = GaugeMetricFamily(
            "dialer_calls_dialed_last_minute",
            "Call attempts dialed in the last 60 seconds (the dial rate), by campaign.",
            labels=["campaign_id", "campaign"])
        by_state = dict.fromkeys(ACTIVE_STATES, 0)
        oldest: datetime | None = None
        for cid, name, n_dialed, n_answered, n_recent, *states, first in rows:
            labels = [str(cid), name]
            dialed.add_metric(labels, int(n_dialed or 0))
            answered.add_metric(labels, int(n_answered or 0))
            last_minute.add_metric(labels, int(n_recent or 0))
            for state, n in zip(ACTIVE_STATES, states, strict=True):
                by_state[state] += int(n or 0)
            if first is not None:
                first = first if first.tzinfo else first.replace(tzinfo=UTC)
                oldest = first if oldest is None else min(oldest, first)
        gauge = GaugeMetricFamily(
            "dialer_active_calls", "Calls under way: dialing (ringing) or answered.",
            labels=["state"])
        for state, n in by_state.items():
            gauge.add_metric([str(state)], n)
        age = GaugeMetricFamily(
            "dialer_active_call_oldest_seconds",
            "Age of the oldest call still dialing or answered (0: none); far above "
            "DIALER_MAX_CALL_S means an attempt was left open by a lost worker.")
        age.add_metric([], 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()))
        yield from (gauge, age, dialed, answered, last_minute)

    # -- Redis: the ACD and the turn histograms -------------------------------------
    def _acd(self) -> list[Metric]:
        """Read everything first: a Redis that fails half way reports nothing of it."""
        assert self.acd is not None
        now = self.clock()
        queues = sorted(str(q) for q in self.client.smembers(f"{self.acd.p}queues"))
        waiting = dict.fromkeys(queues, 0)
        longest = dict.fromkeys(queues, 0.0)
        handoffs = dict.fromkeys(HANDOFF_STATES, 0)
        for call in self.acd.live_calls():
            state, queue = call.get("state", ""), str(call.get("queue", ""))
            if state in handoffs:
                handoffs[state] += 1
            if state == "waiting":
                waiting[queue] = waiting.get(queue, 0) + 1
                longest[queue] = max(longest.get(queue, 0.0),
                                     now - float(call["queued_at"]))
        agents = {s: 0 for s in STATES if s != "offline"}
        for agent in self.acd.agents():
            agents[agent["state"]] = agents.get(agent["state"], 0) + 1
        stats = {q: self.acd.stats(q) for q in waiting}
        with self.client.pipeline(transaction=False) as p:
            for name, _help in HISTOGRAMS.values():
                p.hgetall(_key(self.prefix, name))
            hists = p.execute()

        length = GaugeMetricFamily("dialer_queue_length",
                                   "Handed-off calls waiting for an agent, by queue.",
                                   labels=["queue"])
        wait = GaugeMetricFamily("dialer_queue_longest_wait_seconds",
                                 "How long the oldest call waiting in the queue has waited "
                                 "(0: none waiting).", labels=["queue"])
        outcomes = CounterMetricFamily(
            "dialer_queue_calls", "Queued calls an agent accepted or the caller abandoned, "
            "by queue (since the ACD's Redis started).", labels=["queue", "outcome"])
        for q in sorted(waiting):
            length.add_metric([q], waiting[q])
            wait.add_metric([q], round(max(0.0, longest[q]), 3))
            for outcome in ("accepted", "abandoned"):
                outcomes.add_metric([q, outcome], stats.get(q, {}).get(outcome, 0))
        handoff = GaugeMetricFamily(
            "dialer_handoff_calls", "Calls handed to people and not yet ended: waiting in "
            "a queue, offered to an agent, or connected to one.", labels=["state"])
        for state, n in handoffs.items():
            handoff.add_metric([state], n)
        people = GaugeMetricFamily("dialer_agents", "Logged-in agents, by state.",
                                   labels=["state"])
        for state, n in agents.items():
            people.add_metric([state], n)
        out: list[Metric] = [length, wait, outcomes, handoff, people]
        for (name, doc), data in zip(HISTOGRAMS.values(), hists, strict=True):
            out.append(HistogramMetricFamily(
                name, doc, buckets=[(le, int(data.get(le, 0))) for le in _LE],
                sum_value=float(data.get("sum", 0.0))))
        return out


def redis_client(url: str | None, timeout_s: float = 2.0) -> Any:
    """A client that gives up quickly when Redis is away (None: no URL)."""
    if url is None:
        return None
    import redis

    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout_s,
                                socket_connect_timeout=timeout_s)


_clients: dict[str, Any] = {}


def shared_client(url: str | None) -> Any:
    """This process's client for the turn histograms (one connection pool for all its
    calls). Half a second at most per turn when Redis is away: turns are stored on the
    same thread, after each other."""
    if url is None:
        return None
    if url not in _clients:
        _clients[url] = redis_client(url, timeout_s=0.5)
    return _clients[url]
