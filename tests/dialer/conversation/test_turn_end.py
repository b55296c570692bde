"""The words judge of a reply's end (dialer.conversation.turn_end), alone and as the
endpointer's turn hook."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dialer.conversation.frames import (
    InputAudio,
    TentativeTranscript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from dialer.conversation.pipeline import FrameProcessor, run_test
from dialer.conversation.processors import VadProcessor
from dialer.conversation.turn_end import ReplyCompleteness, hesitation_phrases, unfinished
from voices.vad import VadConfig

RATE, FRAME_MS = 16000, 20
FRAME = RATE * FRAME_MS // 1000


@pytest.mark.parametrize("text", ["음", "어 그게", "네 근데", "제가 지금", "", "  ",
                                  "다음 주에 오시면", "그거는 남편이 알고", "가격이 비싼데",
                                  "um", "I think the", "嗯 那个"])
def test_a_reading_that_stops_mid_thought_is_unfinished(text: str) -> None:
    lang = "en" if text.isascii() and text.strip() else "zh" if "嗯" in text else "ko"
    assert unfinished(text, lang), text


@pytest.mark.parametrize("text,lang", [("네 관심 있어요", "ko"), ("얼마예요", "ko"),
                                       ("아니요 괜찮습니다", "ko"), ("네", "ko"),
                                       ("다시 전화 주세요", "ko"), ("지금 바빠서요", "ko"),
                                       ("좋아요 그렇게 하죠", "ko"), ("음 얼마라고요", "ko"),
                                       ("no thanks", "en"), ("how much is it", "en"),
                                       ("不需要", "zh")])
def test_a_finished_reply_is_finished(text: str, lang: str) -> None:
    assert not unfinished(text, lang), text


def test_fillers_are_phrases_the_recogniser_can_hear() -> None:
    assert "음" in hesitation_phrases("ko-KR") and "um" in hesitation_phrases("en")
    assert hesitation_phrases("xx") == ()


def reading(text: str, confidence: float = 0.9, grammar: bool = True) -> SimpleNamespace:
    return SimpleNamespace(text=text, confidence=confidence, grammar=grammar)


def test_a_weak_grammar_reading_is_judged_by_the_open_vocabulary_one() -> None:
    words = ReplyCompleteness("ko")
    run_test(words, [TentativeTranscript((reading("네", 0.4), reading("음", 0.7, False)), 1.0)])
    assert words.complete_probability(b"") == 0.0 and words.waited == 1
    run_test(words, [TentativeTranscript((reading("네", 0.9), reading("음", 0.7, False)), 2.0)])
    assert words.complete_probability(b"") == 1.0
    run_test(words, [UserStartedSpeaking(3.0)])  # a new utterance: nothing read yet
    assert words.reading is None and words.complete_probability(b"") == 1.0


class Reader(FrameProcessor):
    """Stands in for the recogniser: an early reading 160 ms into each silence."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__()
        self.texts, self.quiet_ms = texts, -10_000  # nothing to read before speech

    def process(self, frame, direction):  # type: ignore[no-untyped-def]
        self.push(frame, direction)
        if isinstance(frame, InputAudio):
            self.quiet_ms = 0 if frame.voiced else self.quiet_ms + FRAME_MS
            if self.quiet_ms == 160 and self.texts:
                self.push(TentativeTranscript((reading(self.texts.pop(0)),), frame.at))


def tone(ms: int) -> bytes:
    t = np.arange(RATE * ms // 1000) / RATE
    voice = 6000 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return voice.astype("<i2").tobytes()


def frames(pcm: bytes) -> list[InputAudio]:
    return [InputAudio(pcm[i:i + 2 * FRAME], (i // (2 * FRAME) + 1) * FRAME_MS / 1000)
            for i in range(0, len(pcm), 2 * FRAME)]


@pytest.mark.parametrize("first,ends", [("음", 1), ("네 좋아요", 2)])
def test_the_endpointer_waits_out_a_pause_after_an_unfinished_reading(first: str,
                                                                      ends: int) -> None:
    """A 700 ms pause after "음": with the words judge the reply is heard as one; after
    a finished reading the pause ends it (and 200 ms into the silence, not 300)."""
    pcm = bytes(12800) + tone(600) + bytes(22400) + tone(800) + bytes(48000)
    words = ReplyCompleteness("ko")
    cfg = VadConfig(engine="webrtc", turn_check_ms=200, max_pause_ms=1000)
    down, _ = run_test([VadProcessor(RATE, FRAME_MS, cfg, words), Reader([first, "얼마예요"]),
                        words], frames(pcm))
    stops = [f for f in down if isinstance(f, UserStoppedSpeaking)]
    assert len(stops) == ends, [(s.started_at, s.at) for s in stops]
    assert stops[-1].at - stops[-1].last_voiced_at == pytest.approx(0.2, abs=0.021)
