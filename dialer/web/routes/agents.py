"""The live-agent console and the supervisor's floor view.

Agents log in to the ACD from the console with the phone their account names, go ready
or not ready (with a reason), see the queue, get a screen pop on an offer (who the
customer is, the campaign, why the robot handed off, the transcript so far, updating
live), accept or reject, and after the call fill the disposition form while the wrap-up
clock runs. Supervisors see every agent's state and every live call, and can listen to
a call, whisper to its agent, or barge in from their own phone.

Changes reach the browsers as server-sent events from the ACD's Redis channel (one
stream per open page: dialer/web/routes/acd_events.py), never by polling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from redis import RedisError

from campaigns.attempts import AGENT_OUTCOMES, save_agent_disposition
from campaigns.lifecycle import CampaignError
from campaigns.models import Role
from campaigns.users import agent_phone
from dialer.handoff.acd import NOT_READY_REASONS, Acd, AcdError
from dialer.settings import DialerSettings
from dialer.web import i18n
from dialer.web.auth import allow
from dialer.web.deps import Db, Dialer, Render, User
from dialer.web.errors import Rejected
from dialer.web.words import intent_word

log = logging.getLogger("dialer.web")
ACD_DOWN = ("the call queue (ACD) cannot be reached right now: no calls are offered until "
            "it is back; this page reconnects by itself")
AGENTS = (Role.AGENT,)
FLOOR = (Role.ADMIN, Role.SUPERVISOR)
MONITOR_MODES = ("listen", "whisper", "barge")


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
    # ... or, with ready false, stay away from the queue for this reason.
    not_ready_reason: str | None = None


class MonitorIn(BaseModel):
    call: str
    mode: str


router = APIRouter()


async def acd_down(request: Request, exc: RedisError) -> JSONResponse:
    """The app's answer when the ACD's Redis does not answer a route."""
    # The details are for the operator's log; the person at the console gets what it
    # means for them.
    settings: DialerSettings = request.app.state.dialer_settings
    log.warning("ACD (Redis at %s) does not answer %s %s: %s", settings.resolved_acd_url,
                request.method, request.url.path, exc)
    return JSONResponse({"detail": ACD_DOWN}, status_code=503)


def acd(settings: DialerSettings) -> Acd:
    url = settings.resolved_acd_url
    if url is None:  # the setting's name is for the operator's log, not the agent's screen
        log.warning("no Redis for the ACD: set DIALER_ACD_URL (or a redis:// "
                    "DIALER_BROKER_URL)")
        raise Rejected(503, "the call queue is not set up on this server: ask an admin")
    return Acd.shared(url)


def acd_call(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except AcdError as exc:
        raise HTTPException(409, str(exc)) from None


def in_words(call: dict[str, Any], transcript: list[dict[str, Any]],
             lang: str = "en") -> dict[str, Any]:
    """The call for a person: why it was handed off and what the customer meant, in
    words (of `lang`) beside the stored codes."""
    info = call.get("info") or {}
    if info.get("reason"):
        call["info"] = {**info, "why": i18n.reason_said(lang, str(info["reason"]))}
    call["transcript"] = [{**t, "intent_words": intent_word(str(t["intent"]), lang)}
                          if t.get("intent") else t for t in transcript]
    return call


def calls_view(a: Acd, lang: str = "en") -> list[dict[str, Any]]:
    return [in_words(c, a.transcript(c["id"]), lang) for c in a.live_calls()]


def waiting(a: Acd) -> list[dict[str, Any]]:
    """The queue as an agent sees it: how many wait and for how long; whose calls
    they are is for the agent they are offered to."""
    return [{"position": c["position"], "queue": c["queue"], "state": c["state"],
             "queued_at": float(c["queued_at"])}
            for c in a.live_calls() if c["state"] in ("waiting", "offered")]


# -- the agent's console ----------------------------------------------------------------
@router.get("/agent", response_class=HTMLResponse, dependencies=[allow(*AGENTS)])
def agent_page(db: Db, me: User, page: Render) -> HTMLResponse:
    """The agent's console: presence, the offer with its ring and countdown, the
    screen pop, the wrap-up form."""
    uri, skills = agent_phone(db, me.id)
    return page("agent.html", sip_uri=uri, skills=skills,
                reasons=[r for r in NOT_READY_REASONS if r not in (
                    "logged in", "rejected offer", "missed offer")],
                outcomes=AGENT_OUTCOMES)


@router.get("/api/agent/state", dependencies=[allow(*AGENTS)])
def agent_state(request: Request, settings: Dialer, me: User) -> dict[str, Any]:
    """This agent's ACD state, the call offered to them or theirs (the screen pop,
    with its transcript), and how many calls wait."""
    a = acd(settings)
    try:
        mine = a.agent(me.username)
    except AcdError:
        mine = {"id": me.username, "state": "offline"}
    current = None
    if mine.get("call"):  # offered, on the call, or the one being wrapped up
        try:
            current = in_words(a.call(mine["call"]), a.transcript(mine["call"]),
                               i18n.of_request(request))
        except AcdError:
            current = None
    return {"agent": mine, "current": current, "waiting": waiting(a),
            "server_time": a.now(), "offer_s": settings.handoff_offer_s}


@router.post("/api/agent/login", dependencies=[allow(*AGENTS)])
def agent_login(db: Db, settings: Dialer, user: User, body: LoginIn) -> dict[str, Any]:
    """Present at the ACD (not ready yet), with the phone and skills of the account."""
    uri, skills = agent_phone(db, user.id)
    if not uri:
        raise Rejected(409, "your account has no phone: an admin sets its SIP URI on the "
                            "Users page")
    acd(settings).login(user.username, name=user.username, sip_uri=uri, skills=skills,
                        auto_accept=body.auto_accept)
    return acd(settings).agent(user.username)


@router.post("/api/agent/ready", dependencies=[allow(*AGENTS)])
def agent_ready(settings: Dialer, me: User) -> dict[str, Any]:
    """Ready for the next call (a waiting call may be offered at once)."""
    a = acd(settings)
    acd_call(lambda: a.ready(me.username))
    a.route()  # a call may be waiting for exactly this
    return a.agent(me.username)


@router.post("/api/agent/not-ready", dependencies=[allow(*AGENTS)])
def agent_not_ready(settings: Dialer, me: User, body: ReasonIn) -> dict[str, Any]:
    """Away from the queue for a reason (break, lunch, meeting, training, other)."""
    a = acd(settings)
    acd_call(lambda: a.not_ready(me.username, body.reason))
    return a.agent(me.username)


@router.post("/api/agent/logout", dependencies=[allow(*AGENTS)])
def agent_logout(settings: Dialer, me: User) -> dict[str, str]:
    """Leave the call queue (not ready, ready or in wrap-up), staying logged in."""
    acd_call(lambda: acd(settings).logout(me.username))
    return {"state": "offline"}


@router.post("/api/agent/accept", dependencies=[allow(*AGENTS)])
def agent_accept(settings: Dialer, me: User, body: CallIn) -> dict[str, Any]:
    """Take the call offered: the worker rings this agent's phone at once."""
    a = acd(settings)
    acd_call(lambda: a.accept(me.username, body.call))
    return a.call(body.call)


