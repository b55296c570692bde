"""How the web app answers input it cannot use: a clear 4xx, never a 500 or a traceback.

A route's types already refuse what is not a number, a day or a known field (422 from
FastAPI). What gets past them is a value of the right type that the database or the
calendar cannot hold: an id or page number past 64 bits (SQLite's driver raises
OverflowError before the query runs), a date whose time-zone shift leaves the years
1-9999 (OverflowError), or on PostgreSQL a number past its column or a text longer than
its column (a DataError). Each is the sender's mistake, not the server's, so it is
answered 422 with a sentence saying what to fix: JSON for the API, the error page for
people, both through the app's own HTTPException handler. A database that does not
answer (restarting, unreachable) is nobody's mistake: 503 with a plain sentence, and
the next request reconnects by itself.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, InterfaceError, OperationalError

from campaigns.refusals import render

log = logging.getLogger(__name__)


class Rejected(HTTPException):
    """A refusal with its HTTP status whose sentence a page says in the reader's
    language: `Rejected(404, "no campaign {id}", id=7)`. The API's `detail` is the
    English sentence (campaigns/refusals.py: the text a literal, the values apart)."""

    def __init__(self, status: int, text: str, /, *, headers: dict[str, str] | None = None,
                 **values: Any) -> None:
        super().__init__(status, render(text, values, str), headers=headers)
        self.text, self.values = text, values


def out_of_range(exc: Exception) -> str:
    if "date" in str(exc):
        return ("a date or time in the request is outside the calendar (years 1-9999, "
                "also after its time-zone shift): send a real date")
    return ("a number in the request is out of range: ids, pages and counts fit in 64 bits "
            f"({-(2**63)} to {2**63 - 1})")


def unstorable(exc: Exception) -> str:
    return (f"a value in the request cannot be stored ({first_line(exc)}): shorten the "
            "text or send a smaller number or a real date")


def unavailable(exc: Exception) -> str:
    return ("the campaign database does not answer right now (it may be restarting); "
            "nothing was changed; try again in a moment")


# Each kind of error the app answers with a sentence instead of a 500: the status and
# what the sender is told.
REFUSED: dict[type[Exception], tuple[int, Callable[[Exception], str]]] = {
    OverflowError: (422, out_of_range), DataError: (422, unstorable),
    OperationalError: (503, unavailable), InterfaceError: (503, unavailable)}


def install(app: FastAPI) -> None:
    """Add the app's handlers for malformed input."""

    def refuse(status: int, detail: Callable[[Exception], str]
               ) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handle(request: Request, exc: Exception) -> Response:
            log.warning("refused %s %s (%d): %s", request.method, request.url.path, status,
                        first_line(exc))
            refusal = HTTPException(status, detail(exc))
            # The handler dialer/web/app.py registers answers JSON for the API and the
            # error page for people; an app without one still answers in JSON.
            for kind in HTTPException.__mro__:
                if (handler := app.exception_handlers.get(kind)) is not None:
                    response = handler(request, refusal)
                    return await response if inspect.isawaitable(response) else response
            return JSONResponse({"detail": refusal.detail}, status_code=status)

        return handle

    for kind, (status, detail) in REFUSED.items():
        app.add_exception_handler(kind, refuse(status, detail))


def first_line(exc: BaseException) -> str:
    """The database's own words, without the SQL and the parameters SQLAlchemy adds."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
