"""What routes take besides the request's own input, as annotated types: the database,
the settings, the logged-in user, the page renderer and the import runner, all of one
app (`create_app` puts them on `app.state`).

    @router.get("/x", dependencies=[allow(Role.ADMIN)])
    def x(db: Db, user: User, page: Render) -> HTMLResponse: ...

None of them adds anything to the OpenAPI description: each reads only the request.
The roles stay with `allow(...)` (dialer/web/auth.py), which runs before these and puts
the user on `request.state`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from campaigns.db import Database
from campaigns.settings import CampaignSettings
from campaigns.users import CurrentUser
from dialer.settings import DialerSettings
from dialer.web.import_jobs import ImportJobs
from dialer.web.pages import Page


async def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def campaign_settings(request: Request) -> CampaignSettings:
    settings: CampaignSettings = request.app.state.settings
    return settings


async def dialer_settings(request: Request) -> DialerSettings:
    settings: DialerSettings = request.app.state.dialer_settings
    return settings


async def current_user(request: Request) -> CurrentUser:
    """The user `allow(...)` found (a route open to PUBLIC has none: not for those)."""
    user: CurrentUser = request.state.user
    return user


async def page_renderer(request: Request) -> Page:
    return Page(request.app.state.pages, request)


async def import_jobs(request: Request) -> ImportJobs:
    jobs: ImportJobs = request.app.state.import_jobs
    return jobs


async def secure_cookies(request: Request) -> bool:
    return bool(request.app.state.secure_cookies)


Db = Annotated[Database, Depends(database)]
Settings = Annotated[CampaignSettings, Depends(campaign_settings)]
Dialer = Annotated[DialerSettings, Depends(dialer_settings)]
User = Annotated[CurrentUser, Depends(current_user)]
Render = Annotated[Page, Depends(page_renderer)]
Imports = Annotated[ImportJobs, Depends(import_jobs)]
SecureCookies = Annotated[bool, Depends(secure_cookies)]


def metrics_token(request: Request) -> str | None:
    """DIALER_METRICS_TOKEN of the app (None: not set)."""
    return request.app.state.dialer_settings.metrics_token or None
