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

import ast
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from campaigns.preferences import INTERFACE_LANGUAGES
from campaigns.refusals import Code, Phrase, Refusal, render, sayable
from dialer.web import words

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


def of_request(request: Any) -> str:
    """The language of the pages and sentences a request is answered with: the
    logged-in user's choice, else the browser's, else English."""
    user = getattr(request.state, "user", None)
    return choose(getattr(user, "language", None), request.headers.get("accept-language"))


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


def said(language: str, exc: object) -> str:
    """A refusal's or a phrase's sentence in `language`: its text from the catalogue,
    filled with its values (themselves translated where they are codes, phrases or
    refusals); any other exception's message or text as it stands."""
    if sayable(exc):
        # A value under a code's placeholder name is that code, also in a phrase of a
        # layer that has no Code (nlu/, dialer/conversation/).
        values = {k: Code(v, k) if k in CODE_PLACEHOLDERS and type(v) is str and _CODE.fullmatch(v)
                  else v for k, v in getattr(exc, "values").items()}  # noqa: B009
        return render(getattr(exc, "text"), values,  # noqa: B009
                      lambda text: translate(language, text),
                      lambda code: code_word(code, language))
    return str(exc)


def code_word(code: Code, language: str) -> str:
    """A code's words on a page: "running" -> "Running" / "진행 중"."""
    say = {"status": words.status_word, "disposition": words.disposition_word,
           "intent": words.intent_word, "role": words.role_word}.get(code.kind)
    if language == DEFAULT:  # inside an English sentence: "a finished campaign"
        return say(str(code), language).lower() if say else str(code).replace("_", " ")
    if say is not None:
        return say(str(code), language)
    return translate(language, str(code).capitalize()) if code.kind == "action" else str(code)


# The packages whose refusals reach a page.
REFUSING = ("campaigns", "dialer", "nlu")


def refusal_kinds(trees: list[ast.Module]) -> set[str]:
    """The names of every kind of refusal the source defines: Refusal, the classes
    built on it, the classes built on those..."""
    bases = {node.name: {getattr(b, "id", None) or getattr(b, "attr", None)
                         for b in node.bases}
             for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    kinds = {Refusal.__name__}
    while grown := {name for name, of in bases.items() if of & kinds} - kinds:
        kinds |= grown
    return kinds | {Code.__name__, Phrase.__name__, "Rejected"}  # dialer/web/errors.py


def refusal_texts(root: Path) -> tuple[dict[str, list[str]], list[str]]:
    """Every refusal's text (and every Code) in the app's source -> the files it is in,
    and the places that build a refusal's text from an f-string (which no catalogue can
    translate)."""
    files = [path for package in REFUSING for path in sorted((root / package).rglob("*.py"))]
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in files]
    kinds = refusal_kinds(trees)
    texts: dict[str, list[str]] = {}
    built: list[str] = []
    for path, tree in zip(files, trees):
        constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) for t in n.targets
                     if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in kinds:
                continue
            first, where = node.args[0], f"{path.relative_to(root)}:{node.lineno}"
            if isinstance(first, ast.Constant) and type(first.value) is int and node.args[1:]:
                first = node.args[1]  # Rejected(status, text, ...)
            text = (first.value if isinstance(first, ast.Constant) else
                    constants.get(first.id) if isinstance(first, ast.Name) else None)
            if isinstance(text, str):
                texts.setdefault(text, []).append(where)
            elif name != Code.__name__ and not isinstance(first, (ast.Name, ast.Starred)):
                built.append(where)  # an f-string, a "+" or a str(exc): not in a catalogue
    texts.pop("{why}", None)  # a foreign exception's message, passed on as it is
    return texts, built


# A sentence's values that are codes, known by their placeholder's name.
CODE_PLACEHOLDERS = ("intent", "disposition", "status", "role", "action")
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
# A {placeholder} of a catalogue text, with its conversion and format spec.
_PLACEHOLDER = re.compile(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}")
_LONGEST_STORED = 4000


@lru_cache(maxsize=len(LANGUAGES))
def _patterns(language: str) -> list[tuple[re.Pattern[str], str]]:
    """Each catalogue text with placeholders as a pattern that matches its English
    sentences, with the translation to fill; the most specific (most fixed words) first,
    so "{path}: file not found" wins over "{why}"."""
    out = []
    for english, translated in catalogue(language).items():
        names = _PLACEHOLDER.findall(english)
        if not names or _PLACEHOLDER.sub("", english).strip() == "":
            continue
        seen: set[str] = set()
        parts, end = [], 0
        for found in _PLACEHOLDER.finditer(english.replace("{{", "\0").replace("}}", "\1")):
            parts.append(re.escape(english[end:found.start()]))
            name = found.group(1)
            parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
            seen.add(name)
            end = found.end()
        parts.append(re.escape(english[end:]))
        fixed = len(_PLACEHOLDER.sub("", english))
        out.append((fixed, re.compile("".join(parts).replace("\\\0", "\\{").replace(
            "\\\1", "\\}"), re.DOTALL), _PLACEHOLDER.sub(r"{\1}", translated)))
    return [(pattern, translated) for _, pattern, translated in
            sorted(out, key=lambda item: -item[0])]


def said_any(language: str, said_or_text: object, depth: int = 0) -> str:
    """What a page shows for a sentence: a refusal's or a phrase's in `language`; a plain
    English sentence (one stored in the database, or handed over by another process as
    text) matched back to the catalogue text it was made from and said in `language`
    with the same values; anything else as it stands."""
    if sayable(said_or_text):
        return said(language, said_or_text)
    text = str(said_or_text)
    if language == DEFAULT or not text or len(text) > _LONGEST_STORED:
        return text
    if (whole := catalogue(language).get(text)) is not None:
        return whole
    for pattern, translated in _patterns(language):
        if (found := pattern.fullmatch(text)) is not None:
            return translated.format(**{k: _stored_value(k, v, language, depth)
                                        for k, v in found.groupdict().items()})
    return text




def _stored_value(name: str, value: str, language: str, depth: int) -> str:
    """A value matched out of a stored sentence, said in `language`: a code in words
    ({intent} "request_human" -> "상담원 요청"), a sentence of ours in translation."""
    if name in CODE_PLACEHOLDERS and _CODE.fullmatch(value):
        return code_word(Code(value, name), language)
    return said_any(language, value, depth + 1) if depth < 2 else value


def reason_said(language: str, reason: str | None) -> str:
    """Why the robot ended or handed off a call, as stored, in the reader's words:
    "customer intent request_human" -> "The customer: asked for a person" / "고객: 상담원
    요청"; the other reasons the dialer writes through the catalogue; a script's own
    reason (its author's words) as written."""
    text = (reason or "").strip()
    if _CODE.fullmatch(text):  # a node reached on an intent stores the intent alone
        code = Code(text, "disposition" if text in words.DISPOSITIONS
                    and text not in words.INTENTS else "intent")
        return code_word(code, language).capitalize() if language == DEFAULT \
            else code_word(code, language)
    if language == DEFAULT:
        return words.reason_words(text)
    if text.startswith("customer intent "):
        intent = text.removeprefix("customer intent ").strip()
        return translate(language, "The customer: {intent}",
                         intent=code_word(Code(intent, "intent"), language))
    said = said_any(language, text)
    return said[:1].upper() + said[1:]
