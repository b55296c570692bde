"""Choosing between the recogniser's readings of one utterance (dialer.policy.understand)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from dialer.policy import understand


@dataclass(frozen=True)
class R:
    text: str
    confidence: float
    grammar: bool = True


INTENTS = {  # what a trained NLU would say about these texts
    "아니요 됐어요": ("deny", 0.96),
    "아기 옷 과 했어요": ("ask_identity", 0.47),
    "네": ("affirm", 0.9),
    "내일 다시 전화 주세요": ("call_later", 0.92),
    "전화 주세요": ("call_later", 0.5),
    "음": ("nlu_fallback", 0.2),
}


def parse(text: str) -> dict[str, Any]:
    name, conf = INTENTS[text]
    return {"text": text, "intent": {"name": name, "confidence": conf}}


def test_understood_grammar_reading_beats_a_louder_nonsense_reading() -> None:
    reading, intent, conf = understand([R("아니요 됐어요", 0.73), R("아기 옷 과 했어요", 0.9, False)],
                                       parse)
    assert (reading.text, intent, conf) == ("아니요 됐어요", "deny", 0.96)


def test_out_of_script_answer_wins_over_a_forced_phrase() -> None:
    reading, intent, _ = understand([R("전화 주세요", 0.4), R("내일 다시 전화 주세요", 0.8, False)],
                                    parse)
    assert reading.text == "내일 다시 전화 주세요" and intent == "call_later"


def test_fallback_counts_as_not_understood_whatever_the_asr_says() -> None:
    reading, intent, _ = understand([R("네", 0.3), R("음", 1.0, False)], parse)
    assert reading.text == "네" and intent == "affirm"


@pytest.mark.parametrize("readings", [[R("", 0.0)], [R("음", 0.9), R("", 0.0, False)]])
def test_nothing_understood_is_a_fallback_on_the_first_reading(readings: list[R]) -> None:
    reading, intent, _ = understand(readings, parse)
    assert reading is readings[0] and intent == "nlu_fallback"


def test_ties_go_to_the_grammar_reading() -> None:
    first, second = R("네", 0.5), R("네", 0.5, False)
    assert understand([first, second], parse)[0] is first


def test_no_reading_is_an_error() -> None:
    with pytest.raises(ValueError):
        understand([], parse)


def test_calibrated_nonsense_is_ranked_by_how_in_scope_it_is() -> None:
    """Calibration sharpens a nonsense reading's confidence (0.47 -> 0.93 on the demo
    data); the in-scope score our NLU adds keeps it ranked as the nonsense it is."""
    from dialer.policy import scoped_parser
    from dialer.runtime import load_kit
    from tests.support.procs import DEMO

    nlu = load_kit(DEMO).nlu
    nonsense = nlu.parse("과 했어요")["intent"]
    assert nonsense["name"] == "ask_identity" and nonsense["confidence"] > 0.9
    readings = [R("아니요 됐어요", 0.73), R("과 했어요", 0.9, False)]
    reading, intent, conf = understand(readings, scoped_parser(nlu))
    assert (reading.text, intent) == ("아니요 됐어요", "deny") and conf > 0.99
    # Without the in-scope score (what calibrated confidence alone gives) it would lose.
    assert understand(readings, nlu.parse)[1] == "ask_identity"
    # An external Rasa server's answer passes unchanged.
    rasa = type("Rasa", (), {"parse": staticmethod(parse)})()
    assert "in_scope" not in scoped_parser(rasa)("네")
