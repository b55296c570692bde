"""Refusals that can be said in the reader's language.

A refusal keeps its sentence as an English text with {placeholders} and the values that
fill them, apart: `CampaignError("a campaign named {name!r} already exists", name=n)`.
`str()` of it is the English sentence, as the command line and the API print it; a web
page asks `dialer.web.i18n.said(language, exc)` and gets the same sentence from the
language's catalogue, filled with the same values. So the text must be a literal, never
an f-string (a test reads every refusal's text from the source and checks that it has its
Korean). A value that is itself a refusal is said in the same language; a `Code` (a
status, a disposition) is looked up in the catalogue too, not shown raw."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self


class Code(str):
    """A value that is one of the app's codes, of a kind: a campaign's "status"
    ("running"), a "disposition" ("busy"), an "intent", a "role", an "action" on a
    campaign ("start"). The command line
    shows the code; a page shows its words (dialer/web/words.py)."""

    kind: str

    def __new__(cls, code: str, kind: str) -> Self:
        made = super().__new__(cls, code)
        made.kind = kind
        return made

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]  # keeps the kind
        return str(self), self.kind


class Phrase(str):
    """A sentence that is not an error (a dry-run's flag, a warning about training data):
    the English sentence as a str, so it prints, compares and goes into JSON as one, with
    its text and values kept for a page to say it in the reader's language."""

    text: str
    values: dict[str, Any]

    def __new__(cls, text: str, /, **values: Any) -> Self:
        made = super().__new__(cls, render(text, values, _as_is))
        made.text, made.values = text, values
        return made


class Refusal(Exception):
    """Why a request was refused, in words a reader can act on."""

    def __init__(self, text: str, /, **values: Any) -> None:
        self.text, self.values = text, values
        super().__init__(render(text, values, _as_is))

    @classmethod
    def again(cls, other: BaseException, **changed: Any) -> Refusal:
        """`other`'s sentence as this kind of refusal: its text and values kept (those
        `changed` replaced), so it is still translated; a foreign exception's message as
        it stands."""
        if isinstance(other, Refusal):
            return cls(other.text, **{**other.values, **changed})
        return cls("{why}", why=str(other))


def _as_is(text: str) -> str:
    return text


def sayable(thing: object) -> bool:
    """A refusal or a phrase: an English text with its values apart. By its shape, so
    that nlu/, which imports nothing of the app, can have phrases of its own."""
    return (isinstance(getattr(thing, "text", None), str)
            and isinstance(getattr(thing, "values", None), dict))


def _code(code: Code) -> str:
    return str(code)


def render(text: str, values: dict[str, Any], translate: Callable[[str], str],
           word: Callable[[Code], str] = _code) -> str:
    """The sentence with its values filled in: the text passed through `translate`, a
    code through `word`, a value that is a phrase or a refusal rendered the same way, a
    list as its items so rendered, joined by commas."""
    if not values:
        return translate(text)
    def one(v: Any) -> Any:
        if sayable(v):
            return render(v.text, v.values, translate, word)
        if isinstance(v, Code):
            return word(v)
        if isinstance(v, (list, tuple)):  # a list of codes or phrases: "busy, no answer"
            return ", ".join(str(one(each)) for each in v)
        return v

    filled = {k: one(v) for k, v in values.items()}
    try:
        return translate(text).format(**filled)
    except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
        return text.format(**filled)
