"""Choosing between the recogniser's readings of one utterance (dialer.conversation.readings.understand)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from dialer.conversation.readings import understand


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
    "지워 아요 번호 해요": ("opt_out", 0.95),  # the grammar's patchwork over other speech
    "세탁기 돌려야 돼요": ("nlu_fallback", 0.5),
    "번호 지워 주세요": ("opt_out", 0.99),
    "번호 좀 지워 주세요": ("opt_out", 0.9),
}
PHRASES = frozenset({"번호 지워 주세요", "아니요 됐어요", "네"})


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
    """Calibration sharpens a nonsense reading's confidence (0.47 -> 0.86 on the demo
    data); the in-scope score our NLU adds keeps it ranked as the nonsense it is."""
    from dialer.conversation.kit import load_kit
    from dialer.conversation.policy import scoped_parser
    from tests.support.procs import DEMO

    nlu = load_kit(DEMO).nlu
    nonsense, in_scope = nlu.parse_with_scope("과 했어요")
    assert nonsense["intent"]["confidence"] > 0.8 and in_scope < 0.7
    readings = [R("아니요 됐어요", 0.73), R("과 했어요", 0.9, False)]
    reading, intent, conf = understand(readings, scoped_parser(nlu))
    assert (reading.text, intent) == ("아니요 됐어요", "deny") and conf > 0.99
    # Without the in-scope score (what calibrated confidence alone gives) it would lose.
    assert understand(readings, nlu.parse)[0].text == "과 했어요"
    # An external Rasa server's answer passes unchanged.
    rasa = type("Rasa", (), {"parse": staticmethod(parse)})()
    assert "in_scope" not in scoped_parser(rasa)("네")


def test_a_forced_reading_alone_is_not_acted_on() -> None:
    forced = R("지워 아요 번호 해요", 0.92)
    reading, intent, _ = understand([forced], parse, PHRASES)
    assert (reading, intent) == (forced, "nlu_fallback")


def test_a_forced_reading_the_open_reading_contradicts_is_not_understood() -> None:
    forced, open_ = R("지워 아요 번호 해요", 0.92), R("세탁기 돌려야 돼요", 0.6, False)
    assert understand([forced, open_], parse, PHRASES)[1] == "nlu_fallback"


def test_a_forced_reading_the_open_reading_agrees_with_is_acted_on() -> None:
    forced, open_ = R("지워 아요 번호 해요", 0.92), R("번호 좀 지워 주세요", 0.6, False)
    reading, intent, conf = understand([forced, open_], parse, PHRASES)
    assert (reading, intent, conf) == (forced, "opt_out", 0.95)


def test_a_whole_phrase_needs_no_agreement() -> None:
    whole = R("번호 지워 주세요", 0.92)
    assert understand([whole], parse, PHRASES) == (whole, "opt_out", 0.99)


def test_without_the_phrases_nothing_counts_as_forced() -> None:
    forced = R("지워 아요 번호 해요", 0.92)
    assert understand([forced], parse)[1] == "opt_out"


def test_phrases_one_after_another_are_no_forced_reading() -> None:
    # "네, 담당자 연결해 주세요": a yes and a request, each an expected phrase whole.
    from voices.recognizer import phrase_sequence

    phrases = frozenset({"네", "담당자 연결 해 주세요", "번호 지워 주세요"})
    assert phrase_sequence("네 담당자 연결 해 주세요", phrases)
    assert phrase_sequence("네  네", phrases)
    assert not phrase_sequence("네 담당자 지워 주세요", phrases)
    assert not phrase_sequence("연결 해 주세요", phrases)
    assert not phrase_sequence("", phrases)
    # A clipped syllable at either end ("이제" -> "에") is no stitched-in word.
    assert phrase_sequence("에 번호 지워 주세요", phrases)
    assert phrase_sequence("번호 지워 주세요 요", phrases)
    assert not phrase_sequence("에", phrases)
    assert not phrase_sequence("번호 에 지워 주세요", phrases)
    # The ending heard twice over G.711 ("주세요" then "계세요") is no stitched-in word;
    # a word that ends otherwise, or one in the middle, still is.
    assert phrase_sequence("번호 지워 주세요 계세요", phrases)
    assert phrase_sequence("네 담당자 연결 해 주세요 계세요", phrases)
    assert not phrase_sequence("번호 지워 주세요 돼요", phrases)
    assert not phrase_sequence("번호 지워 계세요 주세요", phrases)
    assert not phrase_sequence("네 계세요", phrases)
    both = R("네 번호 지워 주세요", 0.9)
    assert understand([both], lambda t: {"intent": {"name": "opt_out", "confidence": 0.9}},
                      phrases)[1] == "opt_out"


def test_the_demos_paraphrases_teach_the_nlu_but_are_no_grammar_phrases() -> None:
    from dialer.conversation.kit import load_kit
    from tests.support.procs import DEMO

    kit = load_kit(DEMO)
    said = "로봇 말고 사람 나오게 해 주세요"  # under `grammar: false` in the demo's nlu.yml
    assert said in kit.data.examples_for("request_human")
    assert said not in kit.phrases("request_human")
    assert "상담원 연결해 주세요" in kit.phrases("request_human")
    assert kit.nlu.parse(said)["intent"]["name"] == "request_human"


def test_the_intent_most_readings_mean_wins_over_the_single_best_reading() -> None:
    # Read in a real call (tests/e2e/test_echo.py): "가격이 얼마에요" said over the robot's
    # echo, read in three decoder phases and by the open vocabulary. Before the vote the
    # open reading's 0.81 won, and the robot told a callee who asked the price who it was.
    phrases = frozenset({"가격이 얼마에요", "얼마에요", "어디 세요", "누구 세요"})
    said = {"어디 얼마에요": ("ask_price", 0.97), "가격이 얼마에요": ("ask_price", 1.0),
            "여기 가 어디 요": ("ask_identity", 0.99)}

    def nlu(text: str) -> dict[str, Any]:
        name, conf = said[text]
        return {"text": text, "intent": {"name": name, "confidence": conf}}

    readings = [R("어디 얼마에요", 0.80), R("가격이 얼마에요", 0.77),
                R("여기 가 어디 요", 0.81, False)]
    reading, intent, conf = understand(readings, nlu, phrases)
    assert (reading.text, intent, conf) == ("어디 얼마에요", "ask_price", 0.97)  # its best
    # The forced reading alone backs nothing: the open reading stands.
    assert understand([readings[0], readings[2]], nlu, phrases)[1] == "ask_identity"


def test_a_forced_reading_a_whole_reading_agrees_with_is_acted_on() -> None:
    forced, whole = R("지워 아요 번호 해요", 0.92), R("번호 지워 주세요", 0.5)
    reading, intent, _ = understand([forced, whole], parse, PHRASES)
    assert (reading, intent) == (forced, "opt_out")
