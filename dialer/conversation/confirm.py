"""Confirming an irreversible action before the robot takes it on a spoken reply.

An opt-out (the number goes on the do-not-call list), or any node a script marks
`confirm: true`, cannot be undone: a wrong DNC entry loses a customer for good. When the
reply that would lead there was heard weakly, the robot asks first ("수신 거부로 처리해
드릴까요?") and takes the action only on a clear yes. A reading is weak when

- the grammar forced it: the recogniser, restricted to the phrases expected at the node,
  stitched words of several phrases together ("번호 지워 주세요" + "예" + "없어요" from
  "사람하고 직접 얘기하고 싶어요"), which is how speech outside the grammar comes out;
- it is a re-read: the grammar pass was weak, and this reading came from decoding again
  (the grammar from a later start, or the open-vocabulary pass);
- the recogniser's confidence is below `confirm_asr_below`, or the NLU's is below the
  intent's bar in `confirm_below`.

A key press (DTMF 9) is never weak. Everything here is pure and cheap: the policy runs it
only for replies that would take an irreversible action, never on ordinary turns.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nlu.phrase import Phrase

# How the reading the robot acts on was obtained (ParseResult.heard).
KEY = "key"  # a key press
GRAMMAR = "grammar"  # the grammar pass, one of the expected phrases whole
FORCED = "forced"  # the grammar pass, a patchwork of the expected phrases' words
REREAD = "reread"  # the grammar again from a later start: the first pass was weak
REREAD_OPEN = "reread_open"  # the open-vocabulary pass: the grammar pass was weak
OPEN = "open"  # the open vocabulary, no grammar in force
HEARD = (KEY, GRAMMAR, FORCED, REREAD, REREAD_OPEN, OPEN)

# The intents whose examples mean yes and no (Rasa's usual names); a script's NLU that
# has them reads answers in the customer's own words, beside the phrases below.
AFFIRM, DENY = "affirm", "deny"
# Keys that answer the question; not announced (the question stays short).
CONFIRM_KEYS = {"1": AFFIRM, "2": DENY}
YES, NO, UNCLEAR, ASKED = "yes", "no", "unclear", "asked"  # Turn.confirmation
MAX_ASKS = 2  # the question, then once more; never the action without a yes

DEFAULT_CONFIRM_BELOW = 0.9  # NLU confidence bar of an intent not in confirm_below
DEFAULT_CONFIRM_ASR_BELOW = 0.85

# The question for an opt-out, per language (settings.confirm_prompt overrides it).
CONFIRM_PROMPTS: dict[str, str] = {
    "ko": "수신 거부로 처리해 드릴까요?",
    "en": "Shall I take your number off our call list?",
    "zh": "需要为您办理拒绝来电吗？",
}
# Said before the node's question again when the answer was no.
DECLINED_PROMPTS: dict[str, str] = {"ko": "알겠습니다.", "en": "All right.", "zh": "好的。"}
# Answers to the question, whole; also the recogniser's grammar while it waits for one.
# Korean as people say it and as the vosk model splits it ("아니 에 요"), like nlu.yml.
YES_PHRASES: dict[str, tuple[str, ...]] = {
    "ko": ("네", "예", "응", "네 네", "예 예", "맞아요", "맞 아요", "네 맞 아요", "그래요",
           "네 그래요", "네 해 주세요", "해 주세요", "네 그렇게 해 주세요", "그렇게 해 주세요",
           "네 처리해 주세요", "처리해 주세요"),
    "en": ("yes", "yeah", "yep", "yes please", "that's right", "correct", "sure", "do it"),
    "zh": ("是", "是的", "对", "对的", "好", "好的", "可以"),
}
NO_PHRASES: dict[str, tuple[str, ...]] = {
    "ko": ("아니요", "아니오", "아뇨", "아니", "아니에요", "아니 에 요", "그게 아니 에 요",
           "아니요 그게 아니 에 요", "아니요 됐어요", "싫어요", "아니요 싫어요"),
    "en": ("no", "nope", "no thanks", "don't", "no don't", "that's not it", "not that"),
    "zh": ("不", "不是", "不要", "不用", "不对"),
}

_PUNCTUATION = re.compile(r"[.,!?。，！？、~]+")


def normalise(text: str) -> str:
    """For comparing answers: case, punctuation and spacing aside ("네 맞 아요", as the
    recogniser splits it, is "네 맞아요")."""
    return "".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def weakest_word(reading: Any) -> float:
    """The confidence of the reading's least sure word (its mean without words)."""
    words = getattr(reading, "words", ())
    return min((float(c) for _, c in words), default=float(reading.confidence))


def heard_as(reading: Any, readings: Sequence[Any], phrases: frozenset[str]) -> str:
    """How `reading` (one of `readings`, the grammar pass first) was obtained; `phrases`:
    the grammar in force (empty: unknown, a grammar reading then counts as whole)."""
    if not getattr(reading, "grammar", False):
        first_grammar = bool(readings) and bool(getattr(readings[0], "grammar", False))
        return REREAD_OPEN if first_grammar else OPEN
    if readings and reading is not readings[0]:
        return REREAD
    if phrases and " ".join(str(reading.text).split()) not in phrases:
        return FORCED
    return GRAMMAR


