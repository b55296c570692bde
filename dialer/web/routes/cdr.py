"""Call detail record exports (CSV streamed, XLSX built on disk in constant memory, then
sent) with their filters, the export page, and the audit log of who exported what
(every export writes one entry: who, role, format, filters, rows). Days and times are
the user's time zone's unless `tz` names another; `tz=UTC` gives the files as they
always were (plain headers, `Z` times). The export page's form goes through the page
(`/cdr?format=csv&...`): filters that cannot be used (a range that ends before it
starts, an unknown zone) are said on the page in a sentence, and good ones are sent on
to the file. Pages are in the user's language (dialer/web/i18n.py)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from campaigns.cdr import (
    CDR_COLUMNS,
    CDR_DEFINITIONS,
    CdrError,
    CdrFilter,
    Counted,
    audit_entries,
    iter_cdr,
    make_filter,
    record_audit,
    write_csv,
    write_xlsx,
)
from campaigns.db import Database
from campaigns.lifecycle import list_campaigns
from campaigns.models import Role
from campaigns.privacy import FULL_PHONE_ROLES, VISIBLE_DIGITS, check_search
from campaigns.queries.calls import intents_said
from campaigns.statuses import Disposition
from campaigns.users import CurrentUser
from dialer.web import i18n
from dialer.web.auth import allow
from dialer.web.deps import Db, Render, User
from dialer.web.errors import Rejected
from dialer.web.roles import CALL_ROLES
from dialer.web.routes.calls import NO_NAME_SEARCH
from dialer.web.words import disposition_word, intent_word
from dialer.web.zones import Zone, local_text, pick_zone

EXPORT_ACTION = "cdr_export"
AUDIT_PAGE = 100
RECENT_EXPORTS = 20
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CampaignIds = Annotated[list[int] | None, Query(description="a campaign id; repeat for more")]
When = Annotated[str, Query(description="YYYY-MM-DD (a whole day of `tz`) or an ISO 8601 "
                                        "date and time (in `tz` unless an offset follows)")]
TimeZone = Annotated[str | None, Query(description="an IANA time zone for the days, the "
                                                   "times and the headers; default: yours "
                                                   "(/api/me/preferences); UTC: plain "
                                                   "headers and `Z` times")]
FORMATS = ("csv", "xlsx")
Short = Annotated[str, Query(max_length=100)]  # a user name or an action to filter by
router = APIRouter()


def _t(text: str) -> str:
    """A text of this module's, translated in dialer/web/locale/ko/calls.json."""
    return text


# What the audit log's actions are called (others are shown from their names).
ACTIONS = {EXPORT_ACTION: _t("CDR export"), "recording_played": _t("Recording played"),
           "rejections_download": _t("Rejected rows downloaded"),
           "trunk_saved": _t("Trunk saved"), "trunk_removed": _t("Trunk removed"),
           "dnc_add": _t("Added to do-not-call"), "dnc_remove": _t("Removed from do-not-call")}
SUMMARY = {"campaign": _t("campaign {ids}"), "days": _t("{start} → {end}"),
           "disposition": _t("disposition {word}"), "phone": _t("number ending {digits}"),
           "tz": _t("times in {zone}"), "all": _t("all calls"),
           "intent": _t("the customer said “{word}”"), "name": _t("name starting {name}")}


def action_words(action: str, lang: str = "en") -> str:
    if action in ACTIONS:
        return i18n.translate(lang, ACTIONS[action])
    return action.replace("_", " ").capitalize()


def summary(detail: dict[str, Any], lang: str = "en") -> str:
    """An audit entry's detail in a line for people: the filters of an export."""
    filters = detail.get("filters")
    if not isinstance(filters, dict):
        return json.dumps(detail, ensure_ascii=False)

    def say(key: str, **values: Any) -> str:
        return i18n.translate(lang, SUMMARY[key], **values)

    parts = []
    if filters.get("campaign_ids"):
        parts.append(say("campaign", ids=", ".join(str(c) for c in filters["campaign_ids"])))
    if filters.get("start") or filters.get("end"):
        parts.append(say("days", start=filters.get("start", "…"), end=filters.get("end", "…")))
    if filters.get("disposition"):
        parts.append(say("disposition", word=disposition_word(str(filters["disposition"]),
                                                             lang)))
    if filters.get("phone"):
        parts.append(say("phone", digits=filters["phone"]))
    if filters.get("tz"):
        parts.append(say("tz", zone=filters["tz"]))
    if filters.get("intent"):
        parts.append(say("intent", word=intent_word(str(filters["intent"]), lang)))
    if filters.get("name"):
        parts.append(say("name", name=filters["name"]))
    return "; ".join(parts) or say("all")


