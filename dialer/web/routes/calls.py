"""The call explorer: calls found by the number's last digits, the contact's name,
disposition, an intent the customer said, campaign and local days, and each call with
its transcript, its recording and the calls before and after it under the same filters
(kept in the links, so "← Calls" goes back to the same list). Phone numbers are masked
for the roles that study calls rather than people (campaigns/privacy.py), in the free
texts too (reasons, errors, notes, what was said), and so are names (the first
character only): those roles may not search by name, since a name typed letter by
letter would find whom a masked call was with. Recordings are served only to the roles
that review call quality. Times and days are the user's time zone's
(dialer/web/zones.py) unless a `tz` says otherwise. Page texts are in the user's
language (dialer/web/i18n.py); the API's words stay English."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from campaigns.db import Database
from campaigns.lifecycle import list_campaigns
from campaigns.privacy import (
    FULL_PHONE_ROLES,
    RECORDING_ROLES,
    VISIBLE_DIGITS,
    phone_suffix,
)
from campaigns.queries.calls import (
    CallSearch,
    find_calls,
    intents_said,
    neighbours,
    recording_path,
)
from campaigns.report import call_detail, call_for
from campaigns.statuses import Disposition
from dialer.web import i18n
from dialer.web.auth import allow
from dialer.web.deps import Db, Render, User
from dialer.web.errors import Rejected
from dialer.web.roles import CALL_ROLES, CAMPAIGN_ROLES
from dialer.web.routes.dashboards import check_disposition, day_bounds
from dialer.web.uploads import audit
from dialer.web.zones import Zone, local_text, pick_zone

PAGE_SIZE = 50
NAME_LONGEST = 100
# The explorer's filters, in the order of its form and of the links that keep them.
FILTERS = ("phone", "name", "campaign", "disposition", "intent", "start", "end", "tz")
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


def _t(text: str) -> str:
    """A text of this module's, translated in dialer/web/locale/ko/calls.json."""
    return text


# Who said a turn, the same words on every page (the agent console's too).
SPEAKERS = {"bot": _t("Robot"), "customer": _t("Customer"), "agent": _t("Agent")}
SECONDS = _t("{s} s")
MINUTES = _t("{m} min {ss} s")


def who_said(speaker: str | None, lang: str) -> str:
    return i18n.translate(lang, SPEAKERS.get(speaker or "", _t("Customer")))


