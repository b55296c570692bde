"""The web app: login, roles, the admin's user page, campaigns, and the JSON API.

Pages are rendered on the server (Jinja2) with one vendored style sheet; nothing is
loaded from another site. Every route names the roles it allows (`allow`, see
dialer/web/auth.py). The API is described by /api/openapi.json and, for people, /api/docs.
In front of it all, dialer/web/guard.py caps request bodies, refuses an anonymous body
before it is read and adds the security headers. Logins are paced by the client's
address (campaigns/users.py): behind a proxy, let uvicorn trust it
(FORWARDED_ALLOW_IPS), or every client looks like the proxy.

Each area's routes are a module-level router (dialer/web/routes/); what they need of
the app (the database, settings, the user, the page renderer) they take as the
dependencies of dialer/web/deps.py, which read it from `app.state`. This module holds
the doors (logging in and out, the home page) and `create_app`, which builds the app,
puts its state in place and includes the routers.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from redis import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaigns.db import Database
from campaigns.models import Role
from campaigns.refusals import Refusal, sayable
from campaigns.settings import CampaignSettings
from campaigns.users import LoginThrottled, UserError, login, logout, session_user
from dialer.settings import DialerSettings
from dialer.web import errors as web_errors
from dialer.web import guard as web_guard
from dialer.web import i18n
from dialer.web.auth import (
    ANY_ROLE,
    LOGIN_CSRF_COOKIE,
    PUBLIC,
    SESSION_COOKIE,
    LoginRequired,
    allow,
    check_routes,
)
from dialer.web.deps import Db, Render, SecureCookies, User
from dialer.web.errors import Rejected
from dialer.web.import_jobs import ImportJobs
from dialer.web.pages import HERE, Pages
from dialer.web.routes import (
    account,
    acd_events,
    agents,
    apidocs,
    calls,
    campaign_api,
    campaign_pages,
    cdr,
    cockpit,
    dashboards,
    dnc,
    dry_runs,
    imports,
    ops,
    trunks,
    users,
    wallboard,
)

router = APIRouter()
# The routers in the order their routes are matched (and listed in the API's docs).
ROUTERS = (router, apidocs.router, campaign_pages.router, campaign_api.router,
           users.router, imports.router, dry_runs.router, dnc.router, agents.router,
           acd_events.router, dashboards.router, calls.router, wallboard.router,
           cdr.router, ops.router, trunks.router, account.router, cockpit.router)


class LoginIn(BaseModel):
    username: str
    password: str


def create_app(settings: CampaignSettings | None = None, *,
               secure_cookies: bool | None = None, web: web_guard.WebSettings | None = None
               ) -> FastAPI:
    """The app. Cookies are Secure unless `secure_cookies` (or, when None,
    DIALER_WEB_SECURE_COOKIES) is false, for plain http on a developer's machine."""
    settings = settings or CampaignSettings()
    web = web or web_guard.WebSettings()
    if secure_cookies is None:
        secure_cookies = web.secure_cookies
    db = Database(settings.resolved_database_url())
    db.migrate()
    app = FastAPI(title="dialer", version="0.1.0", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.db, app.state.settings = db, settings
    app.state.dialer_settings = DialerSettings()
    app.state.secure_cookies = secure_cookies
    app.state.pages = Pages()
    app.state.import_jobs = ImportJobs(db, settings)
    app.state.metrics_registry = ops.registry(db, app.state.dialer_settings)
    app.exception_handler(LoginRequired)(_to_login)
    # Starlette's HTTPException, not only FastAPI's subclass: the router raises the
    # former itself for an address without a route (404) or a method it does not take
    # (405), and those get a sentence too.
    app.exception_handler(StarletteHTTPException)(_errors)
    app.exception_handler(RedisError)(agents.acd_down)
    for each in ROUTERS:
        app.include_router(each)
    web_errors.install(app)
    check_routes(app.routes)
    app.state.body_limits = web_guard.install(app, db, settings, web)
    return app


async def _to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)


async def _errors(request: Request, exc: StarletteHTTPException) -> Response:
    """JSON for the API, the error page for people."""
    status, detail, headers = exc.status_code, exc.detail, getattr(exc, "headers", None)
    api = request.url.path.startswith("/api/")
    if not isinstance(exc, HTTPException) and status in (404, 405):  # the router's own
        status, detail, headers = _no_route(request, status, headers, api)
    # `raise HTTPException(400, str(exc)) from None`: the refusal behind the sentence,
    # said in the reader's language on the page; the API keeps the English `detail`
    # and adds it as the `message` the app's own scripts show.
    behind = exc.__cause__ or exc.__context__
    said: object = (exc if sayable(exc) else behind
                    if isinstance(behind, Refusal) and str(behind) == detail else detail)
    if api or status < 400:
        body = {"detail": detail}
        if status >= 400 and isinstance(detail, str):
            user = getattr(request.state, "user", None)
            message = i18n.said_any(i18n.choose(
                getattr(user, "language", None), request.headers.get("accept-language")), said)
            if message != detail:
                body["message"] = message
        return JSONResponse(body, status_code=status, headers=headers)
    pages: Pages = request.app.state.pages
    response = pages.render(request, "error.html", status=status, status_code=status,
                            detail=said)
    response.headers.update(headers or {})
    return response


