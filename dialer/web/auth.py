"""Who may call a route: every route of the web app declares the roles it allows with
`allow(...)`, and the app refuses to start if one does not (see `check_routes`).

A browser logs in with a form and gets a session cookie (HttpOnly, SameSite=Lax); a
request that changes something must also carry the session's CSRF token, as the form
field `csrf_token` or the header `X-CSRF-Token`, so another site cannot make a logged-in
browser post for it. Pages answer a missing login with a redirect to /login, the API
with 401; a role that is not allowed gets 403 either way. A route machines call (GET
/metrics) may also take `Authorization: Bearer <token>` instead of a login, and answers
a missing one with 401.

Before any of this runs, dialer/web/guard.py refuses a request body sent without a
login to a route that needs one, so nobody anonymous gets a body parsed.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from campaigns.db import Database
from campaigns.models import Role
from campaigns.refusals import Code
from campaigns.users import CurrentUser, session_user
from dialer.web.errors import Rejected

SESSION_COOKIE = "dialer_session"
LOGIN_CSRF_COOKIE = "dialer_login_csrf"  # double-submit token of the login form
PUBLIC = "public"  # no login needed
ANY_ROLE = frozenset(Role)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class LoginRequired(Exception):
    """Raised for a page that needs a login; the app turns it into a redirect."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class Bearer:
    """A token a machine may send instead of logging in; `setting` names where it is
    set, and `token` reads it from the app a request came to (None: not set, only a
    login opens the route)."""

    setting: str
    token: Callable[[Request], str | None]

    def opens(self, request: Request) -> bool | None:
        """None without an Authorization header, else whether it carries the token."""
        sent = request.headers.get("authorization")
        if sent is None:
            return None
        token = self.token(request)
        scheme, _, value = sent.partition(" ")
        return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), (token or "").encode())


class Guard:
    """The dependency `allow()` makes; it also records the roles for checks and docs.
    The sessions are looked up in the app's database (`app.state.db`)."""

    def __init__(self, roles: Iterable[Role | str], bearer: Bearer | None = None) -> None:
        self.public = PUBLIC in roles
        self.roles = frozenset(Role(r) for r in roles if r != PUBLIC)
        self.bearer = bearer

    async def __call__(self, request: Request) -> CurrentUser | None:
        db: Database = request.app.state.db
        user = session_user(db, request.cookies.get(SESSION_COOKIE))
        request.state.user = user
        if self.public:
            return user
        if self.bearer is not None:
            opened = self.bearer.opens(request)
            if opened:
                return user
            if opened is False:  # a machine with a wrong token: no session decides
                raise Rejected(401, "wrong bearer token: send Authorization: Bearer "
                               "<{setting}>", setting=self.bearer.setting,
                               headers={"WWW-Authenticate": "Bearer"})
        api = request.url.path.startswith("/api/")
        if user is None:
            if self.bearer is not None:
                raise Rejected(401, "log in first as {roles}, or send Authorization: "
                               "Bearer <{setting}>", roles=" or ".join(sorted(self.roles)),
                               setting=self.bearer.setting,
                               headers={"WWW-Authenticate": "Bearer"})
            if api:
                raise Rejected(401, "log in first (POST /api/login)")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        if user.role not in self.roles:
            raise Rejected(403, "{role} may not use this; it is for {roles}",
                           role=Code(user.role, "role"),
                           roles=[Code(r, "role") for r in sorted(self.roles)])
        if request.method in UNSAFE_METHODS:
            sent = request.headers.get("x-csrf-token")
            if sent is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                sent = str((await request.form()).get("csrf_token", ""))
            if not sent or not hmac.compare_digest(sent, user.csrf_token):
                raise Rejected(403, "missing or wrong CSRF token: reload the page and try "
                               "again")
        return user


def allow(*roles: Role | str, bearer: Bearer | None = None) -> Any:
    """The roles a route allows: `dependencies=[allow(Role.ADMIN)]`, or `allow(PUBLIC)`
    for the few routes that need no login; `bearer=` also lets a machine in with that
    token."""
    if not roles:
        raise ValueError("allow() needs at least one role (or PUBLIC)")
    return Depends(Guard(roles, bearer))


def path_operations(routes: Iterable[BaseRoute]) -> list[Any]:
    """Every path operation among `routes` (an app's or a router's), those of included
    routers too, each as it is served: its path, methods and dependencies, and
    `matches(scope)`. FastAPI 0.137 and later keep an included router whole in
    `app.routes`; `fastapi.routing.iter_route_contexts` walks into it."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI copies the included routes into app.routes
        return [r for r in routes if isinstance(r, APIRoute)]
    return [c for c in iter_route_contexts(list(routes))
            if isinstance(c.original_route, APIRoute)]


def route_guard(route: Any) -> Guard | None:
    """The `allow(...)` of a path operation (see `path_operations`); None unless it
    declares exactly one."""
    guards = [d.dependency for d in route.dependencies if isinstance(d.dependency, Guard)]
    return guards[0] if len(guards) == 1 else None


def check_routes(routes: Iterable[BaseRoute]) -> None:
    """Every API route must declare its roles exactly once."""
    missing = [f"{sorted(r.methods or ())} {r.path}" for r in path_operations(routes)
               if route_guard(r) is None]
    if missing:
        raise RuntimeError(f"routes without allow(...): {', '.join(missing)}")
