"""The live wallboard: calls under way by state, agents by state, the queues and their
longest wait, and the last 15 minutes. It is pushed to the browser as server-sent
events: a snapshot every few seconds and at once on every ACD change. Its clock is the
user's time zone's, on 24 hours (dialer/web/zones.py).

Each snapshot carries its alarms: a caller waiting while no agent is ready, a long wait,
an abandon rate near the legal limit (THRESHOLDS); the page marks the tiles and says
them. With the ACD's Redis away the queue's and agents' tiles are unknown ("–"), never
zeros; a page whose snapshots stop coming says "stale". `?kiosk=1` is the board alone,
for a wall screen (1920x1080 without scrolling), with a full-screen button."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from redis import RedisError

from campaigns import analytics
from campaigns.db import Database
from campaigns.queries.calls import calls_under_way
from campaigns.statuses import AttemptStatus
from dialer.handoff.acd import Acd
from dialer.settings import DialerSettings
from dialer.web.auth import allow
from dialer.web.deps import Db, Dialer, Render
from dialer.web.roles import WALLBOARD_ROLES
from dialer.web.zones import Zone, local_text

WALLBOARD_WINDOW = timedelta(minutes=15)
WALLBOARD_EVERY_S = 3.0
# Tile -> (warn at, alarm at): the longest wait in seconds, the abandon rate (the legal
# limit is 3 % of live contacts).
THRESHOLDS: dict[str, tuple[float, float]] = {
    "longest_wait_s": (30.0, 60.0), "last_15_min.abandon_rate": (0.02, 0.03)}
router = APIRouter()


def acd(settings: DialerSettings) -> Acd | None:
    url = settings.resolved_acd_url
    return None if url is None else Acd.shared(url)


def wallboard(db: Database, settings: DialerSettings) -> dict[str, Any]:
    now = datetime.now(UTC)
    active = calls_under_way(db)
    recent = analytics.metrics(*analytics.load(db, None, now - WALLBOARD_WINDOW, None))
    out: dict[str, Any] = {
        "at": now.isoformat(), "acd": False, "acd_state": "none",
        "calls": {"dialing": active.get(AttemptStatus.DIALING, 0),
                  "with_robot": active.get(AttemptStatus.ANSWERED, 0),
                  "waiting_for_agent": 0, "with_agent": 0},
        "agents": {}, "queues": [], "queue_length": 0, "longest_wait_s": 0.0,
        "last_15_min": {k: recent[k] for k in (
            "attempts", "answered", "live_contacts", "conversions", "handoffs",
            "abandoned", "abandon_rate", "latency_p50_ms")},
    }
    a = acd(settings)
    if a is None:
        return with_alarms(out)
    try:
        live = a.live_calls()
        agents = a.agents()
    except RedisError:  # unknown, not zero: nobody may read "0 waiting" into an outage
        out.update(acd_state="down", agents=None, queue_length=None, longest_wait_s=None)
        out["calls"].update(waiting_for_agent=None, with_agent=None)
        return with_alarms(out)
    with_acd(out, live, agents)
    return with_alarms(out)


def with_alarms(board: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with `levels` (tile -> warn or alarm) and `alarms` (codes the page
    says in a sentence): nobody_ready, long_wait, abandon_rate."""
    levels: dict[str, str] = {}
    alarms: list[str] = []
    for tile, (warn, alarm) in THRESHOLDS.items():
        section, _, key = tile.rpartition(".")
        value = (board[section] if section else board).get(key)
        if value is None:
            continue
        if value >= alarm:
            levels[tile] = "alarm"
            alarms.append({"longest_wait_s": "long_wait"}.get(tile, "abandon_rate"))
        elif value >= warn:
            levels[tile] = "warn"
    if board.get("queue_length") and not (board.get("agents") or {}).get("ready"):
        levels["queue_length"] = levels["agents.ready"] = "alarm"
        alarms.insert(0, "nobody_ready")
    board.update(levels=levels, alarms=alarms)
    return board