@router.post("/api/agent/reject", dependencies=[allow(*AGENTS)])
def agent_reject(settings: Dialer, me: User, body: CallIn) -> dict[str, Any]:
    """Turn the offer down: it goes to the next agent; this one is not ready."""
    a = acd(settings)
    acd_call(lambda: a.reject(me.username, body.call))
    a.route()
    return a.agent(me.username)


@router.post("/api/agent/disposition", dependencies=[allow(*AGENTS)])
def agent_disposition(db: Db, settings: Dialer, user: User,
                      body: DispositionIn) -> dict[str, Any]:
    """The form after the call: outcome, notes, an agreed callback; then ready, or not
    ready for `not_ready_reason` when `ready` is false."""
    if not body.outcome:
        raise Rejected(400, "choose the call's outcome before saving")
    try:
        attempt = int(body.call)
    except ValueError:
        raise Rejected(400, "call {call!r} is not a call attempt", call=body.call) from None
    when = body.callback_at
    if when is not None and when.tzinfo is None:
        raise Rejected(400, "callback_at needs its time zone, e.g. +09:00")
    try:
        save_agent_disposition(db, attempt, user.username, body.outcome, body.notes,
                               when.astimezone(UTC) if when else None)
    except CampaignError as exc:
        raise HTTPException(400, str(exc)) from None
    a = acd(settings)
    if body.ready:
        acd_call(lambda: a.ready(user.username))
        a.route()
    elif body.not_ready_reason:
        reason = body.not_ready_reason
        acd_call(lambda: a.not_ready(user.username, reason))
    a.publish("disposition", call=body.call, agent=user.username, outcome=body.outcome)
    return a.agent(user.username)


