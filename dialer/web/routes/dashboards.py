"""The campaign dashboard: the page draws what GET /api/dashboard returns
(campaigns/analytics.py does the counting), with Chart.js served from our own
/static/vendor. The call explorer is dialer/web/routes/calls.py; the live wallboard
dialer/web/routes/wallboard.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from campaigns import analytics
from campaigns.db import Database
from campaigns.lifecycle import list_campaigns
from campaigns.queries.campaigns import campaign_names
from campaigns.statuses import Disposition
from dialer.web.auth import allow
from dialer.web.deps import Db, Render
from dialer.web.roles import DASHBOARD_ROLES
from dialer.web.zones import Zone, pick_zone

router = APIRouter()


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(400, f"unknown time zone {tz!r}: use an IANA name such as "
                                 "Asia/Seoul or UTC") from None


def day_bounds(start: date | None, end: date | None, tz: str
               ) -> tuple[datetime | None, datetime | None]:
    """Local days [start, end] as UTC instants [from, to)."""
    where = zone(tz)
    if start and end and end < start:
        raise HTTPException(400, f"the range ends ({end}) before it starts ({start})")
    lo = datetime.combine(start, time(), where).astimezone(UTC) if start else None
    hi = (datetime.combine(end + timedelta(days=1), time(), where).astimezone(UTC)
          if end else None)
    return lo, hi


def check_disposition(disposition: str | None) -> str | None:
    try:
        return Disposition.parse(disposition)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def report(db: Database, campaign: int | None, start: date | None, end: date | None,
           disposition: str | None, tz: str) -> dict[str, Any]:
    lo, hi = day_bounds(start, end, tz)
    ids = None if campaign is None else [campaign]
    return analytics.dashboard(*analytics.load(db, ids, lo, hi, disposition), tz=tz)


@router.get("/dashboard", response_class=HTMLResponse, dependencies=[allow(*DASHBOARD_ROLES)])
def dashboard_page(db: Db, page: Render, tz: Zone) -> HTMLResponse:
    return page("dashboard.html", tz=tz, campaigns=list_campaigns(db),
                dispositions=[d.value for d in Disposition],
                definitions=analytics.DEFINITIONS, charts=analytics.CHART_DEFINITIONS)


@router.get("/api/dashboard", dependencies=[allow(*DASHBOARD_ROLES)])
def api_dashboard(db: Db, campaign: int | None = None, compare: int | None = None,
                  start: date | None = None, end: date | None = None,
                  disposition: str | None = None, tz: str | None = None,
                  *, mine: Zone) -> dict[str, Any]:
    """Every number and chart of the dashboard for the calls created between the
    local days `start` and `end` (inclusive) in time zone `tz` (an IANA name; default:
    your zone, see /api/me/preferences): one campaign (or all), and a second one to
    compare side by side."""
    tz = pick_zone(tz, mine)
    disposition = check_disposition(disposition)
    names = campaign_names(db)
    for cid in (campaign, compare):
        if cid is not None and cid not in names:
            raise HTTPException(404, f"no campaign {cid}")
    out: dict[str, Any] = {
        "filters": {"campaign": campaign, "compare": compare, "start": start,
                    "end": end, "disposition": disposition, "tz": tz},
        "campaign": {"id": campaign, "name": names[campaign] if campaign is not None
                     else "All campaigns"},
        **report(db, campaign, start, end, disposition, tz),
        "definitions": {**analytics.DEFINITIONS, **analytics.CHART_DEFINITIONS},
    }
    if compare is not None:
        other = report(db, compare, start, end, disposition, tz)
        out["compare"] = {"campaign": {"id": compare, "name": names[compare]},
                          "metrics": other["metrics"], "funnel": other["funnel"]}
    return out