def with_acd(out: dict[str, Any], live: list[dict[str, Any]],
             agents: list[dict[str, Any]]) -> None:
    """The ACD's side of the board: the agents, the queues, the calls with agents."""
    waiting = [c for c in live if c.get("state") in ("waiting", "offered")]
    with_agent = sum(c.get("state") == "connected" for c in live)
    queues: dict[str, list[float]] = {}
    for c in waiting:
        queues.setdefault(c.get("queue", "?"), []).append(float(c["waited_s"]))
    out.update({
        "acd": True, "acd_state": "ok",
        "agents": dict(Counter(ag["state"] for ag in agents)),
        "queues": [{"queue": q, "waiting": len(w), "longest_wait_s": max(w)}
                   for q, w in sorted(queues.items())],
        "queue_length": len(waiting),
        "longest_wait_s": max((float(c["waited_s"]) for c in waiting), default=0.0),
    })
    # handed-off calls are still "answered" in the database: split them out
    out["calls"]["waiting_for_agent"] = len(waiting)
    out["calls"]["with_agent"] = with_agent
    out["calls"]["with_robot"] = max(0, out["calls"]["with_robot"] - len(waiting)
                                     - with_agent)


@router.get("/wallboard", response_class=HTMLResponse, dependencies=[allow(*WALLBOARD_ROLES)])
def wallboard_page(db: Db, settings: Dialer, page: Render, tz: Zone,
                   kiosk: bool = False) -> HTMLResponse:
    """The wallboard; `kiosk=1`: the board alone, sized for a wall screen."""
    board = wallboard(db, settings)
    return page("wallboard.html", board=board, tz=tz, kiosk=kiosk,
                at_local=local_text(board["at"], tz, "%H:%M:%S"))


@router.get("/api/wallboard", dependencies=[allow(*WALLBOARD_ROLES)])
def api_wallboard(db: Db, settings: Dialer) -> dict[str, Any]:
    """Now: active calls by state, agents by state, queue length and longest wait,
    and the last 15 minutes' calls and abandon rate."""
    return wallboard(db, settings)


async def snapshots(request: Request, db: Database, settings: DialerSettings,
                    client: Any, a: Acd | None) -> AsyncIterator[str]:
    """A snapshot now and every WALLBOARD_EVERY_S, or as soon as the ACD changes."""
    ps = None
    try:
        if client is not None and a is not None:
            try:
                ps = client.pubsub(ignore_subscribe_messages=True)
                await ps.subscribe(a.p + "events")
            except RedisError:
                ps = None
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            snapshot = await asyncio.to_thread(wallboard, db, settings)
            yield f"data: {json.dumps(snapshot)}\n\n"
            if ps is None:
                await asyncio.sleep(WALLBOARD_EVERY_S)
                continue
            try:  # wake early on an ACD change, then let a burst settle
                if await ps.get_message(timeout=WALLBOARD_EVERY_S) is not None:
                    await asyncio.sleep(0.2)
                    while await ps.get_message(timeout=0.01) is not None:
                        pass
            except RedisError:
                ps = None
    finally:
        if ps is not None:
            await ps.aclose()
        if client is not None:
            await client.aclose()


@router.get("/api/wallboard/events", dependencies=[allow(*WALLBOARD_ROLES)])
async def wallboard_events(request: Request, db: Db, settings: Dialer) -> StreamingResponse:
    """Server-sent events: a wallboard snapshot every 3 s, and at once after an ACD
    change (a call queued, offered, connected, abandoned; an agent's state)."""
    import redis.asyncio as aredis

    url = settings.resolved_acd_url
    client = aredis.Redis.from_url(url, decode_responses=True) if url else None
    a = acd(settings)
    if client is not None:
        try:
            await client.ping()
        except RedisError:  # the board goes on without it: its tiles say "unknown"
            await client.aclose()
            client = None
    return StreamingResponse(snapshots(request, db, settings, client, a),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store",
                                      "X-Accel-Buffering": "no"})