def weakness(heard: str, asr_confidence: float, confidence: float, intent: str,
             asr_bar: float, nlu_bar: float, weakest_word: float = 1.0) -> str | None:
    """Why this reading is too weak for an irreversible action; None when it is strong.
    The ASR bar holds for every word: a whole expected phrase laid over other speech
    still has a word that does not fit (over SIP, "그런 거 필요 없어요" came out as
    "번호 지워 주세요" at 0.90, its "번호" at 0.70)."""
    if heard == KEY:
        return None
    if heard == FORCED:
        return Phrase("forced by the grammar: not a phrase expected there")
    if heard == REREAD:
        return Phrase("re-read from a later start: the grammar pass was weak")
    if heard == REREAD_OPEN:
        return Phrase("re-read by the open-vocabulary pass: the grammar pass was weak")
    low = min(asr_confidence, weakest_word)
    if low < asr_bar:  # part of the reason stored with the call: said in the reader's words
        if weakest_word < asr_confidence:
            return Phrase("ASR confidence {low:.2f} (its weakest word) < {bar:.2f}",
                          low=low, bar=asr_bar)
        return Phrase("ASR confidence {low:.2f} < {bar:.2f}", low=low, bar=asr_bar)
    if nlu_bar >= 1.0:
        return Phrase("always asked for {intent} (its bar is 1)", intent=intent)
    if confidence < nlu_bar:
        return Phrase("NLU confidence {confidence:.2f} < {bar:.2f} for {intent}",
                      confidence=confidence, bar=nlu_bar, intent=intent)
    return None


def answer_of(text: str, intent: str, language: str) -> str | None:
    """YES or NO when the reply answers the question in so many words (or the NLU's
    affirm/deny says so); None otherwise."""
    lang = language.split("-")[0]
    said = normalise(text)
    if said in {normalise(p) for p in YES_PHRASES.get(lang, ())}:
        return YES
    if said in {normalise(p) for p in NO_PHRASES.get(lang, ())}:
        return NO
    if intent == AFFIRM:
        return YES
    if intent == DENY:
        return NO
    return None


def is_phrase(text: str, language: str) -> bool:
    """The reply is a whole yes or no phrase (as sure as the NLU at its best)."""
    lang = language.split("-")[0]
    said = normalise(text)
    return any(said == normalise(p) for p in (*YES_PHRASES.get(lang, ()),
                                              *NO_PHRASES.get(lang, ())))


def settings_error(path: Path, out: dict[str, Any]) -> str | None:
    """What is wrong with the confirmation settings of script.yml (tidied in place)."""
    if "confirm_below" in out:
        bars = out["confirm_below"]
        if not isinstance(bars, dict) or not all(
                isinstance(k, str) and k and not isinstance(v, bool)
                and isinstance(v, int | float) and 0 <= v <= 1 for k, v in bars.items()):
            return (f"{path}: settings.confirm_below must map intents to an NLU confidence "
                    "from 0 (never ask on confidence) to 1 (always ask), e.g. "
                    "confirm_below: {opt_out: 0.9}")
        out["confirm_below"] = {str(k): float(v) for k, v in bars.items()}
    if "confirm_asr_below" in out:
        value = out["confirm_asr_below"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            return (f"{path}: settings.confirm_asr_below {value!r} must be an ASR confidence "
                    "from 0 to 1, e.g. 0.85")
        out["confirm_asr_below"] = float(value)
    for key in ("confirm_prompt", "confirm_no_prompt"):
        value = out.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            return (f"{path}: settings.{key} must be the sentence the robot says (or leave "
                    "it out for the language's default)")
        if value is not None and _bad_braces(value):
            return (f"{path}: settings.{key} {value!r}: braces must name a field, e.g. "
                    "{name}; write {{ or }} for a brace itself")
    return None


def _bad_braces(text: str) -> bool:
    try:
        list(string.Formatter().parse(text))
    except ValueError:
        return True
    return False


def node_error(where: str, value: object, prompt: object, opt_out: bool) -> str | None:
    """What is wrong with a node's `confirm:` and `confirm_prompt:`."""
    if value is not None and not isinstance(value, bool):
        return (f"{where}: confirm {value!r} must be true (entering this node is "
                "irreversible: confirm a weakly heard reply first) or false")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        return (f"{where}: confirm_prompt must be the question that confirms the action, "
                "e.g. '계약을 해지해 드릴까요?'")
    if isinstance(prompt, str) and _bad_braces(prompt):
        return (f"{where}: confirm_prompt {prompt!r}: braces must name a field, e.g. "
                "{name}; write {{ or }} for a brace itself")
    confirms = value if value is not None else opt_out
    if prompt is not None and not confirms:
        return (f"{where}: confirm_prompt is set, but the robot never confirms entering "
                "this node; add confirm: true or remove the prompt")
    if value and not opt_out and prompt is None:
        return (f"{where}: confirm: true needs the node's own confirm_prompt (the default "
                "question is about an opt-out), e.g. confirm_prompt: '계약을 해지해 "
                "드릴까요?'")
    return None
