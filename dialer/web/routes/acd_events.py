"""The consoles' live feed: GET /api/acd/events, server-sent events from the ACD's Redis
channel (one stream per open page), never polling.

An agent's console learns only of the agent themselves and the call offered to them (a
bare nudge for any other change in the queue); other customers' numbers, names and
words, and a supervisor listening in, stay off it. Supervisors see the whole floor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from redis import RedisError

from dialer.handoff.acd import event_for_agent
from dialer.web.auth import allow
from dialer.web.deps import Dialer, User
from dialer.web.errors import Rejected
from dialer.web.routes.agents import ACD_DOWN, AGENTS, FLOOR, acd
from dialer.web.words import intent_word

log = logging.getLogger("dialer.web")
HEARTBEAT_S = 15.0
router = APIRouter()


class Feed:
    """One console's stream: the ACD's changes as `username` may receive them (every
    change for the floor)."""

    def __init__(self, client: Any, username: str, my_hash: str, floor: bool) -> None:
        self.client, self.username, self.my_hash, self.floor = (client, username, my_hash,
                                                                floor)

    async def for_me(self, data: str) -> str | None:
        """The message as this console may receive it (filtered here, on the server:
        what the browser is sent is what it can show)."""
        if self.floor:
            return data
        try:
            event = json.loads(data)
        except ValueError:
            return None
        if not isinstance(event, dict):
            return None
        current = None
        if event.get("call") and event.get("agent") != self.username:
            current = str(await self.client.hget(self.my_hash, "call") or "")
        out = event_for_agent(event, self.username, current)
        turn = out.get("turn") if out is not None else None
        if isinstance(turn, dict) and turn.get("intent"):  # the console shows words
            turn["intent_words"] = intent_word(str(turn["intent"]))
        return None if out is None else json.dumps(out, ensure_ascii=False)

    async def stream(self, request: Request, channels: list[str]) -> AsyncIterator[str]:
        ps = self.client.pubsub(ignore_subscribe_messages=True)
        await ps.subscribe(*channels)
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                msg = await ps.get_message(timeout=HEARTBEAT_S)
                if msg is None:
                    yield ": still here\n\n"
                    continue
                if (data := await self.for_me(str(msg["data"]))) is not None:
                    yield f"data: {data}\n\n"
        except RedisError as exc:  # the console reconnects and says so meanwhile
            log.warning("ACD event stream lost Redis: %s", exc)
        finally:
            with suppress(RedisError):  # a lost connection has nothing to close
                await ps.unsubscribe(*channels)
            await ps.aclose()
            await self.client.aclose()


@router.get("/api/acd/events", dependencies=[allow(*AGENTS, *FLOOR)])
async def acd_events(request: Request, settings: Dialer, user: User) -> StreamingResponse:
    """Server-sent events: one `data:` line of JSON per ACD change (queued, offered,
    accepted, ringing, connected, transcript, ended, abandoned, agent, ...).
    Supervisors get every change and the monitor events; an agent gets the changes
    about them and their call, and a content-free `queue` event for the rest."""
    import redis.asyncio as aredis

    url = settings.resolved_acd_url
    if url is None:
        raise Rejected(503, "no Redis for the ACD")
    floor = user.role in FLOOR
    a = acd(settings)
    channels, my_hash = a.channels(supervisors=floor), a.agent_key(user.username)

    client = aredis.Redis.from_url(url, decode_responses=True)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        log.warning("ACD (Redis at %s) does not answer the event stream: %s", url, exc)
        raise HTTPException(503, ACD_DOWN) from None
    feed = Feed(client, user.username, my_hash, floor)
    return StreamingResponse(feed.stream(request, channels), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store",
                                      "X-Accel-Buffering": "no"})
