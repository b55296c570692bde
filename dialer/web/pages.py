"""The pages people see: rendered on the server (Jinja2, dialer/web/templates) with the
menu of what the logged-in user's role may open."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from campaigns.models import Role
from campaigns.users import CurrentUser
from dialer.web import i18n
from dialer.web.auth import ANY_ROLE
from dialer.web.roles import CALL_ROLES, CAMPAIGN_ROLES, DASHBOARD_ROLES, WALLBOARD_ROLES
from dialer.web.words import for_language
from dialer.web.zones import page_zone

HERE = Path(__file__).parent
# What each role finds on its home page (the pages of later issues join this list).
NAV: list[tuple[str, str, frozenset[Role]]] = [
    ("/campaigns", "Campaigns", frozenset(CAMPAIGN_ROLES)),
    ("/dashboard", "Dashboard", frozenset(DASHBOARD_ROLES)),
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


def page_words(lang: str) -> dict[str, Any]:
    """What a template says things with, in `lang`: `_` (a text of the catalogue), the
    codes' words (dialer/web/words.py), `said` (a refusal, a flag, a stored sentence)
    and `reason` (why the robot ended a call)."""
    return {"lang": lang, "_": partial(i18n.translate, lang), **for_language(lang),
            "said": partial(i18n.said_any, lang), "reason": partial(i18n.reason_said, lang)}


class Pages:
    """The app's templates; one instance per app (`app.state.pages`)."""

    def __init__(self, directory: Path = HERE / "templates") -> None:
        self.templates = Jinja2Templates(directory=str(directory))

    def render(self, request: Request, name: str, status: int = 200,
               **context: Any) -> HTMLResponse:
        user: CurrentUser | None = getattr(request.state, "user", None)
        nav = [(href, label) for href, label, roles in NAV if user and user.role in roles]
        lang = i18n.choose(getattr(user, "language", None),
                           request.headers.get("accept-language"))
        # A refusal or a flag handed to the page (`error=exc`) is said in the reader's
        # language, and so is one that arrives as its English sentence.
        for key in ("error", "detail"):
            if context.get(key) is not None:
                context[key] = i18n.said_any(lang, context[key])
        words = {**page_words(lang),
                 "i18n_json": i18n.words_for_scripts(lang, list(i18n.script_texts()))}
        nav = [(href, i18n.translate(lang, label)) for href, label in nav]
        return self.templates.TemplateResponse(request, name, {"user": user, "nav": nav,
                                                               "zone": page_zone(request),
                                                               **words, **context},
                                               status_code=status)


class Page:
    """A route's page renderer (the `Render` dependency): the app's templates bound to
    the request being answered, `page("x.html", status=400, key=value)`."""

    def __init__(self, pages: Pages, request: Request) -> None:
        self.pages, self.request = pages, request

    def __call__(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.pages.render(self.request, name, status, **context)
