"""The live-agent console and the supervisor's floor view.

Agents log in to the ACD from the console with the phone their account names, go ready
or not ready (with a reason), see the queue, get a screen pop on an offer (who the
customer is, the campaign, why the robot handed off, the transcript so far, updating
live), accept or reject, and after the call fill the disposition form while the wrap-up
clock runs. Supervisors see every agent's state and every live call, and can listen to
a call, whisper to its agent, or barge in from their own phone.

Changes reach the browsers as server-sent events from the ACD's Redis channel (one
stream per open page), never by polling. An agent's console learns only of the agent
themselves and the call offered to them (a bare nudge for any other change in the
queue); other customers' numbers, names and words, and a supervisor listening in, stay
off it. Supervisors see the whole floor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel
from redis import RedisError

from campaigns.db import Database
from campaigns.models import Role
from campaigns.service import AGENT_OUTCOMES, CampaignError, save_agent_disposition
from campaigns.users import CurrentUser, agent_phone
from dialer.acd import NOT_READY_REASONS, Acd, AcdError, event_for_agent
from dialer.settings import DialerSettings

log = logging.getLogger("dialer.web")
ACD_DOWN = ("the call queue (ACD) cannot be reached right now: no calls are offered until "
            "it is back; this page reconnects by itself")
AGENTS = (Role.AGENT,)
FLOOR = (Role.ADMIN, Role.SUPERVISOR)
MONITOR_MODES = ("listen", "whisper", "barge")
HEARTBEAT_S = 15.0


class LoginIn(BaseModel):
    auto_accept: bool = False


class ReasonIn(BaseModel):
    reason: str


class CallIn(BaseModel):
    call: str


class DispositionIn(BaseModel):
    call: str
    outcome: str
    notes: str = ""
    callback_at: datetime | None = None
    ready: bool = True  # go ready after saving (the end of wrap-up)


class MonitorIn(BaseModel):
    call: str
    mode: str


def add_routes(app: FastAPI, db: Database, allow: Any,
               page: Callable[..., HTMLResponse]) -> None:
    settings = DialerSettings()

    @app.exception_handler(RedisError)
    async def _acd_down(request: Request, exc: RedisError) -> JSONResponse:
        # The details are for the operator's log; the person at the console gets what it
        # means for them.
        log.warning("ACD (Redis at %s) does not answer %s %s: %s", settings.resolved_acd_url,
                    request.method, request.url.path, exc)
        return JSONResponse({"detail": ACD_DOWN}, status_code=503)

    def acd() -> Acd:
        url = settings.resolved_acd_url
        if url is None:
            raise HTTPException(503, "no Redis for the ACD: set DIALER_ACD_URL (or a redis:// "
                                     "DIALER_BROKER_URL)")
        return Acd.shared(url)

    def me(request: Request) -> CurrentUser:
        user: CurrentUser = request.state.user
        return user

    def acd_call(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except AcdError as exc:
            raise HTTPException(409, str(exc)) from None

    def calls_view(a: Acd) -> list[dict[str, Any]]:
        calls = a.live_calls()
        for c in calls:
            c["transcript"] = a.transcript(c["id"])
        return calls

    # -- the agent's console ----------------------------------------------------------
    @app.get("/agent", response_class=HTMLResponse, dependencies=[allow(*AGENTS)])
    def agent_page(request: Request) -> HTMLResponse:
        uri, skills = agent_phone(db, me(request).id)
        return page(request, "agent.html", sip_uri=uri, skills=skills,
                    reasons=[r for r in NOT_READY_REASONS if r not in (
                        "logged in", "rejected offer", "missed offer")],
                    outcomes=AGENT_OUTCOMES)

    def waiting(a: Acd) -> list[dict[str, Any]]:
        """The queue as an agent sees it: how many wait and for how long; whose calls
        they are is for the agent they are offered to."""
        return [{"position": c["position"], "queue": c["queue"], "state": c["state"],
                 "queued_at": float(c["queued_at"])}
                for c in a.live_calls() if c["state"] in ("waiting", "offered")]

    @app.get("/api/agent/state", dependencies=[allow(*AGENTS)])
    def agent_state(request: Request) -> dict[str, Any]:
        """This agent's ACD state, the call offered to them or theirs (the screen pop,
        with its transcript), and how many calls wait."""
        a = acd()
        try:
            mine = a.agent(me(request).username)
        except AcdError:
            mine = {"id": me(request).username, "state": "offline"}
        current = None
        if mine.get("call"):  # offered, on the call, or the one being wrapped up
            try:
                current = a.call(mine["call"])
                current["transcript"] = a.transcript(mine["call"])
            except AcdError:
                current = None
        return {"agent": mine, "current": current, "waiting": waiting(a),
                "server_time": a.now()}

    @app.post("/api/agent/login", dependencies=[allow(*AGENTS)])
    def agent_login(request: Request, body: LoginIn) -> dict[str, Any]:
        """Present at the ACD (not ready yet), with the phone and skills of the account."""
        user = me(request)
        uri, skills = agent_phone(db, user.id)
        if not uri:
            raise HTTPException(409, "your account has no phone: an admin sets its SIP URI "
                                     "on the Users page")
        acd().login(user.username, name=user.username, sip_uri=uri, skills=skills,
                    auto_accept=body.auto_accept)
        return acd().agent(user.username)

    @app.post("/api/agent/ready", dependencies=[allow(*AGENTS)])
    def agent_ready(request: Request) -> dict[str, Any]:
        a = acd()
        acd_call(lambda: a.ready(me(request).username))
        a.route()  # a call may be waiting for exactly this
        return a.agent(me(request).username)

    @app.post("/api/agent/not-ready", dependencies=[allow(*AGENTS)])
    def agent_not_ready(request: Request, body: ReasonIn) -> dict[str, Any]:
        a = acd()
        acd_call(lambda: a.not_ready(me(request).username, body.reason))
        return a.agent(me(request).username)

    @app.post("/api/agent/logout", dependencies=[allow(*AGENTS)])
    def agent_logout(request: Request) -> dict[str, str]:
        acd_call(lambda: acd().logout(me(request).username))
        return {"state": "offline"}

    @app.post("/api/agent/accept", dependencies=[allow(*AGENTS)])
    def agent_accept(request: Request, body: CallIn) -> dict[str, Any]:
        """Take the call offered: the worker rings this agent's phone at once."""
        a = acd()
        acd_call(lambda: a.accept(me(request).username, body.call))
        return a.call(body.call)

    @app.post("/api/agent/reject", dependencies=[allow(*AGENTS)])
    def agent_reject(request: Request, body: CallIn) -> dict[str, Any]:
        """Turn the offer down: it goes to the next agent; this one is not ready."""
        a = acd()
        acd_call(lambda: a.reject(me(request).username, body.call))
        a.route()
        return a.agent(me(request).username)

    @app.post("/api/agent/disposition", dependencies=[allow(*AGENTS)])
    def agent_disposition(request: Request, body: DispositionIn) -> dict[str, Any]:
        """The form after the call: outcome, notes, an agreed callback; then ready."""
        user = me(request)
        try:
            attempt = int(body.call)
        except ValueError:
            raise HTTPException(400, f"call {body.call!r} is not a call attempt") from None
        when = body.callback_at
        if when is not None and when.tzinfo is None:
            raise HTTPException(400, "callback_at needs its time zone, e.g. +09:00")
        try:
            save_agent_disposition(db, attempt, user.username, body.outcome, body.notes,
                                   when.astimezone(UTC) if when else None)
        except CampaignError as exc:
            raise HTTPException(400, str(exc)) from None
        a = acd()
        if body.ready:
            acd_call(lambda: a.ready(user.username))
            a.route()
        a.publish("disposition", call=body.call, agent=user.username, outcome=body.outcome)
        return a.agent(user.username)

    # -- the supervisor ---------------------------------------------------------------
    @app.get("/supervisor", response_class=HTMLResponse, dependencies=[allow(*FLOOR)])
    def supervisor_page(request: Request) -> HTMLResponse:
        uri, _ = agent_phone(db, me(request).id)
        return page(request, "supervisor.html", sip_uri=uri, modes=MONITOR_MODES)

    @app.get("/api/supervisor/state", dependencies=[allow(*FLOOR)])
    def supervisor_state() -> dict[str, Any]:
        """Every agent logged in and every live call, with queue counters."""
        a = acd()
        calls = calls_view(a)
        queues = sorted({c["queue"] for c in calls})
        return {"agents": a.agents(), "calls": calls, "server_time": a.now(),
                "stats": {q: a.stats(q) for q in queues}}

    @app.post("/api/supervisor/monitor", dependencies=[allow(*FLOOR)])
    def supervisor_monitor(request: Request, body: MonitorIn) -> dict[str, Any]:
        """Ring the supervisor's phone into a live agent call: listen (hears both),
        whisper (the agent hears them too, the customer does not) or barge (all three)."""
        if body.mode not in MONITOR_MODES:
            raise HTTPException(400, f"mode {body.mode!r}: one of {', '.join(MONITOR_MODES)}")
        uri, _ = agent_phone(db, me(request).id)
        if not uri:
            raise HTTPException(409, "your account has no phone: an admin sets its SIP URI")
        a = acd()
        call = acd_call(lambda: a.call(body.call))
        if call["state"] != "connected":
            raise HTTPException(409, f"call {body.call} is {call['state']}, not with an agent")
        a.command(body.call, {"monitor": body.mode, "uri": uri,
                              "by": me(request).username})
        return {"call": body.call, "mode": body.mode, "uri": uri}

    # -- the event stream ---------------------------------------------------------------
    @app.get("/api/acd/events", dependencies=[allow(*AGENTS, *FLOOR)])
    async def acd_events(request: Request) -> StreamingResponse:
        """Server-sent events: one `data:` line of JSON per ACD change (queued, offered,
        accepted, ringing, connected, transcript, ended, abandoned, agent, ...).
        Supervisors get every change and the monitor events; an agent gets the changes
        about them and their call, and a content-free `queue` event for the rest."""
        import redis.asyncio as aredis

        url = settings.resolved_acd_url
        if url is None:
            raise HTTPException(503, "no Redis for the ACD")
        user = me(request)
        floor = user.role in FLOOR
        a = acd()
        channels, my_hash = a.channels(supervisors=floor), a.agent_key(user.username)

        client = aredis.Redis.from_url(url, decode_responses=True)
        try:
            await client.ping()
        except RedisError as exc:
            await client.aclose()
            log.warning("ACD (Redis at %s) does not answer the event stream: %s", url, exc)
            raise HTTPException(503, ACD_DOWN) from None

        async def for_me(data: str) -> str | None:
            """The message as this console may receive it (filtered here, on the server:
            what the browser is sent is what it can show)."""
            if floor:
                return data
            try:
                event = json.loads(data)
            except ValueError:
                return None
            if not isinstance(event, dict):
                return None
            current = None
            if event.get("call") and event.get("agent") != user.username:
                current = str(await client.hget(my_hash, "call") or "")
            out = event_for_agent(event, user.username, current)
            return None if out is None else json.dumps(out, ensure_ascii=False)

        async def stream() -> AsyncIterator[str]:
            ps = client.pubsub(ignore_subscribe_messages=True)
            await ps.subscribe(*channels)
            try:
                yield "retry: 2000\n\n"
                while not await request.is_disconnected():
                    msg = await ps.get_message(timeout=HEARTBEAT_S)
                    if msg is None:
                        yield ": still here\n\n"
                        continue
                    if (data := await for_me(str(msg["data"]))) is not None:
                        yield f"data: {data}\n\n"
            except RedisError as exc:  # the console reconnects and says so meanwhile
                log.warning("ACD event stream lost Redis: %s", exc)
            finally:
                with suppress(RedisError):  # a lost connection has nothing to close
                    await ps.unsubscribe(*channels)
                await ps.aclose()
                await client.aclose()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})
