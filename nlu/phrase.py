"""A sentence for people, with its English text and values kept apart.

The shape of campaigns.refusals.Phrase (see there), for the layers that may not import
campaigns/: nlu/ (its data warnings) and dialer/conversation/ (why a call ended). A page
says it in the reader's language by its shape (`text` and `values`); stored as text, it
is matched back to its catalogue text (dialer/web/i18n.py `said_any`)."""

from __future__ import annotations

from typing import Any, Self


class Phrase(str):
    """A sentence: its English, with its text and values kept for a page to say
    it in the reader's language. The shape of campaigns.refusals.Phrase, which nlu (the
    bottom layer, importing nothing of the app) cannot import; its values are plain."""

    text: str
    values: dict[str, Any]

    def __new__(cls, text: str, /, **values: Any) -> Self:
        made = super().__new__(cls, text.format(**values) if values else text)
        made.text, made.values = text, values
        return made
