"""The web app: login, roles, the admin's user page, campaigns, and the JSON API.

Pages are rendered on the server (Jinja2) with one vendored style sheet; nothing is
loaded from another site. Every route names the roles it allows (`allow`, see
dialer/auth.py). The API is described by /api/openapi.json and, for people, /api/docs.
In front of it all, dialer/web_guard.py caps request bodies, refuses an anonymous body
before it is read and adds the security headers. Logins are paced by the client's
address (campaigns/users.py): behind a proxy, let uvicorn trust it
(FORWARDED_ALLOW_IPS), or every client looks like the proxy.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from campaigns.cdr import record_audit
from campaigns.db import Database
from campaigns.models import Role
from campaigns.report import campaign_report, report_for
from campaigns.service import CampaignError, list_campaigns
from campaigns.settings import CampaignSettings
from campaigns.users import (
    CurrentUser,
    LoginThrottled,
    UserError,
    create_user,
    list_users,
    login,
    logout,
    update_user,
)
from dialer import web_guard
from dialer.auth import (
    ANY_ROLE,
    LOGIN_CSRF_COOKIE,
    PUBLIC,
    SESSION_COOKIE,
    LoginRequired,
    allow_factory,
    check_routes,
    route_guard,
)

HERE = Path(__file__).parent
CAMPAIGN_ROLES = (Role.ADMIN, Role.MARKETING, Role.ANALYST)
# The call explorer and CDR exports (phones masked for analysts: campaigns/privacy.py).
CALL_ROLES = (Role.ADMIN, Role.MARKETING, Role.ANALYST, Role.SUPERVISOR)
WALLBOARD_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.ANALYST)
# What each role finds on its home page (the pages of later issues join this list).
NAV: list[tuple[str, str, frozenset[Role]]] = [
    ("/campaigns", "Campaigns", frozenset(CAMPAIGN_ROLES)),
    ("/dashboard", "Dashboard", frozenset(CAMPAIGN_ROLES)),
    ("/calls", "Calls", frozenset(CALL_ROLES)),
    ("/cdr", "CDR export", frozenset(CALL_ROLES)),
    ("/wallboard", "Wallboard", frozenset(WALLBOARD_ROLES)),
    ("/dnc", "Do not call", frozenset({Role.ADMIN, Role.MARKETING})),
    ("/agent", "Agent console", frozenset({Role.AGENT})),
    ("/supervisor", "Supervisor", frozenset({Role.ADMIN, Role.SUPERVISOR})),
    ("/admin/users", "Users", frozenset({Role.ADMIN})),
    ("/admin/trunks", "Trunks", frozenset({Role.ADMIN})),
    ("/admin/audit", "Audit log", frozenset({Role.ADMIN})),
    ("/api/docs", "API", frozenset(ANY_ROLE)),
]
# The only sentences ?done= puts on the users page: a link cannot make it say anything.
USERS_DONE = {"created": "User created.", "saved": "Changes saved."}


class UserIn(BaseModel):
    username: str = Field(examples=["mina"])
    password: str = Field(min_length=1)
    role: Role
    sip_uri: str | None = Field(default=None, examples=["sip:agent1@pbx.example.com"])
    skills: str | None = Field(default=None, examples=["billing,korean"])


class UserPatch(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = None
    sip_uri: str | None = None
    skills: str | None = None


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
    allow = allow_factory(db)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app = FastAPI(title="dialer", version="0.1.0", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        user: CurrentUser | None = getattr(request.state, "user", None)
        nav = [(href, label) for href, label, roles in NAV if user and user.role in roles]
        return templates.TemplateResponse(request, name, {"user": user, "nav": nav,
                                                          **context}, status_code=status)

    def set_session(response: Response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                            secure=secure_cookies, path="/")

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _errors(request: Request, exc: HTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if request.url.path.startswith("/api/") or exc.status_code < 400:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=headers)
        response = page(request, "error.html", status=exc.status_code,
                        status_code=exc.status_code, detail=exc.detail)
        response.headers.update(headers or {})
        return response

    def client_address(request: Request) -> str | None:
        return request.client.host if request.client else None

    def audit(request: Request, action: str, detail: dict[str, Any]) -> None:
        acting: CurrentUser = request.state.user
        record_audit(db, acting.username, acting.role, action, detail)

    # -- public ---------------------------------------------------------------------
    @app.get("/healthz", dependencies=[allow(PUBLIC)])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login", response_class=HTMLResponse, dependencies=[allow(PUBLIC)])
    def login_page(request: Request, next: str = "/") -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", next=_safe_next(next), login_csrf=token)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=secure_cookies, path="/login")
        return response

    @app.post("/login", response_class=HTMLResponse, dependencies=[allow(PUBLIC)])
    def login_submit(request: Request, username: Annotated[str, Form()],
                     password: Annotated[str, Form()], csrf_token: Annotated[str, Form()] = "",
                     next: Annotated[str, Form()] = "/") -> Response:
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not secrets.compare_digest(cookie, csrf_token):
            raise HTTPException(403, "the login form expired: reload the page and try again")
        try:
            token, _user = login(db, username, password, address=client_address(request))
        except UserError as exc:
            fresh = secrets.token_urlsafe(24)
            wait = exc.retry_after if isinstance(exc, LoginThrottled) else None
            response = page(request, "login.html", status=401 if wait is None else 429,
                            next=_safe_next(next), login_csrf=fresh, error=str(exc),
                            username=username)
            if wait is not None:
                response.headers["Retry-After"] = str(wait)
            response.set_cookie(LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict",
                                secure=secure_cookies, path="/login")
            return response
        done = RedirectResponse(_safe_next(next), status_code=303)
        set_session(done, token)
        done.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return done

    @app.post("/api/login", dependencies=[allow(PUBLIC)])
    def api_login(request: Request, body: LoginIn) -> JSONResponse:
        """Log in for the API: the session cookie is set, and the CSRF token to send as
        `X-CSRF-Token` with every POST, PATCH or DELETE is returned. Too many attempts
        from one address get 429 with Retry-After."""
        try:
            token, user = login(db, body.username, body.password,
                                address=client_address(request))
        except LoginThrottled as exc:
            raise HTTPException(429, str(exc),
                                headers={"Retry-After": str(exc.retry_after)}) from None
        except UserError as exc:
            raise HTTPException(401, str(exc)) from None
        response = JSONResponse({"username": user.username, "role": user.role,
                                 "csrf_token": user.csrf_token})
        set_session(response, token)
        return response

    # -- any logged-in user -----------------------------------------------------------
    @app.post("/logout", dependencies=[allow(*ANY_ROLE)])
    def logout_submit(request: Request) -> RedirectResponse:
        logout(db, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.post("/api/logout", dependencies=[allow(*ANY_ROLE)])
    def api_logout(request: Request) -> dict[str, bool]:
        logout(db, request.cookies.get(SESSION_COOKIE))
        return {"logged_out": True}

    @app.get("/", response_class=HTMLResponse, dependencies=[allow(*ANY_ROLE)])
    def home(request: Request) -> HTMLResponse:
        return page(request, "home.html")

    @app.get("/api/me", dependencies=[allow(*ANY_ROLE)])
    def api_me(request: Request) -> dict[str, Any]:
        user: CurrentUser = request.state.user
        return {"id": user.id, "username": user.username, "role": user.role,
                "csrf_token": user.csrf_token}

    @app.get("/api/openapi.json", dependencies=[allow(*ANY_ROLE)])
    def api_schema() -> dict[str, Any]:
        return openapi()

    @app.get("/api/docs", response_class=HTMLResponse, dependencies=[allow(*ANY_ROLE)])
    def api_docs(request: Request) -> HTMLResponse:
        return page(request, "api_docs.html", endpoints=endpoint_list())

    # -- campaigns --------------------------------------------------------------------
    @app.get("/campaigns", response_class=HTMLResponse, dependencies=[allow(*CAMPAIGN_ROLES)])
    def campaigns_page(request: Request) -> HTMLResponse:
        return page(request, "campaigns.html", campaigns=list_campaigns(db, rehearsals=False))

    @app.get("/api/campaigns", dependencies=[allow(*CAMPAIGN_ROLES)])
    def api_campaigns() -> list[dict[str, Any]]:
        return list_campaigns(db)

    @app.get("/api/campaigns/{campaign_id}/report", dependencies=[allow(*CAMPAIGN_ROLES)])
    def api_report(request: Request, campaign_id: int) -> dict[str, Any]:
        """What happened to every contact and call; numbers masked for analysts."""
        try:
            report = campaign_report(db, campaign_id)
        except CampaignError as exc:
            raise HTTPException(404, str(exc)) from None
        # Phones masked, and no number left in any free text (reasons, errors, what
        # was said) for the roles that may not see one.
        return report_for(request.state.user.role, report)

    # -- users (admin) ----------------------------------------------------------------
    @app.get("/admin/users", response_class=HTMLResponse, dependencies=[allow(Role.ADMIN)])
    def users_page(request: Request, done: str = "") -> HTMLResponse:
        return page(request, "users.html", users=list_users(db), roles=list(Role),
                    done=USERS_DONE.get(done, ""))

    @app.post("/admin/users", response_class=HTMLResponse, dependencies=[allow(Role.ADMIN)])
    def users_create(request: Request, username: Annotated[str, Form()],
                     password: Annotated[str, Form()], role: Annotated[str, Form()],
                     sip_uri: Annotated[str, Form()] = "", skills: Annotated[str, Form()] = ""
                     ) -> Response:
        try:
            created(request, create_user(db, username, password, role, sip_uri or None,
                                         skills or None))
        except UserError as exc:
            return page(request, "users.html", status=400, users=list_users(db),
                        roles=list(Role), error=str(exc), form={"username": username,
                                                                "role": role})
        return RedirectResponse("/admin/users?done=created", status_code=303)

    @app.post("/admin/users/{user_id}", response_class=HTMLResponse,
              dependencies=[allow(Role.ADMIN)])
    def users_update(request: Request, user_id: int, role: Annotated[str, Form()] = "",
                     active: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                     sip_uri: Annotated[str | None, Form()] = None,
                     skills: Annotated[str | None, Form()] = None) -> Response:
        acting: CurrentUser = request.state.user
        try:
            changed(request, user_id, update_user(
                db, user_id, role=role or None, active={"1": True, "0": False}.get(active),
                password=password or None, acting_user_id=acting.id, sip_uri=sip_uri,
                skills=skills))
        except UserError as exc:
            return page(request, "users.html", status=400, users=list_users(db),
                        roles=list(Role), error=str(exc))
        return RedirectResponse("/admin/users?done=saved", status_code=303)

    def created(request: Request, user_id: int) -> None:
        new = next(u for u in list_users(db) if u["id"] == user_id)
        audit(request, "user_created", {"user": new["username"], "user_id": user_id,
                                        "role": new["role"], "sip_uri": new["sip_uri"],
                                        "skills": new["skills"]})

    def changed(request: Request, user_id: int, changes: dict[str, Any]) -> None:
        """One audit entry per save that changed something (a password only as
        "reset")."""
        if changes:
            name = next((u["username"] for u in list_users(db) if u["id"] == user_id), None)
            audit(request, "user_changed", {"user": name, "user_id": user_id,
                                            "changes": changes})

    @app.get("/api/users", dependencies=[allow(Role.ADMIN)])
    def api_users() -> list[dict[str, Any]]:
        return list_users(db)

    @app.post("/api/users", status_code=201, dependencies=[allow(Role.ADMIN)])
    def api_users_create(request: Request, body: UserIn) -> dict[str, Any]:
        try:
            user_id = create_user(db, body.username, body.password, body.role, body.sip_uri,
                                  body.skills)
        except UserError as exc:
            raise HTTPException(400, str(exc)) from None
        created(request, user_id)
        return {"id": user_id, "username": body.username, "role": body.role}

    @app.patch("/api/users/{user_id}", dependencies=[allow(Role.ADMIN)])
    def api_users_update(request: Request, user_id: int,
                         body: Annotated[UserPatch, Body()]) -> dict[str, Any]:
        acting: CurrentUser = request.state.user
        try:
            changed(request, user_id, update_user(
                db, user_id, role=body.role, active=body.active, password=body.password,
                acting_user_id=acting.id, sip_uri=body.sip_uri, skills=body.skills))
        except UserError as exc:
            status = 404 if str(exc).startswith("no user") else 400
            raise HTTPException(status, str(exc)) from None
        return {"id": user_id, "saved": True}

    def openapi() -> dict[str, Any]:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description="Log in with POST /api/login; send the returned "
                                         "csrf_token as X-CSRF-Token on changes.")
        for route in app.routes:  # the roles of each operation, for readers and tools
            if isinstance(route, APIRoute) and (g := route_guard(route)) is not None:
                for method in route.methods or ():
                    op = schema.get("paths", {}).get(route.path, {}).get(method.lower())
                    if op is not None:
                        op["x-roles"] = ["public"] if g.public else sorted(g.roles)
        return schema

    def endpoint_list() -> list[dict[str, Any]]:
        out = []
        for path, ops in openapi().get("paths", {}).items():
            for method, op in ops.items():
                out.append({"method": method.upper(), "path": path,
                            "summary": op.get("description") or op.get("summary", ""),
                            "roles": ", ".join(op.get("x-roles", []))})
        return out

    from dialer import (
        web_agents,
        web_campaigns,
        web_cdr,
        web_dashboards,
        web_errors,
        web_ops,
        web_trunks,
    )

    web_campaigns.add_routes(app, db, settings, allow, page)
    web_agents.add_routes(app, db, allow, page)
    web_dashboards.add_routes(app, db, allow, page)
    web_cdr.add_routes(app, db, allow, page)
    web_ops.add_routes(app, db, allow)
    web_trunks.add_routes(app, db, allow, page)
    web_errors.install(app)
    check_routes(app.routes)
    app.state.body_limits = web_guard.install(app, db, settings, web)
    app.state.db = db
    return app


def _safe_next(target: str) -> str:
    """Only a path on this site: an open redirect would make our login page a phisher's
    tool."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
