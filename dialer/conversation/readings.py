"""Which of the recogniser's readings of one utterance the robot acts on, and as what
intent (`understand`); a grammar reading stitched from several phrases (`forced`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from voices.recognizer import phrase_sequence

FALLBACK = "nlu_fallback"


class Reading(Protocol):
    """One way the recogniser heard an utterance (voices.asr.AsrResult fits)."""

    @property
    def text(self) -> str: ...

    @property
    def confidence(self) -> float: ...


def understand(readings: Sequence[Reading], parse: Callable[[str], dict[str, Any]],
               phrases: frozenset[str] = frozenset()) -> tuple[Reading, str, float]:
    """Pick the reading the robot both heard and understood best: ASR confidence times
    NLU confidence (its in-scope score when the parse has one), a fallback counting as 0.
    The two passes' ASR confidences alone are not comparable: an espeak "아니요 됐어요"
    scored 0.73 in the grammar pass and its open-vocabulary reading "아기 옷 과 했어요" 0.9,
    which the NLU cannot place. Ties go to the earlier reading (the grammar one).

    A grammar reading that is not expected `phrases` whole (one or several in a row) was
    forced: the grammar stitched words of several phrases over speech it does not cover
    ("지워 아요 번호 해요" for "세탁기 돌려야 돼요"). It is acted on only when an unforced reading
    of the same audio means the same intent; otherwise the reply is not understood
    and the robot asks again. Measured on the held-out replies spoken by
    espeak-ng (bench/asr_replies.py --paraphrases), this took wrong intents read with
    confidence >= 0.8 from about half of the replies to a few in a hundred.

    The readings are several looks at one utterance (the grammar from starts in the
    decoder's three frame phases, the open vocabulary), so they vote: each intent scores
    the sum of its readings' scores, a forced reading counting when an unforced reading
    (open, or a grammar reading of whole phrases) means the same. A callee's "가격이
    얼마에요" said over the robot's echo came back as "어디 얼마에요" (forced, 0.80),
    "가격이 얼마에요" (0.77) and the open "여기 가 어디 요" (0.81, where is this?): the
    best single reading was the open one, the intent two readings share is the price.
    The intent's best reading is returned with it (what confirming an irreversible
    action weighs). Returns (reading, intent, conf)."""
    if not readings:
        raise ValueError("no reading to understand")
    parsed: list[tuple[str, float, float]] = []  # (intent, confidence, rank) per reading
    for r in readings:
        if r.text:
            answer = parse(r.text)
            intent, conf = str(answer["intent"]["name"]), float(answer["intent"]["confidence"])
            # Our own NLU adds how in-scope the text is; an external Rasa server does not.
            parsed.append((intent, conf, float(answer.get("in_scope", conf))))
        else:
            parsed.append((FALLBACK, 0.0, 0.0))
    backed = {p[0] for r, p in zip(readings, parsed, strict=True)
              if r.text and not forced(r, phrases)}
    votes: dict[str, float] = {}
    best: dict[str, tuple[float, int]] = {}  # per intent: its best reading
    for i, (r, (intent, _, rank)) in enumerate(zip(readings, parsed, strict=True)):
        if intent == FALLBACK or intent not in backed:
            continue  # not understood, or forced with nothing to back it
        score = r.confidence * rank
        votes[intent] = votes.get(intent, 0.0) + score
        if intent not in best or score > best[intent][0]:
            best[intent] = (score, i)
    if not votes:  # nothing understood: the first (grammar) reading, not understood
        return readings[0], FALLBACK, parsed[0][1]
    # The most votes; among equals, the intent of the earliest reading (the grammar's):
    # votes holds the intents in the order of their first reading, max keeps the first.
    top = max(votes, key=votes.__getitem__)
    i = best[top][1]
    return readings[i], top, parsed[i][1]


def forced(reading: Reading, phrases: frozenset[str]) -> bool:
    """A grammar reading that is not expected phrases whole, one after another ("네" +
    "담당자 연결 해 주세요" is two), but words of several stitched together (`phrases`
    empty: unknown, nothing counts as forced)."""
    return (bool(phrases) and bool(getattr(reading, "grammar", False))
            and not phrase_sequence(reading.text, phrases))
