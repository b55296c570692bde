"""Speech recognition with the real Korean vosk model on espeak-ng speech."""

from __future__ import annotations

import pytest

from voices.asr import AsrResult, VoskAsr, load_model, resolve_model_path
from voices.audio import silence
from voices.tts import Pyttsx3Tts

RATE = 16000
FRAME = RATE // 50 * 2  # 20 ms, as frames come off a call


@pytest.fixture(scope="module")
def asr() -> VoskAsr:
    return VoskAsr(load_model(resolve_model_path(None, "ko")))


@pytest.fixture(scope="module")
def tts() -> Pyttsx3Tts:
    return Pyttsx3Tts("ko", rate=175)


def stream_decode(asr: VoskAsr, pcm: bytes, grammar: list[str] | None) -> AsrResult:
    stream = asr.stream(grammar)
    for i in range(0, len(pcm), FRAME):
        stream.feed(pcm[i:i + FRAME])
    return stream.finish()


def test_words_before_a_pause_vosk_endpoints_on_are_kept(asr: VoskAsr, tts: Pyttsx3Tts) -> None:
    # 900 ms of silence is past the model's own endpoint rule (0.5 s), but our VAD, not
    # vosk, decides where an utterance ends: nothing before the pause may be lost.
    pcm = (tts.synthesize("네 좋아요", RATE) + silence(900, RATE)
           + tts.synthesize("가격이 얼마에요", RATE) + silence(300, RATE))
    result = stream_decode(asr, pcm, ["네 좋아요", "가격이 얼마에요", "아니요"])
    assert result.text == "네 좋아요 가격이 얼마에요"
    assert [w for w, _ in result.words] == ["네", "좋아요", "가격이", "얼마에요"]


def test_grammar_keeps_only_phrases_the_model_can_spell(asr: VoskAsr) -> None:
    assert asr.grammar(["네  좋아요", "네 좋아요", "zzzqx 좋아요", ""]) == ["네 좋아요"]


def test_weak_grammar_reading_comes_with_other_readings(asr: VoskAsr, tts: Pyttsx3Tts) -> None:
    # Every grammar reading counts as weak here, so the open-vocabulary reading and the
    # later-start grammar readings come along for the caller to choose from with the NLU.
    strict = VoskAsr(asr.model, grammar_min_confidence=1.01)
    pcm = silence(200, RATE) + tts.synthesize("가격이 얼마에요", RATE) + silence(700, RATE)
    result = stream_decode(strict, pcm, ["가격이 얼마에요", "아니요"])
    assert result.grammar and result.text == "가격이 얼마에요"
    assert any(not r.grammar for r in result.alternatives), result
    assert all(r.text and r.text != result.text for r in result.alternatives)
    assert len({r.text for r in result.hypotheses()}) == len(result.hypotheses())


def test_a_forced_grammar_reading_comes_with_the_open_vocabulary_reading(
        asr: VoskAsr, tts: Pyttsx3Tts) -> None:
    # Speech outside the grammar is forced into its words, sometimes with a confidence
    # that passes the threshold; a reading that is no phrase whole always comes with
    # the open-vocabulary reading, which dialer.conversation.readings.understand checks
    # it against before the robot acts on it.
    # (Over such speech the grammar may also come out as one phrase whole, at 1.0:
    # "네 좋아요" for "내일 다시 전화 주세요"; nothing in the audio tells that apart.)
    phrases = ["네 좋아요", "아니요"]
    forced = []
    for said in ("내일 다시 전화 주세요", "세탁기 돌려야 돼요", "지금 운전 중이에요"):
        pcm = silence(200, RATE) + tts.synthesize(said, RATE) + silence(700, RATE)
        result = stream_decode(asr, pcm, phrases)
        if result.text and result.text not in phrases:
            forced.append(result)
            assert [r for r in result.alternatives if not r.grammar], result
    assert forced, "none of the replies came out forced"


def test_a_whole_phrase_read_surely_needs_no_other_reading(asr: VoskAsr,
                                                         tts: Pyttsx3Tts) -> None:
    pcm = silence(200, RATE) + tts.synthesize("가격이 얼마에요", RATE) + silence(700, RATE)
    result = stream_decode(asr, pcm, ["가격이 얼마에요", "아니요"])
    assert (result.text, result.alternatives) == ("가격이 얼마에요", ()), result


def test_open_vocabulary_recognisers_are_reused_warm_and_reset(asr: VoskAsr,
                                                                tts: Pyttsx3Tts) -> None:
    from voices.asr import _open_pools, warm_up

    speech = tts.synthesize("여보세요 지금은 바빠요", RATE)
    warm_up(asr.model, speech)
    pool = _open_pools[id(asr.model)]
    warmed = pool[-1]
    stream = asr.stream(None)
    assert stream._rec is warmed and warmed not in pool, "taken from the pool, not shared"
    stream.feed(speech[:len(speech) // 2])
    stream.close()  # abandoned half way (the customer hung up)
    assert pool[-1] is warmed
    # What was half heard does not leak into the next utterance.
    assert asr.decode(silence(1000, RATE), None).text == ""
    assert asr.decode(speech, None).text, "still decodes speech"
    assert pool[-1] is warmed and pool.count(warmed) == 1