def _no_route(request: Request, status: int, headers: dict[str, str] | None, api: bool
              ) -> tuple[int, str, dict[str, str] | None]:
    """The router's 404 or 405 as a sentence. Nobody logged in is told 404 for both: a
    405 (and its Allow header) would confirm that an address exists. A logged-in person
    gets the menu of their role on the page."""
    if not hasattr(request.state, "user"):
        try:
            request.state.user = session_user(request.app.state.db,
                                              request.cookies.get(SESSION_COOKIE))
        except SQLAlchemyError:  # the database is down: the page without the menu
            request.state.user = None
    # A page's sentence in the reader's language (an API's stays English, like its docs).
    lang = i18n.choose(getattr(request.state.user, "language", None),
                       request.headers.get("accept-language"))
    if status == 405 and request.state.user is not None:
        return 405, ("this address does not take this kind of request: see /api/docs"
                     if api else i18n.translate(lang, "This address does not take this kind "
                                                "of request. Open it from a link or a form "
                                                "of the app instead.")), headers
    return 404, ("there is no API operation at this address: see /api/docs" if api else
                 i18n.translate(lang, "There is no page at this address. Check the link, or "
                                "start again from the start page.")), None


def _set_session(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=secure, path="/")


def _client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _safe_next(target: str) -> str:
    """Only a path on this site: an open redirect would make our login page a phisher's
    tool."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


# -- public -------------------------------------------------------------------------
@router.get("/healthz", dependencies=[allow(PUBLIC)])
def healthz() -> dict[str, str]:
    """The web app answers (for a load balancer or a container's health check)."""
    return {"status": "ok"}


@router.get("/login", response_class=HTMLResponse, dependencies=[allow(PUBLIC)])
def login_page(page: Render, secure: SecureCookies, next: str = "/") -> Response:
    """The login form; `next` is the page to go back to (on this site only)."""
    token = secrets.token_urlsafe(24)
    response = page("login.html", next=_safe_next(next), login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=secure, path="/login")
    return response


@router.post("/login", response_class=HTMLResponse, dependencies=[allow(PUBLIC)])
def login_submit(request: Request, db: Db, page: Render, secure: SecureCookies,
                 username: Annotated[str, Form()], password: Annotated[str, Form()],
                 csrf_token: Annotated[str, Form()] = "",
                 next: Annotated[str, Form()] = "/") -> Response:
    """Log in from the form: the session cookie, then back to `next`."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        raise Rejected(403, "the login form expired: reload the page and try again")
    try:
        token, _user = login(db, username, password, address=_client_address(request))
    except UserError as exc:
        fresh = secrets.token_urlsafe(24)
        wait = exc.retry_after if isinstance(exc, LoginThrottled) else None
        response = page("login.html", status=401 if wait is None else 429,
                        next=_safe_next(next), login_csrf=fresh, error=exc,
                        username=username)
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        response.set_cookie(LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict",
                            secure=secure, path="/login")
        return response
    done = RedirectResponse(_safe_next(next), status_code=303)
    _set_session(done, token, secure)
    done.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return done


@router.post("/api/login", dependencies=[allow(PUBLIC)])
def api_login(request: Request, db: Db, secure: SecureCookies, body: LoginIn) -> JSONResponse:
    """Log in for the API: the session cookie is set, and the CSRF token to send as
    `X-CSRF-Token` with every POST, PATCH or DELETE is returned. Too many attempts
    from one address get 429 with Retry-After."""
    try:
        token, user = login(db, body.username, body.password,
                            address=_client_address(request))
    except LoginThrottled as exc:
        raise HTTPException(429, str(exc),
                            headers={"Retry-After": str(exc.retry_after)}) from None
    except UserError as exc:
        raise HTTPException(401, str(exc)) from None
    response = JSONResponse({"username": user.username, "role": user.role,
                             "csrf_token": user.csrf_token})
    _set_session(response, token, secure)
    return response


# -- any logged-in user ---------------------------------------------------------------
def _leave(request: Request, user: Any) -> None:
    """Logging out of the web is leaving work: an agent leaves the call queue too."""
    if user.role == Role.AGENT:
        agents.leave_queue(request.app.state.dialer_settings, user.username)


@router.post("/logout", dependencies=[allow(*ANY_ROLE)])
def logout_submit(request: Request, db: Db, user: User) -> RedirectResponse:
    """End the session from the menu; an agent leaves the call queue too."""
    _leave(request, user)
    logout(db, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/api/logout", dependencies=[allow(*ANY_ROLE)])
def api_logout(request: Request, db: Db, user: User) -> dict[str, bool]:
    """End the session; an agent leaves the call queue too."""
    _leave(request, user)
    logout(db, request.cookies.get(SESSION_COOKIE))
    return {"logged_out": True}


@router.get("/", response_class=HTMLResponse, dependencies=[allow(*ANY_ROLE)])
def home(page: Render) -> HTMLResponse:
    """The start page: the areas the user's role may open."""
    return page("home.html")


@router.get("/api/me", dependencies=[allow(*ANY_ROLE)])
def api_me(user: User) -> dict[str, Any]:
    """Who is logged in: id, name, role, and the CSRF token for changes."""
    return {"id": user.id, "username": user.username, "role": user.role,
            "csrf_token": user.csrf_token}
