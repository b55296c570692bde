"""The analysts' pages: the campaign dashboard, the call explorer with each call's
transcript and recording, and the live wallboard.

The dashboard page draws what GET /api/dashboard returns (campaigns/analytics.py does
the counting), with Chart.js served from our own /static/vendor. The call explorer masks
phone numbers for the roles that study calls rather than people (campaigns/privacy.py),
in the free texts too (reasons, errors, notes, what was said), and serves recordings only to the roles that review call quality. The wallboard is
pushed to the browser as server-sent events: a snapshot every few seconds and at once on
every ACD change.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from redis import RedisError
from sqlalchemy import exists, func, select

from campaigns import analytics
from campaigns.db import Database
from campaigns.models import AttemptStatus, CallAttempt, Campaign, Contact, Disposition, Turn
from campaigns.privacy import (
    FULL_PHONE_ROLES,
    RECORDING_ROLES,
    VISIBLE_DIGITS,
    check_search,
    phone_for,
    phone_suffix,
)
from campaigns.report import call_detail, call_for
from campaigns.service import list_campaigns
from campaigns.users import CurrentUser
from dialer.acd import Acd
from dialer.settings import DialerSettings
from dialer.web import CALL_ROLES, CAMPAIGN_ROLES, WALLBOARD_ROLES

PAGE_SIZE = 50
WALLBOARD_WINDOW = timedelta(minutes=15)
WALLBOARD_EVERY_S = 3.0


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(400, f"unknown time zone {tz!r}: use an IANA name such as "
                                 "Asia/Seoul or UTC") from None


def _day_bounds(start: date | None, end: date | None, tz: str
                ) -> tuple[datetime | None, datetime | None]:
    """Local days [start, end] as UTC instants [from, to)."""
    zone = _zone(tz)
    if start and end and end < start:
        raise HTTPException(400, f"the range ends ({end}) before it starts ({start})")
    lo = datetime.combine(start, time(), zone).astimezone(UTC) if start else None
    hi = (datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
          if end else None)
    return lo, hi


def _check_disposition(disposition: str | None) -> str | None:
    try:
        return Disposition.parse(disposition)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def add_routes(app: FastAPI, db: Database, allow: Any,
               page: Callable[..., HTMLResponse]) -> None:
    settings = DialerSettings()

    def acd() -> Acd | None:
        url = settings.resolved_acd_url
        return None if url is None else Acd.shared(url)

    def me(request: Request) -> CurrentUser:
        user: CurrentUser = request.state.user
        return user

    def campaign_names() -> dict[int, str]:
        with db.session() as s:
            return dict(s.execute(select(Campaign.id, Campaign.name)).all())

    # -- the campaign dashboard -------------------------------------------------------
    def report(campaign: int | None, start: date | None, end: date | None,
               disposition: str | None, tz: str) -> dict[str, Any]:
        lo, hi = _day_bounds(start, end, tz)
        ids = None if campaign is None else [campaign]
        return analytics.dashboard(*analytics.load(db, ids, lo, hi, disposition), tz=tz)

    @app.get("/dashboard", response_class=HTMLResponse, dependencies=[allow(*CAMPAIGN_ROLES)])
    def dashboard_page(request: Request) -> HTMLResponse:
        return page(request, "dashboard.html", campaigns=list_campaigns(db),
                    dispositions=[d.value for d in Disposition],
                    definitions=analytics.DEFINITIONS, charts=analytics.CHART_DEFINITIONS)

    @app.get("/api/dashboard", dependencies=[allow(*CAMPAIGN_ROLES)])
    def api_dashboard(campaign: int | None = None, compare: int | None = None,
                      start: date | None = None, end: date | None = None,
                      disposition: str | None = None, tz: str = "UTC") -> dict[str, Any]:
        """Every number and chart of the dashboard for the calls created between the
        local days `start` and `end` (inclusive) in time zone `tz`: one campaign (or all),
        and a second one to compare side by side."""
        disposition = _check_disposition(disposition)
        names = campaign_names()
        for cid in (campaign, compare):
            if cid is not None and cid not in names:
                raise HTTPException(404, f"no campaign {cid}")
        out: dict[str, Any] = {
            "filters": {"campaign": campaign, "compare": compare, "start": start,
                        "end": end, "disposition": disposition, "tz": tz},
            "campaign": {"id": campaign, "name": names[campaign] if campaign is not None
                         else "All campaigns"},
            **report(campaign, start, end, disposition, tz),
            "definitions": {**analytics.DEFINITIONS, **analytics.CHART_DEFINITIONS},
        }
        if compare is not None:
            other = report(compare, start, end, disposition, tz)
            out["compare"] = {"campaign": {"id": compare, "name": names[compare]},
                              "metrics": other["metrics"], "funnel": other["funnel"]}
        return out

    # -- the call explorer ------------------------------------------------------------
    def search(role: str, phone: str | None, disposition: str | None, intent: str | None,
               campaign: int | None, start: date | None, end: date | None, tz: str,
               page_no: int) -> dict[str, Any]:
        disposition = _check_disposition(disposition)
        lo, hi = _day_bounds(start, end, tz)
        where: list[Any] = [CallAttempt.status != AttemptStatus.QUEUED]
        if phone:
            digits = phone_suffix(phone) or ""
            if len(digits) < VISIBLE_DIGITS:
                raise HTTPException(400, "search by at least the last 4 digits of the number")
            try:
                check_search(role, digits)
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None
            where.append(Contact.phone.like(f"%{digits}"))
        if disposition:
            where.append(CallAttempt.disposition == disposition)
        if intent:
            where.append(exists().where(Turn.attempt_id == CallAttempt.id,
                                        Turn.intent == intent))
        if campaign is not None:
            where.append(CallAttempt.campaign_id == campaign)
        if lo is not None:
            where.append(CallAttempt.created_at >= lo)
        if hi is not None:
            where.append(CallAttempt.created_at < hi)
        base = (select(CallAttempt, Contact.phone, Campaign.name)
                .join(Contact, Contact.id == CallAttempt.contact_id)
                .join(Campaign, Campaign.id == CallAttempt.campaign_id).where(*where))
        with db.session() as s:
            total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
            rows = s.execute(base.order_by(CallAttempt.id.desc())
                             .offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
            ids = [a.id for a, _, _ in rows]
            said: dict[int, list[str]] = {}
            for attempt_id, name in s.execute(
                    select(Turn.attempt_id, Turn.intent).where(
                        Turn.attempt_id.in_(ids), Turn.speaker == "customer",
                        Turn.intent.is_not(None)).order_by(Turn.attempt_id, Turn.seq)):
                said.setdefault(attempt_id, []).append(str(name))
            calls = [{
                "attempt_id": a.id, "campaign": cname, "phone": phone_for(role, number),
                "started": (a.dialed_at or a.created_at).isoformat(),
                "duration_s": round((a.ended_at - a.answered_at).total_seconds(), 1)
                if a.answered_at and a.ended_at else 0.0,
                "status": a.status, "disposition": a.disposition, "handoff": a.handoff,
                "intents": said.get(a.id, []), "end_node": a.end_node,
            } for a, number, cname in rows]
        pages = max(1, -(-total // PAGE_SIZE))
        return {"total": total, "page": page_no, "pages": pages, "calls": calls}

    def masked(role: str, call: dict[str, Any]) -> dict[str, Any]:
        call_for(role, call)  # the number, and every text a number may hide in
        on_file = bool(call.pop("recording", None))
        call["recording_on_file"] = on_file
        call["recording"] = (f"/api/calls/{call['attempt_id']}/recording"
                             if on_file and role in RECORDING_ROLES else None)
        return call

    @app.get("/calls", response_class=HTMLResponse, dependencies=[allow(*CALL_ROLES)])
    def calls_page(request: Request, phone: str | None = None, disposition: str | None = None,
                   intent: str | None = None, campaign: Annotated[str | None, Query()] = None,
                   start: Annotated[str | None, Query()] = None,
                   end: Annotated[str | None, Query()] = None, tz: str = "UTC",
                   page_no: Annotated[int, Query(alias="page", ge=1)] = 1) -> HTMLResponse:
        # The form sends empty fields as empty strings: they mean "any".
        try:
            found = search(me(request).role, phone or None, disposition or None,
                           intent or None, int(campaign) if campaign else None,
                           date.fromisoformat(start) if start else None,
                           date.fromisoformat(end) if end else None, tz, page_no)
            error = None
        except (HTTPException, ValueError) as exc:
            found = {"total": 0, "page": 1, "pages": 1, "calls": []}
            error = exc.detail if isinstance(exc, HTTPException) else f"bad date: {exc}"
        with db.session() as s:
            intents = sorted(i for i in s.scalars(select(Turn.intent).distinct()) if i)
        query = {"phone": phone or "", "disposition": disposition or "",
                 "intent": intent or "", "campaign": campaign or "", "start": start or "",
                 "end": end or "", "tz": tz}
        return page(request, "calls.html", found=found, query=query, error=error,
                    campaigns=list_campaigns(db), intents=intents,
                    dispositions=[d.value for d in Disposition],
                    masked=me(request).role not in FULL_PHONE_ROLES)

    @app.get("/api/calls", dependencies=[allow(*CALL_ROLES)])
    def api_calls(request: Request, phone: str | None = None, disposition: str | None = None,
                  intent: str | None = None, campaign: int | None = None,
                  start: date | None = None, end: date | None = None, tz: str = "UTC",
                  page_no: Annotated[int, Query(alias="page", ge=1)] = 1) -> dict[str, Any]:
        """Calls, newest first, 50 a page: by the number's last digits, disposition, an
        intent the customer said, campaign, and local days. Analysts see masked numbers."""
        return search(me(request).role, phone, disposition, intent, campaign, start, end, tz,
                      page_no)

    def one_call(request: Request, attempt_id: int) -> dict[str, Any]:
        call = call_detail(db, attempt_id)
        if call is None:
            raise HTTPException(404, f"no call {attempt_id}")
        return masked(me(request).role, call)

    @app.get("/calls/{attempt_id}", response_class=HTMLResponse,
             dependencies=[allow(*CALL_ROLES)])
    def call_page(request: Request, attempt_id: int) -> HTMLResponse:
        call = one_call(request, attempt_id)
        latencies = [t["latency_ms"] for t in call["turns"] if t["latency_ms"] is not None]
        return page(request, "call.html", call=call, latencies=latencies)

    @app.get("/api/calls/{attempt_id}", dependencies=[allow(*CALL_ROLES)])
    def api_call(request: Request, attempt_id: int) -> dict[str, Any]:
        """One call: its times, outcome, escalation reason and every turn with its timing,
        intent, confidences and latency."""
        return one_call(request, attempt_id)

    @app.get("/api/calls/{attempt_id}/recording", dependencies=[allow(*RECORDING_ROLES)])
    def api_recording(attempt_id: int) -> FileResponse:
        """The call's recording (WAV, both sides), for the roles that review quality."""
        with db.session() as s:
            path = s.scalar(select(CallAttempt.recording_path)
                            .where(CallAttempt.id == attempt_id))
        if not path or not Path(path).is_file():
            raise HTTPException(404, f"call {attempt_id} has no recording on file")
        return FileResponse(path, media_type="audio/wav",
                            filename=f"call-{attempt_id}.wav",
                            content_disposition_type="inline")

    # -- the wallboard ----------------------------------------------------------------
    def wallboard() -> dict[str, Any]:
        now = datetime.now(UTC)
        with db.session() as s:
            active = dict(s.execute(
                select(CallAttempt.status, func.count()).where(CallAttempt.status.in_(
                    (AttemptStatus.DIALING, AttemptStatus.ANSWERED)))
                .group_by(CallAttempt.status)).all())
        recent = analytics.metrics(*analytics.load(db, None, now - WALLBOARD_WINDOW, None))
        out: dict[str, Any] = {
            "at": now.isoformat(), "acd": False,
            "calls": {"dialing": active.get(AttemptStatus.DIALING, 0),
                      "with_robot": active.get(AttemptStatus.ANSWERED, 0),
                      "waiting_for_agent": 0, "with_agent": 0},
            "agents": {}, "queues": [], "queue_length": 0, "longest_wait_s": 0.0,
            "last_15_min": {k: recent[k] for k in (
                "attempts", "answered", "live_contacts", "conversions", "handoffs",
                "abandoned", "abandon_rate", "latency_p50_ms")},
        }
        a = acd()
        if a is None:
            return out
        try:
            live = a.live_calls()
            agents = a.agents()
        except RedisError:
            return out
        waiting = [c for c in live if c.get("state") in ("waiting", "offered")]
        with_agent = sum(c.get("state") == "connected" for c in live)
        queues: dict[str, list[float]] = {}
        for c in waiting:
            queues.setdefault(c.get("queue", "?"), []).append(float(c["waited_s"]))
        out.update({
            "acd": True,
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
        return out

    @app.get("/wallboard", response_class=HTMLResponse, dependencies=[allow(*WALLBOARD_ROLES)])
    def wallboard_page(request: Request) -> HTMLResponse:
        return page(request, "wallboard.html", board=wallboard())

    @app.get("/api/wallboard", dependencies=[allow(*WALLBOARD_ROLES)])
    def api_wallboard() -> dict[str, Any]:
        """Now: active calls by state, agents by state, queue length and longest wait,
        and the last 15 minutes' calls and abandon rate."""
        return wallboard()

    @app.get("/api/wallboard/events", dependencies=[allow(*WALLBOARD_ROLES)])
    async def wallboard_events(request: Request) -> StreamingResponse:
        """Server-sent events: a wallboard snapshot every 3 s, and at once after an ACD
        change (a call queued, offered, connected, abandoned; an agent's state)."""
        import redis.asyncio as aredis

        url = settings.resolved_acd_url
        client = aredis.Redis.from_url(url, decode_responses=True) if url else None
        a = acd()
        if client is not None:
            try:
                await client.ping()
            except RedisError as exc:  # the browser's EventSource tries again by itself
                await client.aclose()
                raise HTTPException(503, f"the ACD (Redis) does not answer: {exc}") from None

        async def stream() -> AsyncIterator[str]:
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
                    snapshot = await asyncio.to_thread(wallboard)
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

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})