def talk_words(seconds: float | None, lang: str) -> str:
    """Talk time in whole seconds: "46 s", "1 min 06 s" (in `lang`)."""
    whole = max(0, round(seconds or 0))
    if whole < 60:
        return i18n.translate(lang, SECONDS, s=whole)
    return i18n.translate(lang, MINUTES, m=whole // 60, ss=f"{whole % 60:02d}")


def node_words(node: str | None) -> str:
    """A script node's name in words: "opt_out_close" -> "opt out close"."""
    return " ".join((node or "").replace("_", " ").split())


class Refused(Exception):
    """A filter that cannot be used, said in a sentence (English, with its values)."""

    def __init__(self, text: str, **values: Any) -> None:
        super().__init__(text.format(**values))
        self.text, self.values = text, values

    def said_in(self, lang: str) -> str:
        return i18n.translate(lang, self.text, **self.values)


NO_NAME_SEARCH = _t("Your role sees names by their first letter only, so it cannot search "
                    "by name.")
FEW_DIGITS = _t("Search by at least the last {n} digits of the number.")
MANY_DIGITS = _t("Your role may search by the last {n} digits of a number at most.")
LONG_NAME = _t("Search by a name of at most {n} characters.")
BAD_DATE = _t("That is a bad date: choose it in the calendar, or type it as YYYY-MM-DD.")
BAD_CAMPAIGN = _t("Choose the campaign from the list.")
REVERSED = _t("The range ends before it starts: swap the two days.")


def search_for(role: str, phone: str | None, name: str | None, disposition: str | None,
               intent: str | None, campaign: int | None, start: date | None,
               end: date | None, tz: str) -> CallSearch:
    """The search the filters ask for (Refused: one cannot be used by `role`)."""
    try:
        disposition = check_disposition(disposition)
        lo, hi = day_bounds(start, end, tz)
    except HTTPException as exc:
        if start and end and end < start:
            raise Refused(REVERSED) from None
        raise Refused(str(exc.detail)) from None
    digits = None
    if phone:
        digits = phone_suffix(phone) or ""
        if len(digits) < VISIBLE_DIGITS:
            raise Refused(FEW_DIGITS, n=VISIBLE_DIGITS)
        if role not in FULL_PHONE_ROLES and len(digits) > VISIBLE_DIGITS:
            raise Refused(MANY_DIGITS, n=VISIBLE_DIGITS)
    name = (name or "").strip() or None
    if name is not None:
        if role not in FULL_PHONE_ROLES:
            raise Refused(NO_NAME_SEARCH)
        if len(name) > NAME_LONGEST:
            raise Refused(LONG_NAME, n=NAME_LONGEST)
    return CallSearch(digits, disposition, intent, campaign, lo, hi, name)


def search(db: Database, role: str, wanted: CallSearch, page_no: int) -> dict[str, Any]:
    found = find_calls(db, wanted, role, page_no, PAGE_SIZE)
    total = found["total"]
    pages = max(1, -(-total // PAGE_SIZE))
    return {"total": total, "page": page_no, "pages": pages, "calls": found["calls"]}


def masked(role: str, call: dict[str, Any]) -> dict[str, Any]:
    call_for(role, call)  # the number, the name, and every text a number may hide in
    on_file = bool(call.pop("recording", None))
    call["recording_on_file"] = on_file
    call["recording"] = (f"/api/calls/{call['attempt_id']}/recording"
                         if on_file and role in RECORDING_ROLES else None)
    return call


def one_call(db: Database, role: str, attempt_id: int) -> dict[str, Any]:
    call = call_detail(db, attempt_id)
    if call is None:
        raise Rejected(404, "no call {id}", id=attempt_id)
    return masked(role, call)


def page_language(request: Request, user: Any) -> str:
    return i18n.choose(getattr(user, "language", None), request.headers.get("accept-language"))


def filters_of(request: Request, mine: str) -> tuple[dict[str, str], str]:
    """The explorer's filters as the page's links keep them (only those given, each cut
    to a sane length), and the time zone they use."""
    query = {k: request.query_params.get(k, "").strip()[:200] for k in FILTERS}
    query = {k: v for k, v in query.items() if v}
    zone = mine
    if query.get("tz"):
        zone = pick_zone(query["tz"], mine)  # HTTPException: not a zone
        if zone == mine:
            query.pop("tz")
    return query, zone


def search_from(query: dict[str, str], role: str, zone: str) -> CallSearch:
    try:
        start = date.fromisoformat(query["start"]) if query.get("start") else None
        end = date.fromisoformat(query["end"]) if query.get("end") else None
    except ValueError:
        raise Refused(BAD_DATE) from None
    campaign = query.get("campaign")
    if campaign and not (campaign.isascii() and campaign.isdigit() and int(campaign) > 0):
        raise Refused(BAD_CAMPAIGN)
    if campaign and int(campaign) >= 2**63:  # the app's 422 page says it is out of range
        raise OverflowError("campaign id past 64 bits")
    return search_for(role, query.get("phone"), query.get("name"), query.get("disposition"),
                      query.get("intent"), int(campaign) if campaign else None, start, end,
                      zone)


@router.get("/calls", response_class=HTMLResponse, dependencies=[allow(*CALL_ROLES)])
def calls_page(request: Request, db: Db, user: User, page: Render,
               page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
               *, mine: Zone) -> HTMLResponse:
    """The call explorer: search calls, 50 a page, filters kept."""
    # The form sends empty fields as empty strings: they mean "any".
    lang = page_language(request, user)
    query: dict[str, str] = {}
    zone = mine  # an unknown `tz` is said, and the user's own zone used
    found: dict[str, Any] = {"total": 0, "page": 1, "pages": 1, "calls": []}
    error = None
    try:
        query, zone = filters_of(request, mine)
        found = search(db, user.role, search_from(query, user.role, zone), page_no)
    except Refused as exc:
        error = exc.said_in(lang)
    except HTTPException as exc:
        error = i18n.translate(lang, str(exc.detail))
    for c in found["calls"]:
        c["started_local"] = local_text(c.get("started"), zone)
        c["talk"] = talk_words(c["duration_s"], lang)
        c["last_step"] = node_words(c.get("end_node"))
    export = {k: v for k, v in query.items() if k in (
        "phone", "campaign", "disposition", "start", "end", "tz", "intent", "name")}
    return page("calls.html", found=found, query=query, error=error,
                back=urlencode(query), campaigns=list_campaigns(db),
                intents=intents_said(db), dispositions=[d.value for d in Disposition],
                masked=user.role not in FULL_PHONE_ROLES, tz=zone,
                campaign_links=user.role in CAMPAIGN_ROLES,
                export=urlencode({**export, "format": "csv"}))


@router.get("/api/calls", dependencies=[allow(*CALL_ROLES)])
def api_calls(db: Db, user: User, phone: str | None = None, disposition: str | None = None,
              intent: str | None = None, campaign: int | None = None,
              start: date | None = None, end: date | None = None, tz: str | None = None,
              name: Annotated[str | None, Query(max_length=NAME_LONGEST)] = None,
              page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
              *, mine: Zone) -> dict[str, Any]:
    """Calls, newest first, 50 a page: by the number's last digits, the contact's name
    (whole or its beginning; not for the roles that see masked numbers), disposition,
    an intent the customer said, campaign, and local days (`start`, `end`) of time zone
    `tz` (an IANA name; default: your zone, see /api/me/preferences). Times are UTC.
    Analysts see masked numbers and names."""
    try:
        wanted = search_for(user.role, phone, name, disposition, intent, campaign, start,
                            end, pick_zone(tz, mine))
    except Refused as exc:
        raise HTTPException(400, str(exc)) from None
    return search(db, user.role, wanted, page_no)


@router.get("/calls/{attempt_id}", response_class=HTMLResponse,
            dependencies=[allow(*CALL_ROLES)])
def call_page(request: Request, db: Db, user: User, page: Render, attempt_id: int,
              tz: Zone) -> HTMLResponse:
    """One call: facts, transcript, latencies, recording, newer and older calls."""
    lang = page_language(request, user)
    call = one_call(db, user.role, attempt_id)
    for key in ("dialed_at", "answered_at", "ended_at"):
        call[key + "_local"] = local_text(call.get(key), tz)
    for t in call["turns"]:
        t["who"] = who_said(t.get("speaker"), lang)
        t["step"] = node_words(t.get("node"))
    latencies = [t["latency_ms"] for t in call["turns"] if t["latency_ms"] is not None]
    near: dict[str, int | None] = {"newer": None, "older": None}
    query: dict[str, str] = {}
    try:  # the list's filters, for "← Calls" and the calls before and after this one
        query, zone = filters_of(request, tz)
        near = neighbours(db, search_from(query, user.role, zone), attempt_id)
    except (Refused, HTTPException, OverflowError):
        query = {}
    return page("call.html", call=call, latencies=latencies, line=line_label(call["codec"]),
                tz=tz, talk=talk_words(call["duration_s"], lang),
                last_step=node_words(call.get("end_node")), near=near,
                campaign_links=user.role in CAMPAIGN_ROLES,
                back=urlencode(query))


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
        raise Rejected(404, "call {id} has no recording on file", id=attempt_id)
    audit(db, user, "recording_played", {"attempt_id": attempt_id})
    return FileResponse(path, media_type="audio/wav", filename=f"call-{attempt_id}.wav",
                        content_disposition_type="inline")