def export_filter(user: CurrentUser, campaign: list[int] | None, start: str, end: str,
                  disposition: str, phone: str, tz: str, intent: str = "",
                  name: str = "") -> CdrFilter:
    """The export's filter, as the call explorer's search: a role that sees names by
    their first letter cannot filter by name, as it cannot search by one."""
    try:
        f = make_filter(campaign or (), start, end, disposition, phone, tz, intent, name)
    except CdrError as exc:
        raise HTTPException(400, str(exc)) from None
    try:
        check_search(user.role, f.phone)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if f.name and masked(user):
        raise Rejected(400, NO_NAME_SEARCH)
    return f


def masked(user: CurrentUser) -> bool:
    return user.role not in FULL_PHONE_ROLES


def audit(db: Database, user: CurrentUser, fmt: str, f: CdrFilter, rows: int,
          complete: bool) -> None:
    record_audit(db, user.username, user.role, EXPORT_ACTION,
                 {"format": fmt, "filters": f.as_dict(), "rows": rows,
                  "masked": masked(user), "complete": complete})


def filename(ext: str) -> str:
    return f"cdr-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{ext}"


@router.get("/api/cdr.csv", dependencies=[allow(*CALL_ROLES)])
def cdr_csv(db: Db, user: User, campaign: CampaignIds = None, start: When = "",
            end: When = "", disposition: str = "", phone: str = "", tz: TimeZone = None,
            intent: Short = "", name: Short = "", *, mine: Zone) -> StreamingResponse:
    """Call detail records as CSV (UTF-8 with BOM), streamed; one row per call
    attempt; times in ISO 8601 with the zone's offset. Analysts get masked numbers.
    Recorded in the audit log."""
    f = export_filter(user, campaign, start, end, disposition, phone, pick_zone(tz, mine),
                      intent, name)
    counted = Counted(iter_cdr(db, f, mask=masked(user)))

    def body() -> Iterator[bytes]:
        complete = False
        try:
            yield from write_csv(counted, tz=f.tz)
            complete = True
        finally:  # also when the download stops half-way: what was sent is logged
            audit(db, user, "csv", f, counted.count, complete)

    return StreamingResponse(
        body(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={filename('csv')}"})


@router.get("/api/cdr.xlsx", dependencies=[allow(*CALL_ROLES)])
def cdr_xlsx(db: Db, user: User, campaign: CampaignIds = None, start: When = "",
             end: When = "", disposition: str = "", phone: str = "", tz: TimeZone = None,
             intent: Short = "", name: Short = "", *, mine: Zone) -> FileResponse:
    """Call detail records as an Excel workbook (times are date cells in the zone the
    header row names). Analysts get masked numbers. Recorded in the audit log."""
    f = export_filter(user, campaign, start, end, disposition, phone, pick_zone(tz, mine),
                      intent, name)
    fd, made = tempfile.mkstemp(prefix="cdr-", suffix=".xlsx")
    os.close(fd)
    try:
        rows = write_xlsx(iter_cdr(db, f, mask=masked(user)), Path(made), tz=f.tz)
    except CdrError as exc:
        os.unlink(made)
        raise HTTPException(413, str(exc)) from None
    except BaseException:
        os.unlink(made)
        raise
    audit(db, user, "xlsx", f, rows, True)
    return FileResponse(made, media_type=XLSX_TYPE, filename=filename("xlsx"),
                        background=BackgroundTask(os.unlink, made))


def page_language(request: Request, user: Any) -> str:
    return i18n.choose(getattr(user, "language", None), request.headers.get("accept-language"))


REVERSED = _t("The range ends before it starts: choose an end day after the start day.")
CANNOT = _t("These filters cannot be exported: {why}")
NOT_A_FORMAT = _t("Choose CSV or XLSX.")
BAD_CAMPAIGNS = _t("Choose the campaigns from the list.")
MANY_DIGITS = _t("Your role may search by the last {n} digits of a number at most.")


def export_check(user: CurrentUser, query: dict[str, Any], mine: str,
                 lang: str) -> str | None:
    """Why the export the page's form asks for cannot be made, in `lang` (None: it can)."""
    try:
        ids = [int(c) for c in query["campaign"]]
    except ValueError:
        return i18n.translate(lang, BAD_CAMPAIGNS)
    try:
        tz = pick_zone(query["tz"] or None, mine)
        export_filter(user, ids, query["start"], query["end"], query["disposition"],
                      query["phone"], tz, query["intent"], query["name"])
    except HTTPException as exc:
        why = str(exc.detail)
        if "must come after the start" in why:
            return i18n.translate(lang, REVERSED)
        if "digits of a number at most" in why:
            return i18n.translate(lang, MANY_DIGITS, n=VISIBLE_DIGITS)
        return i18n.translate(lang, CANNOT, why=why)
    return None


@router.get("/cdr", response_class=HTMLResponse, dependencies=[allow(*CALL_ROLES)])
def cdr_page(request: Request, db: Db, user: User, page: Render, tz: Zone,
             fmt: Annotated[str, Query(alias="format", max_length=10)] = "") -> Any:
    """The CDR export form and the user's recent exports."""
    lang = page_language(request, user)
    p = request.query_params
    query: dict[str, Any] = {k: p.get(k, "")[:100] for k in (
        "start", "end", "disposition", "phone", "tz", "intent", "name")}
    query["campaign"] = [c for c in p.getlist("campaign")[:1000] if c]
    error = None
    if fmt:
        error = (export_check(user, query, tz, lang) if fmt in FORMATS
                 else i18n.translate(lang, NOT_A_FORMAT))
        if error is None:
            params = [(k, v) for k, v in query.items() if k != "campaign" and v]
            params += [("campaign", c) for c in query["campaign"]]
            return RedirectResponse(f"/api/cdr.{fmt}?{urlencode(params)}", status_code=303)
    recent, _ = audit_entries(db, username=user.username, action=EXPORT_ACTION,
                              per_page=RECENT_EXPORTS)
    for e in recent:
        e["summary"] = summary(e["detail"], lang)
        e["at_local"] = local_text(e["at"], tz)
    return page("cdr.html", status=400 if error else 200, campaigns=list_campaigns(db),
                intents=intents_said(db),
                dispositions=[d.value for d in Disposition], recent=recent,
                columns=[(c, i18n.translate(lang, CDR_DEFINITIONS[c])) for c in CDR_COLUMNS],
                masked=masked(user), visible_digits=VISIBLE_DIGITS, tz=tz,
                error=error, query=query)


@router.get("/admin/audit", response_class=HTMLResponse, dependencies=[allow(Role.ADMIN)])
def audit_page(request: Request, db: Db, me: User, page: Render, tz: Zone,
               page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
               user: Short = "", action: Short = "") -> HTMLResponse:
    """The audit log: exports, downloads, plays and user changes (admins)."""
    entries, total = audit_entries(db, username=user or None, action=action or None,
                                   page=page_no, per_page=AUDIT_PAGE)
    lang = page_language(request, me)
    for e in entries:
        e["summary"] = summary(e["detail"], lang)
        e["at_local"] = local_text(e["at"], tz)
        e["action_words"] = action_words(e["action"], lang)
    pages = max(1, -(-total // AUDIT_PAGE))
    return page("audit.html", entries=entries, total=total, page_no=page_no, pages=pages,
                filter_user=user, filter_action=action, tz=tz)


@router.get("/api/audit", dependencies=[allow(Role.ADMIN)])
def api_audit(db: Db, page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
              per_page: Annotated[int, Query(ge=1, le=1000)] = AUDIT_PAGE,
              user: Short = "", action: Short = "") -> dict[str, Any]:
    """The audit log, newest first: who exported what (format, filters, rows)."""
    entries, total = audit_entries(db, username=user or None, action=action or None,
                                   page=page_no, per_page=per_page)
    return {"entries": entries, "total": total, "page": page_no, "per_page": per_page}
