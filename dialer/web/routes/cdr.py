"""Call detail record exports (CSV streamed, XLSX built on disk in constant memory, then
sent) with their filters, the export page, and the audit log of who exported what
(every export writes one entry: who, role, format, filters, rows). Days and times are
the user's time zone's unless `tz` names another; `tz=UTC` gives the files as they
always were (plain headers, `Z` times)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
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
from campaigns.statuses import Disposition
from campaigns.users import CurrentUser
from dialer.web.auth import allow
from dialer.web.deps import Db, Render, User
from dialer.web.roles import CALL_ROLES
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
router = APIRouter()


def summary(detail: dict[str, Any]) -> str:
    """An audit entry's detail in a line for people: the filters of an export."""
    filters = detail.get("filters")
    if not isinstance(filters, dict):
        return json.dumps(detail, ensure_ascii=False)
    parts = []
    if filters.get("campaign_ids"):
        parts.append("campaign " + ", ".join(str(c) for c in filters["campaign_ids"]))
    if filters.get("start") or filters.get("end"):
        parts.append(f"{filters.get('start', '…')} → {filters.get('end', '…')}")
    if filters.get("disposition"):
        parts.append(f"disposition {filters['disposition']}")
    if filters.get("phone"):
        parts.append(f"number ending {filters['phone']}")
    if filters.get("tz"):
        parts.append(f"times in {filters['tz']}")
    return "; ".join(parts) or "all calls"


def export_filter(user: CurrentUser, campaign: list[int] | None, start: str, end: str,
                  disposition: str, phone: str, tz: str) -> CdrFilter:
    try:
        f = make_filter(campaign or (), start, end, disposition, phone, tz)
    except CdrError as exc:
        raise HTTPException(400, str(exc)) from None
    try:
        check_search(user.role, f.phone)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
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
            *, mine: Zone) -> StreamingResponse:
    """Call detail records as CSV (UTF-8 with BOM), streamed; one row per call
    attempt; times in ISO 8601 with the zone's offset. Analysts get masked numbers.
    Recorded in the audit log."""
    f = export_filter(user, campaign, start, end, disposition, phone, pick_zone(tz, mine))
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
             *, mine: Zone) -> FileResponse:
    """Call detail records as an Excel workbook (times are date cells in the zone the
    header row names). Analysts get masked numbers. Recorded in the audit log."""
    f = export_filter(user, campaign, start, end, disposition, phone, pick_zone(tz, mine))
    fd, name = tempfile.mkstemp(prefix="cdr-", suffix=".xlsx")
    os.close(fd)
    try:
        rows = write_xlsx(iter_cdr(db, f, mask=masked(user)), Path(name), tz=f.tz)
    except CdrError as exc:
        os.unlink(name)
        raise HTTPException(413, str(exc)) from None
    except BaseException:
        os.unlink(name)
        raise
    audit(db, user, "xlsx", f, rows, True)
    return FileResponse(name, media_type=XLSX_TYPE, filename=filename("xlsx"),
                        background=BackgroundTask(os.unlink, name))


@router.get("/cdr", response_class=HTMLResponse, dependencies=[allow(*CALL_ROLES)])
def cdr_page(db: Db, user: User, page: Render, tz: Zone) -> HTMLResponse:
    recent, _ = audit_entries(db, username=user.username, action=EXPORT_ACTION,
                              per_page=RECENT_EXPORTS)
    for e in recent:
        e["summary"] = summary(e["detail"])
        e["at_local"] = local_text(e["at"], tz)
    return page("cdr.html", campaigns=list_campaigns(db),
                dispositions=[d.value for d in Disposition], recent=recent,
                columns=[(c, CDR_DEFINITIONS[c]) for c in CDR_COLUMNS],
                masked=masked(user), visible_digits=VISIBLE_DIGITS, tz=tz)


@router.get("/admin/audit", response_class=HTMLResponse, dependencies=[allow(Role.ADMIN)])
def audit_page(db: Db, page: Render, tz: Zone,
               page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
               user: str = "", action: str = "") -> HTMLResponse:
    entries, total = audit_entries(db, username=user or None, action=action or None,
                                   page=page_no, per_page=AUDIT_PAGE)
    for e in entries:
        e["summary"] = summary(e["detail"])
        e["at_local"] = local_text(e["at"], tz)
    pages = max(1, -(-total // AUDIT_PAGE))
    return page("audit.html", entries=entries, total=total, page_no=page_no, pages=pages,
                filter_user=user, filter_action=action, tz=tz)


@router.get("/api/audit", dependencies=[allow(Role.ADMIN)])
def api_audit(db: Db, page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
              per_page: Annotated[int, Query(ge=1, le=1000)] = AUDIT_PAGE,
              user: str = "", action: str = "") -> dict[str, Any]:
    """The audit log, newest first: who exported what (format, filters, rows)."""
    entries, total = audit_entries(db, username=user or None, action=action or None,
                                   page=page_no, per_page=per_page)
    return {"entries": entries, "total": total, "page": page_no, "per_page": per_page}
