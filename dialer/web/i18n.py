"""The interface in the user's language: English (the source text) or Korean.

Templates say `{{ _("Log out") }}` and `{{ _("{n} contacts done", n=3) }}`; scripts say
`T("Call offered")` (dialer/web/static/i18n.js), with the page's words handed to them in a
JSON block that no browser runs. One catalogue per language, dialer/web/locale/ko/, kept
in a file per area of the app (agent.json, campaigns.json...), maps each English text to
its Korean; a text missing there is shown in English, and a test
(tests/dialer/web/test_i18n.py) lists every text the templates and scripts use that has
no Korean yet, so none is forgotten, and any text two files translate differently.

The language is the user's own choice (their account's setting) when they made one,
else the first of the browser's languages this app speaks, else English."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from campaigns.preferences import INTERFACE_LANGUAGES

LOCALE = Path(__file__).parent / "locale"
LANGUAGES = tuple(INTERFACE_LANGUAGES)
DEFAULT = "en"
# One "xx" or "xx-YY" item of an Accept-Language header, with its weight.
_ACCEPT = re.compile(r"\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*")


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    """English text -> its translation (empty for English): every file of the
    language's folder together."""
    if language == DEFAULT or language not in LANGUAGES:
        return {}
    out: dict[str, str] = {}
    for path, table in catalogue_files(language):
        out.update({k: v for k, v in table.items() if v})
    return out


def catalogue_files(language: str) -> list[tuple[Path, dict[str, str]]]:
    """Each file of the language's catalogue, read and checked."""
    files = []
    for path in sorted((LOCALE / language).glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in raw.items()):
            raise ValueError(f"{path} must map English texts to texts")
        files.append((path, raw))
    return files


def translate(language: str, text: str, **values: Any) -> str:
    """`text` in `language`, its {placeholders} filled with `values`."""
    out = catalogue(language).get(text, text)
    return out.format(**values) if values else out


def from_header(accept_language: str | None) -> str | None:
    """The first language of an Accept-Language header that the app speaks."""
    best: list[tuple[float, int, str]] = []
    for i, item in enumerate((accept_language or "")[:500].split(",")):
        found = _ACCEPT.fullmatch(item)
        if not found:
            continue
        try:
            weight = float(found.group(2)) if found.group(2) else 1.0
        except ValueError:
            continue
        code = found.group(1).lower()
        if code in LANGUAGES and weight > 0:
            best.append((-weight, i, code))
    return min(best)[2] if best else None


def choose(chosen: str | None, accept_language: str | None) -> str:
    """The user's choice, else the browser's, else English."""
    if chosen in LANGUAGES:
        return str(chosen)
    return from_header(accept_language) or DEFAULT


def words_for_scripts(language: str, texts: list[str]) -> str:
    """The translations a page's scripts need, as JSON safe inside <script
    type="application/json">: no "</" can end the block early."""
    table = {t: translate(language, t) for t in texts}
    return json.dumps(table, ensure_ascii=False).replace("</", "<\\/")


# `_("...")` in a template, `T("...")` in a script: the texts to translate.
_TEMPLATE_TEXT = re.compile(r'''\b_\(\s*"((?:[^"\\]|\\.)*)"''')
_SCRIPT_TEXT = re.compile(r'''\bT\(\s*"((?:[^"\\]|\\.)*)"''')


def texts_in(directory: Path, pattern: str, finder: re.Pattern[str]) -> dict[str, list[str]]:
    """Every text to translate in the files of `directory` -> the files it is in."""
    out: dict[str, list[str]] = {}
    for path in sorted(directory.glob(pattern)):
        for text in finder.findall(path.read_text(encoding="utf-8")):
            out.setdefault(text.encode().decode("unicode_escape")
                           if "\\" in text else text, []).append(path.name)
    return out


def script_codes() -> tuple[str, ...]:
    """Codes the scripts say through T(code), not found as literals: the agent console's
    states, the queue's call states and the not-ready reasons."""
    from dialer.handoff.acd import NOT_READY_REASONS, STATES

    return (*(s.replace("_", " ") for s in STATES), "unreachable", "waiting", "offered",
            *NOT_READY_REASONS)


@lru_cache(maxsize=1)
def script_texts() -> tuple[str, ...]:
    """The texts the app's own scripts (dialer/web/static/*.js) translate."""
    found = texts_in(Path(__file__).parent / "static", "*.js", _SCRIPT_TEXT)
    return tuple(dict.fromkeys([*found, *script_codes()]))


def template_texts() -> dict[str, list[str]]:
    return texts_in(Path(__file__).parent / "templates", "*.html", _TEMPLATE_TEXT)
