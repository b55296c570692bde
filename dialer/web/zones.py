"""The logged-in user's time zone on the web: every page shows times in it (24-hour
clock, the zone named in the page's header and in its column titles), and every route
with a `tz` parameter takes it as the default (campaigns/preferences.py keeps it).

    @router.get("/x", dependencies=[allow(...)])
    def x(tz: Zone) -> ...: ...   # the user's zone, looked up once per request
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from sqlalchemy.exc import SQLAlchemyError

from campaigns.preferences import (
    PreferenceError,
    check_zone,
    region_zone,
    user_zone,
    zone_label,
)
from campaigns.queries.campaigns import campaigns_region


def request_zone(request: Request) -> str | None:
    """The zone of the request's user (None: nobody is logged in), once per request."""
    cached = getattr(request.state, "time_zone", None)
    if cached:
        return str(cached)
    user = getattr(request.state, "user", None)
    if user is None:
        return None
    try:
        zone = user_zone(request.app.state.db, user.id, default_region(request))
    except SQLAlchemyError:  # the database is down: the error page still shows
        zone = region_zone(request.app.state.settings.default_region)
    request.state.time_zone = zone
    return zone


def default_region(request: Request) -> str:
    """Whose zone a user reads times in until they choose theirs: the region the
    campaigns call (the app's DIALER default region before there is a campaign)."""
    return campaigns_region(request.app.state.db, request.app.state.settings.default_region)


async def _zone(request: Request) -> str:
    return request_zone(request) or "UTC"


Zone = Annotated[str, Depends(_zone)]


def page_zone(request: Request) -> dict[str, str] | None:
    """What the header of every page says about times: {"name", "label"}."""
    zone = request_zone(request)
    return None if zone is None else {"name": zone, "label": zone_label(zone)}


def pick_zone(tz: str | None, default: str) -> str:
    """A route's `tz` parameter, or the user's zone when it is not given (400: unknown)."""
    if tz is None or not tz.strip():
        return default
    try:
        return check_zone(tz)
    except PreferenceError as exc:
        raise HTTPException(400, str(exc)) from None


def as_local(value: Any, tz: str) -> datetime | None:
    """A stored time (datetime or ISO text; naive is UTC) in zone `tz`."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return moment.astimezone(ZoneInfo(tz))


def local_text(value: Any, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """"2026-03-07 07:23:00": a stored time on the 24-hour clock of zone `tz`; "" if
    there is none."""
    moment = as_local(value, tz)
    return "" if moment is None else moment.strftime(fmt)
