"""Background remarks: everyday off-topic talk a reply is compared with.

A model trained only on a campaign's intents has never seen what lies outside them, so a
remark that shares a few words with an intent ("how much is rent in this city" and
ask_cost, "这手机太贵了" and too_expensive) can look in scope: its similarity to the
nearest example is no lower than that of many real paraphrases, so no similarity threshold
separates them. The project ships a few hundred everyday remarks per language
(nlu/background/*.txt: weather, food, the time in other cities, what one asks a voice
assistant...), written for it and for no campaign in particular. A reply whose sentence
embedding is nearer to one of them than to every example the author wrote is more like
off-topic talk than like an answer, and falls back (FallbackClassifier).

Which languages: `background_remarks: auto` (the default) takes those whose script at
least a tenth of the training examples are written in (Hangul: ko, Han without Hangul: zh,
Latin: en); a list such as `[ko, en]` names them; `false` or `[]` switches it off. A
background remark as like one of the author's own examples as `background_overlap` or more
is left out, so the author's intent always wins. It needs the sentence encoder
(`embedding_model`); without one it does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from nlu.component import NluModelError

DIRECTORY = Path(__file__).parent / "background"
LANGUAGES = ("ko", "en", "zh")
# A language takes part when at least this share of the examples is written in its script.
_SHARE = 0.1
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_LATIN = re.compile(r"[A-Za-z]")


def script_of(text: str) -> str | None:
    """The language whose script a text is mostly written in, or None (digits, symbols)."""
    if _HANGUL.search(text):  # Korean text may carry Han characters or Latin brand names
        return "ko"
    counts = {"zh": len(_HAN.findall(text)), "en": len(_LATIN.findall(text))}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else None


def languages_for(setting: Any, texts: Sequence[str]) -> list[str]:
    """The background languages a `background_remarks` setting gives for these examples;
    raises NluModelError for a setting that is none of auto, false or a list of them."""
    if setting in (None, False, "off", "none") or setting == []:
        return []
    if setting == "auto":
        found = [script_of(t) for t in texts]
        return [lang for lang in LANGUAGES
                if texts and found.count(lang) / len(texts) >= _SHARE]
    names = [setting] if isinstance(setting, str) else setting
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise NluModelError("NLU config", f"`background_remarks` is {setting!r}",
                            f"use auto, false, or a list of {', '.join(LANGUAGES)}")
    unknown = [n for n in names if n not in LANGUAGES]
    if unknown:
        raise NluModelError("NLU config", f"`background_remarks` names {unknown[0]!r}",
                            f"background remarks exist for {', '.join(LANGUAGES)}")
    return list(dict.fromkeys(names))


@cache
def remarks(language: str) -> tuple[str, ...]:
    """The packaged remarks of one language (read once per process)."""
    lines = (DIRECTORY / f"{language}.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
