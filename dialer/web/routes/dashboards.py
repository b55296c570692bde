"""The campaign dashboard: the page draws what GET /api/dashboard returns
(campaigns/analytics.py does the counting), with Chart.js served from our own
/static/vendor. The call explorer is dialer/web/routes/calls.py; the live wallboard
dialer/web/routes/wallboard.py.

The report's codes (dispositions, intents, funnel stages, metric keys) stay codes, for the
call explorer's filters; `words` beside them says each in the user's language, with each
disposition's fixed colour (dialer/web/words.py), so the page's script keeps no table of
its own. The metrics' names and definitions are English in campaigns/analytics.py and
Korean in dialer/web/locale/ko/dashboard.json."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from campaigns import analytics
from campaigns.db import Database
from campaigns.lifecycle import list_campaigns
from campaigns.queries.campaigns import campaign_names
from campaigns.statuses import Disposition
from dialer.web import i18n
from dialer.web.auth import allow
from dialer.web.deps import Db, Render, User
from dialer.web.errors import Rejected
from dialer.web.roles import DASHBOARD_ROLES
from dialer.web.words import DISPOSITIONS, disposition_colour, disposition_word, intent_word
from dialer.web.zones import Zone, pick_zone

router = APIRouter()


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Rejected(400, "unknown time zone {tz!r}: use an IANA name such as Asia/Seoul "
                            "or UTC", tz=tz) from None


def day_bounds(start: date | None, end: date | None, tz: str
               ) -> tuple[datetime | None, datetime | None]:
    """Local days [start, end] as UTC instants [from, to)."""
    where = zone(tz)
    if start and end and end < start:
        raise Rejected(400, "the range ends ({end}) before it starts ({start})", end=end,
                       start=start)
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


# The tiles at the top of the page, in this order.
KPIS = ("attempts", "connect_rate", "live_contact_rate", "machine_rate", "conversion_rate",
        "handoff_rate", "abandon_rate", "avg_handle_s", "avg_turns", "latency_p50_ms",
        "latency_p95_ms", "fallback_rate", "opt_outs")
# What analytics writes where a turn has no intent, or a call no script node.
NONE = "(none)"


def language(request: Request, user: User) -> str:
    return i18n.choose(getattr(user, "language", None),
                       request.headers.get("accept-language"))


def disposition_label(code: str, lang: str) -> str:
    if code not in DISPOSITIONS:  # "in progress": not a stored disposition
        return i18n.translate(lang, disposition_word(code))
    return disposition_word(code, lang)


def metric_words(lang: str) -> dict[str, dict[str, str]]:
    """Each metric's name, definition and unit in `lang`."""
    return {key: {"label": i18n.translate(lang, analytics.LABELS[key]),
                  "hint": i18n.translate(lang, text), "unit": analytics.UNITS[key]}
            for key, text in analytics.DEFINITIONS.items()}


def report_words(body: dict[str, Any], lang: str) -> dict[str, Any]:
    """The words (and disposition colours) of every code in a report, in `lang`."""
    codes = {d.value for d in Disposition} | set(body["over_time"]["series"]) | {
        d for node in body["drop_off"] for d in node["dispositions"]}
    said = {x["intent"] for x in body["intents"]}
    return {
        "dispositions": {c: {"word": disposition_label(c, lang),
                             "colour": disposition_colour(c)} for c in sorted(codes)},
        "intents": {c: (i18n.translate(lang, c) if c == NONE else intent_word(c, lang))
                    for c in sorted(said)},
        "stages": {k: i18n.translate(lang, v) for k, v in analytics.STAGES.items()},
        "metrics": metric_words(lang),
        "weekdays": {d: i18n.translate(lang, d) for d in analytics.WEEKDAYS},
        "nodes": {NONE: i18n.translate(lang, NONE)},  # the others are the script's names
        # funnel stages the call explorer can list: "converted" is these dispositions
        "success": sorted(analytics.SUCCESS),
    }


@router.get("/dashboard", response_class=HTMLResponse, dependencies=[allow(*DASHBOARD_ROLES)])
def dashboard_page(db: Db, page: Render, tz: Zone, request: Request, user: User
                   ) -> HTMLResponse:
    """The dashboard: tiles, funnel, charts and their tables, in the user's zone."""
    lang = language(request, user)
    metrics = metric_words(lang)
    charts = {k: i18n.translate(lang, v) for k, v in analytics.CHART_DEFINITIONS.items()}
    return page("dashboard.html", tz=tz, campaigns=list_campaigns(db),
                dispositions=[d.value for d in Disposition],
                kpis=[(k, metrics[k]) for k in KPIS], metrics=metrics, charts=charts,
                stages={k: i18n.translate(lang, v) for k, v in analytics.STAGES.items()})


@router.get("/api/dashboard", dependencies=[allow(*DASHBOARD_ROLES)])
def api_dashboard(db: Db, request: Request, user: User, campaign: int | None = None,
                  compare: int | None = None, start: date | None = None,
                  end: date | None = None, disposition: str | None = None,
                  tz: str | None = None, *, mine: Zone) -> dict[str, Any]:
    """Every number and chart of the dashboard for the calls created between the
    local days `start` and `end` (inclusive) in time zone `tz` (an IANA name; default:
    your zone, see /api/me/preferences): one campaign (or all), and a second one to
    compare side by side. `words` says every code of the report in your language
    (your setting, else the Accept-Language header), with each disposition's colour."""
    lang = language(request, user)
    tz = pick_zone(tz, mine)
    disposition = check_disposition(disposition)
    names = campaign_names(db)
    for cid in (campaign, compare):
        if cid is not None and cid not in names:
            raise Rejected(404, "no campaign {id}", id=cid)
    out: dict[str, Any] = {
        "filters": {"campaign": campaign, "compare": compare, "start": start,
                    "end": end, "disposition": disposition, "tz": tz},
        "campaign": {"id": campaign, "name": names[campaign] if campaign is not None
                     else i18n.translate(lang, "All campaigns")},
        **report(db, campaign, start, end, disposition, tz),
        "definitions": {**analytics.DEFINITIONS, **analytics.CHART_DEFINITIONS},
    }
    out["words"] = report_words(out, lang)
    if compare is not None:
        other = report(db, compare, start, end, disposition, tz)
        out["compare"] = {"campaign": {"id": compare, "name": names[compare]},
                          "metrics": other["metrics"], "funnel": other["funnel"]}
    return out
