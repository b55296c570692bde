"""The call explorer: calls found by the number's last digits, disposition, an intent
the customer said, campaign and local days, and each call with its transcript and
recording. Phone numbers are masked for the roles that study calls rather than people
(campaigns/privacy.py), in the free texts too (reasons, errors, notes, what was said),
and recordings are served only to the roles that review call quality. Times and days
are the user's time zone's (dialer/web/zones.py) unless a `tz` says otherwise."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse

from campaigns.db import Database
from campaigns.lifecycle import list_campaigns
from campaigns.privacy import (
    FULL_PHONE_ROLES,
    RECORDING_ROLES,
    VISIBLE_DIGITS,
    check_search,
    phone_suffix,
)
from campaigns.queries.calls import CallSearch, find_calls, intents_said, recording_path
from campaigns.report import call_detail, call_for
from campaigns.statuses import Disposition
from dialer.web.auth import allow
from dialer.web.deps import Db, Render, User
from dialer.web.roles import CALL_ROLES
from dialer.web.routes.dashboards import check_disposition, day_bounds
from dialer.web.uploads import audit
from dialer.web.zones import Zone, local_text, pick_zone

PAGE_SIZE = 50
router = APIRouter()
G711_LAWS = {"PCMU": "μ-law", "PCMA": "A-law"}


def line_label(codec: str | None) -> str:
    """The call's line in words, from its codec as pjsip names it: "PCMU/8000" is
    "G.711 μ-law (PCMU, 8 kHz)", "G722/16000" is "G.722 (16 kHz)" (its audio is 16 kHz
    whatever RTP clock it announces), "opus/48000" is "opus (48 kHz)"; "—" unknown."""
    if not codec:
        return "—"
    name, _, rate = codec.partition("/")
    khz = f"{int(rate) / 1000:g} kHz" if rate.isdigit() and int(rate) > 0 else None
    if name.upper() == "G722":
        return "G.722 (16 kHz)"
    if name.upper() in G711_LAWS:
        return f"G.711 {G711_LAWS[name.upper()]} ({name.upper()}, {khz or '8 kHz'})"
    return f"{name} ({khz})" if khz else codec


def search(db: Database, role: str, phone: str | None, disposition: str | None,
           intent: str | None, campaign: int | None, start: date | None, end: date | None,
           tz: str, page_no: int) -> dict[str, Any]:
    """One page of the calls found (HTTPException 400: a filter that cannot be used)."""
    disposition = check_disposition(disposition)
    lo, hi = day_bounds(start, end, tz)
    digits = None
    if phone:
        digits = phone_suffix(phone) or ""
        if len(digits) < VISIBLE_DIGITS:
            raise HTTPException(400, "search by at least the last 4 digits of the number")
        try:
            check_search(role, digits)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
    found = find_calls(db, CallSearch(digits, disposition, intent, campaign, lo, hi), role,
                       page_no, PAGE_SIZE)
    total = found["total"]
    pages = max(1, -(-total // PAGE_SIZE))
    return {"total": total, "page": page_no, "pages": pages, "calls": found["calls"]}


def masked(role: str, call: dict[str, Any]) -> dict[str, Any]:
    call_for(role, call)  # the number, and every text a number may hide in
    on_file = bool(call.pop("recording", None))
    call["recording_on_file"] = on_file
    call["recording"] = (f"/api/calls/{call['attempt_id']}/recording"
                         if on_file and role in RECORDING_ROLES else None)
    return call


def one_call(db: Database, role: str, attempt_id: int) -> dict[str, Any]:
    call = call_detail(db, attempt_id)
    if call is None:
        raise HTTPException(404, f"no call {attempt_id}")
    return masked(role, call)


@router.get("/calls", response_class=HTMLResponse, dependencies=[allow(*CALL_ROLES)])
def calls_page(db: Db, user: User, page: Render, phone: str | None = None,
               disposition: str | None = None, intent: str | None = None,
               campaign: Annotated[str | None, Query()] = None,
               start: Annotated[str | None, Query()] = None,
               end: Annotated[str | None, Query()] = None, tz: str | None = None,
               page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
               *, mine: Zone) -> HTMLResponse:
    # The form sends empty fields as empty strings: they mean "any".
    zone = mine  # an unknown `tz` is said, and the user's own zone used
    try:
        zone = pick_zone(tz, mine)
        found = search(db, user.role, phone or None, disposition or None, intent or None,
                       int(campaign) if campaign else None,
                       date.fromisoformat(start) if start else None,
                       date.fromisoformat(end) if end else None, zone, page_no)
        error = None
    except (HTTPException, ValueError) as exc:
        found = {"total": 0, "page": 1, "pages": 1, "calls": []}
        error = exc.detail if isinstance(exc, HTTPException) else f"bad date: {exc}"
    for c in found["calls"]:
        c["started_local"] = local_text(c.get("started"), zone)
    query = {"phone": phone or "", "disposition": disposition or "",
             "intent": intent or "", "campaign": campaign or "", "start": start or "",
             "end": end or "", "tz": "" if zone == mine else zone}
    return page("calls.html", found=found, query=query, error=error,
                campaigns=list_campaigns(db), intents=intents_said(db),
                dispositions=[d.value for d in Disposition],
                masked=user.role not in FULL_PHONE_ROLES, tz=zone)


@router.get("/api/calls", dependencies=[allow(*CALL_ROLES)])
def api_calls(db: Db, user: User, phone: str | None = None, disposition: str | None = None,
              intent: str | None = None, campaign: int | None = None,
              start: date | None = None, end: date | None = None, tz: str | None = None,
              page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
              *, mine: Zone) -> dict[str, Any]:
    """Calls, newest first, 50 a page: by the number's last digits, disposition, an
    intent the customer said, campaign, and local days (`start`, `end`) of time zone
    `tz` (an IANA name; default: your zone, see /api/me/preferences). Times are UTC.
    Analysts see masked numbers."""
    return search(db, user.role, phone, disposition, intent, campaign, start, end,
                  pick_zone(tz, mine), page_no)


@router.get("/calls/{attempt_id}", response_class=HTMLResponse,
            dependencies=[allow(*CALL_ROLES)])
def call_page(db: Db, user: User, page: Render, attempt_id: int, tz: Zone) -> HTMLResponse:
    call = one_call(db, user.role, attempt_id)
    for key in ("dialed_at", "answered_at", "ended_at"):
        call[key + "_local"] = local_text(call.get(key), tz)
    latencies = [t["latency_ms"] for t in call["turns"] if t["latency_ms"] is not None]
    return page("call.html", call=call, latencies=latencies, line=line_label(call["codec"]),
                tz=tz)


@router.get("/api/calls/{attempt_id}", dependencies=[allow(*CALL_ROLES)])
def api_call(db: Db, user: User, attempt_id: int) -> dict[str, Any]:
    """One call: its times, outcome, escalation reason and every turn with its timing,
    intent, confidences and latency."""
    return one_call(db, user.role, attempt_id)


@router.get("/api/calls/{attempt_id}/recording", dependencies=[allow(*RECORDING_ROLES)])
def api_recording(db: Db, user: User, attempt_id: int) -> FileResponse:
    """The call's recording (WAV, both sides), for the roles that review quality. Each
    time it is played (fetched) is in the audit log."""
    path = recording_path(db, attempt_id)
    if not path or not Path(path).is_file():
        raise HTTPException(404, f"call {attempt_id} has no recording on file")
    audit(db, user, "recording_played", {"attempt_id": attempt_id})
    return FileResponse(path, media_type="audio/wav", filename=f"call-{attempt_id}.wav",
                        content_disposition_type="inline")