def leave_queue(settings: DialerSettings, agent_id: str) -> None:
    """An agent logging out of the web leaves the queue too, so no call is offered to
    someone who has gone: an offer on their screen goes to the next agent first. An
    agent on a call stays on it (hanging up is the worker's; wrap-up ends with them
    offline). The ACD away: logged out of the web all the same, with a warning."""
    url = settings.resolved_acd_url
    if url is None:
        return
    a = Acd.shared(url)
    try:
        mine = a.agent(agent_id)
        if mine.get("state") == "offered" and mine.get("call"):
            a.reject(agent_id, mine["call"])
            a.route()
        if mine.get("state") != "on_call":
            a.logout(agent_id)
    except AcdError:
        return  # not logged in to the queue: nothing to leave
    except RedisError as exc:
        log.warning("agent %s logged out of the web; the ACD (Redis at %s) did not answer "
                    "to log them out of the queue: %s", agent_id, url, exc)


# -- the supervisor ---------------------------------------------------------------------
@router.get("/supervisor", response_class=HTMLResponse, dependencies=[allow(*FLOOR)])
def supervisor_page(db: Db, me: User, page: Render) -> HTMLResponse:
    """The floor: every agent's state and every handed-off call, live; listen in."""
    uri, _ = agent_phone(db, me.id)
    return page("supervisor.html", sip_uri=uri, modes=MONITOR_MODES)


@router.get("/api/supervisor/state", dependencies=[allow(*FLOOR)])
def supervisor_state(request: Request, settings: Dialer) -> dict[str, Any]:
    """Every agent logged in and every live call, with queue counters."""
    a = acd(settings)
    calls = calls_view(a, i18n.of_request(request))
    queues = sorted({c["queue"] for c in calls})
    return {"agents": a.agents(), "calls": calls, "server_time": a.now(),
            "stats": {q: a.stats(q) for q in queues}}


@router.post("/api/supervisor/monitor", dependencies=[allow(*FLOOR)])
def supervisor_monitor(db: Db, settings: Dialer, me: User, body: MonitorIn) -> dict[str, Any]:
    """Ring the supervisor's phone into a live agent call: listen (hears both),
    whisper (the agent hears them too, the customer does not) or barge (all three)."""
    if body.mode not in MONITOR_MODES:
        raise Rejected(400, "mode {mode!r}: one of {modes}", mode=body.mode,
                       modes=", ".join(MONITOR_MODES))
    uri, _ = agent_phone(db, me.id)
    if not uri:
        raise Rejected(409, "your account has no phone: an admin sets its SIP URI")
    a = acd(settings)
    call = acd_call(lambda: a.call(body.call))
    if call["state"] != "connected":
        raise Rejected(409, "call {call} is {state}, not with an agent", call=body.call,
                       state=call["state"].replace("_", " "))
    a.command(body.call, {"monitor": body.mode, "uri": uri, "by": me.username})
    return {"call": body.call, "mode": body.mode, "uri": uri}
