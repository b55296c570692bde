"""The web app's outer guard: two ASGI middlewares in front of FastAPI.

`BodyGuard` decides about a request's body before anything reads it. FastAPI parses a
body (JSON, a form, a multipart upload spooled to disk) before it runs a route's
`allow(...)`, so without this an anonymous 150 MB POST cost the server ~560 MB. Here:

- a body whose Content-Length is over the cap is refused with 413 at once, and one
  sent without a length (chunked) is counted as the app reads it and cut off at the
  cap with 413, never buffered whole. The cap is DIALER_WEB_MAX_BODY_MB (1 MB) for
  every route but those taking a file upload, which get DIALER_MAX_UPLOAD_MB (50 MB);
- a body sent to a route that needs a login (every one not `allow(PUBLIC)`) without a
  valid session is refused before it is read: 401 for the API, the login page for pages,
  as `allow` would have answered after reading it.

`SecurityHeaders` adds to every answer a Content-Security-Policy that lets pages load
scripts, styles, images and connections from this site only (no inline script: pages
keep theirs in dialer/web/static; inline style attributes stay, for the progress bars), no
framing by anyone (clickjacking), no MIME sniffing and no Referer to other sites.

Cookies are Secure unless DIALER_WEB_SECURE_COOKIES=false, for plain http on a
developer's machine; the setting lives here with the other web-only ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaigns.db import Database
from campaigns.settings import CampaignSettings
from campaigns.users import session_user
from dialer.web.auth import SESSION_COOKIE, UNSAFE_METHODS, path_operations, route_guard

MB = 1 << 20
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "style-src-attr 'unsafe-inline'; img-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class WebSettings(BaseSettings):
    """The web server's own settings (the business ones are CampaignSettings)."""

    model_config = SettingsConfigDict(env_prefix="DIALER_WEB_", extra="ignore")

    # Largest request body of any route but file uploads; JSON and forms are far
    # smaller, so more is someone filling the server's memory.
    max_body_mb: int = Field(default=1, ge=1, le=1024)
    # Cookies only over HTTPS. Turn off (false) only for plain http on 127.0.0.1.
    secure_cookies: bool = True


@dataclass(frozen=True)
class BodyLimits:
    default: int  # bytes
    upload: int  # bytes, for the routes taking a file

    def detail(self, upload: bool) -> str:
        if upload:
            return (f"the upload is larger than {self.upload // MB} MB, the most this "
                    "server takes (DIALER_MAX_UPLOAD_MB): split the file and upload the "
                    "parts one after the other")
        return (f"the request body is larger than {self.default // MB} MB, the most this "
                "server takes here (DIALER_WEB_MAX_BODY_MB): send less")


def body_limits(settings: CampaignSettings, web: WebSettings) -> BodyLimits:
    # The upload cap is the business's (campaigns/settings.py); checked here as well so
    # that an anonymous or oversized upload is never spooled to disk at all.
    return BodyLimits(default=web.max_body_mb * MB,
                      upload=max(settings.max_upload_mb, web.max_body_mb) * MB)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its cap. FastAPI's body
    parsing passes an HTTPException on to the app's handler (a page or JSON)."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


ErrorPage = Callable[[Request, HTTPException], Awaitable[Response]]


class BodyGuard:
    """See the module's docstring. `public` and `uploads` are the routes that need no
    login and those that take a file (`path_operations`); `error_page` renders an
    HTTPException as the app does."""

    def __init__(self, app: ASGIApp, *, db: Database, limits: BodyLimits,
                 public: Sequence[Any], uploads: Sequence[Any],
                 error_page: ErrorPage) -> None:
        self.app, self.db, self.limits = app, db, limits
        self.public, self.uploads, self.error_page = public, uploads, error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        upload = _matches(self.uploads, scope)
        cap = self.limits.upload if upload else self.limits.default
        length = _content_length(headers)
        has_body = scope["method"] in UNSAFE_METHODS or bool(length) or (
            "transfer-encoding" in headers)
        # Login first: someone anonymous learns nothing, not even the caps.
        if has_body and not _matches(self.public, scope):
            token = Request(scope).cookies.get(SESSION_COOKIE)
            user = None
            if token:
                user = await anyio.to_thread.run_sync(session_user, self.db, token)
            if user is None:
                await _login_first(scope, receive, send)
                return
        if length is not None and length > cap:
            await self._answer(scope, receive, send, BodyTooLarge(self.limits.detail(upload)))
            return

        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge(self.limits.detail(upload))
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # read outside FastAPI's body parsing
            if started:
                raise
            await self._answer(scope, receive, send, exc)

    async def _answer(self, scope: Scope, receive: Receive, send: Send,
                      exc: HTTPException) -> None:
        response = await self.error_page(Request(scope, receive), exc)
        # The client may still be sending: tell it this connection is done.
        response.headers["connection"] = "close"
        await response(scope, receive, send)


async def _login_first(scope: Scope, receive: Receive, send: Send) -> None:
    """What `allow(...)` answers without a login, before any of the body is read."""
    path = scope["path"]
    response: Response
    if path.startswith("/api/"):
        response = JSONResponse({"detail": "log in first (POST /api/login)"},
                                status_code=401)
    else:
        query = scope.get("query_string", b"").decode("latin-1")
        response = RedirectResponse(f"/login?next={quote(path + (f'?{query}' if query else ''))}",
                                    status_code=303)
    response.headers["connection"] = "close"
    await response(scope, receive, send)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every answer that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, db: Database, settings: CampaignSettings,
            web: WebSettings) -> BodyLimits:
    """Put both guards in front of the app; call after every route is added."""
    routes = path_operations(app.routes)
    public = [r for r in routes if (g := route_guard(r)) is not None and g.public]
    uploads = [r for r in routes if _takes_file(r)]
    limits = body_limits(settings, web)

    async def error_page(request: Request, exc: HTTPException) -> Response:
        # The handler dialer/web/app.py registers: JSON for the API, the error page
        # for people.
        for kind in type(exc).__mro__:
            handler: Any = app.exception_handlers.get(kind)
            if handler is not None:
                response: Response = await handler(request, exc)
                return response
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    app.add_middleware(BodyGuard, db=db, limits=limits, public=public, uploads=uploads,
                       error_page=error_page)
    app.add_middleware(SecurityHeaders)  # outermost: its headers are on every answer
    return limits


def _takes_file(route: Any) -> bool:
    from fastapi import params

    return any(isinstance(f.field_info, params.File) for f in route.dependant.body_params)


def _matches(routes: Sequence[Any], scope: Scope) -> bool:
    return any(r.matches(scope)[0] is Match.FULL for r in routes)


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None
