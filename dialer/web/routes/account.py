"""Your settings: what each person chooses for themselves, on a page (GET/POST
/account) and in the API (GET/PATCH /api/me/preferences): the time zone every page,
date filter and export shows times in (campaigns/preferences.py; empty goes back to the
zone of the region the campaigns call) and the language of the pages (empty: the
browser's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from campaigns.db import Database
from campaigns.preferences import (
    INTERFACE_LANGUAGES,
    PreferenceError,
    chosen_language,
    chosen_zone,
    region_zone,
    set_language,
    set_zone,
    user_zone,
    zone_choices,
    zone_label,
)
from campaigns.queries.campaigns import campaigns_region
from campaigns.users import CurrentUser
from dialer.web.auth import ANY_ROLE, allow
from dialer.web.deps import Db, Render, Settings, User

router = APIRouter()
MAX_FIELD = 200  # longer than any zone name: more is refused, not read


class PreferencesPatch(BaseModel):
    time_zone: str | None = Field(default=None, max_length=MAX_FIELD,
                                  examples=["Asia/Seoul"],
                                  description="an IANA zone; null or \"\": the default")
    language: str | None = Field(default=None, max_length=MAX_FIELD, examples=["ko"],
                                 description="en or ko; null or \"\": the browser's")


def preferences(db: Database, user: CurrentUser, default_region: str) -> dict[str, Any]:
    zone = user_zone(db, user.id, default_region)
    return {"username": user.username, "time_zone": zone, "label": zone_label(zone),
            "chosen": chosen_zone(db, user.id) is not None,
            "default_time_zone": region_zone(default_region),
            "language": chosen_language(db, user.id)}


def account_page(page: Render, db: Database, user: CurrentUser, default_region: str,
                 status: int = 200, error: object = "", done: str = "") -> HTMLResponse:
    return page("account.html", status=status, prefs=preferences(db, user, default_region),
                zones=zone_choices(), languages=INTERFACE_LANGUAGES, error=error, done=done)


@router.get("/account", response_class=HTMLResponse, dependencies=[allow(*ANY_ROLE)])
def account(db: Db, user: User, page: Render, settings: Settings,
            done: str = "") -> HTMLResponse:
    """Your settings: time zone and language."""
    return account_page(page, db, user, campaigns_region(db, settings.default_region),
                        done="Saved." if done else "")


@router.post("/account", response_class=HTMLResponse, dependencies=[allow(*ANY_ROLE)])
def account_save(db: Db, user: User, page: Render, settings: Settings,
                 time_zone: Annotated[str, Form()] = "",
                 language: Annotated[str, Form()] = "") -> Response:
    """Save your time zone and language."""
    try:
        set_zone(db, user.id, time_zone)
        set_language(db, user.id, language)
    except PreferenceError as exc:
        return account_page(page, db, user, campaigns_region(db, settings.default_region), status=400,
                            error=exc)
    return RedirectResponse("/account?done=1", status_code=303)


@router.get("/api/me/preferences", dependencies=[allow(*ANY_ROLE)])
def api_preferences(db: Db, user: User, settings: Settings) -> dict[str, Any]:
    """Your preferences: `time_zone` is the zone every page and export shows times in
    (yours if `chosen`, else `default_time_zone`: the zone of the region most campaigns
    call, the app's default region before there is a campaign)."""
    return preferences(db, user, campaigns_region(db, settings.default_region))


@router.patch("/api/me/preferences", dependencies=[allow(*ANY_ROLE)])
def api_preferences_update(db: Db, user: User, settings: Settings,
                           body: Annotated[PreferencesPatch, Body()]) -> dict[str, Any]:
    """Choose your time zone (an IANA name such as Asia/Seoul; null or "" goes back
    to the default) and the pages' language (en or ko; null or "": the browser's).
    Only the fields sent are changed."""
    try:
        if "time_zone" in body.model_fields_set:
            set_zone(db, user.id, body.time_zone)
        if "language" in body.model_fields_set:
            set_language(db, user.id, body.language)
    except PreferenceError as exc:
        raise HTTPException(400, str(exc)) from None
    return preferences(db, user, campaigns_region(db, settings.default_region))
