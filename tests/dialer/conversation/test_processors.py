"""The call's frame processors, frame by frame, without a network: the pipeline itself,
endpointing, barge-in and backchannels, streaming recognition, the policy's timers, TTS,
the audio out and the turn metrics. Speech is real (espeak-ng), recognition is vosk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from dialer.conversation.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Dtmf,
    EndFrame,
    ErrorFrame,
    Escalated,
    FinalTranscript,
    Frame,
    Hangup,
    InputAudio,
    InterimTranscript,
    Interruption,
    Listen,
    ParseResult,
    Speak,
    SpeechAudio,
    StartFrame,
    TentativeTranscript,
    Tick,
    TurnSaid,
    TurnUpdated,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from dialer.conversation.kit import load_kit
from dialer.conversation.pipeline import DOWN, UP, FrameProcessor, run_test
from dialer.conversation.policy import DialoguePolicy
from dialer.conversation.processors import (
    AsrProcessor,
    AudioOutput,
    BargeInProcessor,
    NluProcessor,
    PolicyProcessor,
    TtsProcessor,
    TurnRecorder,
    VadProcessor,
)
from dialer.telephony.media import CLOCK_RATE, FRAME_BYTES, FRAME_MS
from tests.support.procs import DEMO
from voices.asr import VoskAsr, load_model, resolve_model_path
from voices.audio import rms, silence
from voices.tts import Pyttsx3Tts
from voices.vad import VadConfig


@pytest.fixture(scope="module")
def engines() -> dict[str, Any]:
    kit = load_kit(DEMO)
    asr = VoskAsr(load_model(resolve_model_path(None, "ko")))
    return {"kit": kit, "asr": asr, "tts": Pyttsx3Tts("ko", rate=175)}


def audio_frames(pcm: bytes, start: float = 100.0) -> list[InputAudio]:
    pcm += b"\x00" * (-len(pcm) % FRAME_BYTES)
    return [InputAudio(pcm[i:i + FRAME_BYTES], start + i // FRAME_BYTES * FRAME_MS / 1000)
            for i in range(0, len(pcm), FRAME_BYTES)]


def spoken(engines: dict[str, Any], text: str, before_ms: int = 300,
           after_ms: int = 800, start: float = 100.0) -> list[InputAudio]:
    pcm = (silence(before_ms, CLOCK_RATE) + engines["tts"].synthesize(text, CLOCK_RATE)
           + silence(after_ms, CLOCK_RATE))
    return audio_frames(pcm, start)


def of(frames: list[Frame], kind: type) -> list[Any]:
    return [f for f in frames if isinstance(f, kind)]


# -- the pipeline ------------------------------------------------------------------------
class Echo(FrameProcessor):
    """Answers a Speak with an Interruption going down and a marker going up."""

    def process(self, frame: Frame, direction: Any) -> None:
        self.push(frame, direction)
        if isinstance(frame, Speak):
            self.push(Tick(1.0))
            self.push(Interruption(2.0))
            self.push(Listen(("x",)), UP)


class Boom(FrameProcessor):
    def process(self, frame: Frame, direction: Any) -> None:
        if isinstance(frame, Speak):
            raise OSError("engine down")
        self.push(frame, direction)


def test_frames_pass_in_order_and_interruptions_jump_the_queue() -> None:
    down, up = run_test([Echo(), FrameProcessor()], [Speak("hi"), (Tick(5.0), UP)])
    assert [type(f).__name__ for f in down] == ["Interruption", "Speak", "Tick"]
    assert up == [Listen(("x",)), Tick(5.0)]


def test_a_failing_processor_becomes_an_error_frame_not_silence() -> None:
    down, _ = run_test([Boom(), FrameProcessor()], [Speak("hi"), Tick(1.0)])
    assert isinstance(down[0], ErrorFrame) and "Boom: OSError: engine down" in \
        down[0].message
    assert down[1] == Tick(1.0), "the call goes on"


# -- endpointing ---------------------------------------------------------------------------
def test_endpoint_after_the_configured_trailing_silence(engines: dict[str, Any]) -> None:
    frames = spoken(engines, "네 관심 있어요")
    for end_ms in (300, 600):
        down, _ = run_test(VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig(end_silence_ms=end_ms)),
                           frames)
        starts, stops = of(down, UserStartedSpeaking), of(down, UserStoppedSpeaking)
        assert len(starts) == len(stops) == 1
        start, stop = starts[0], stops[0]
        assert 100.25 <= start.at <= 100.45 and len(start.preroll) >= 5
        assert stop.at - stop.last_voiced_at == pytest.approx(end_ms / 1000, abs=0.03)
        assert not stop.truncated
        assert len(of(down, InputAudio)) == len(frames), "audio passes on"


def test_the_endpoint_counts_from_the_last_audible_frame_not_the_vad_hangover(
        engines: dict[str, Any]) -> None:
    # WebRTC VAD alone calls ~100 ms of digital silence after a word speech; that would
    # be added to every turn's latency.
    frames = spoken(engines, "아니요 됐어요")
    last_audible = max(f.at for f in frames if rms(f.pcm) > 30)
    down, _ = run_test(VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig(end_silence_ms=300)), frames)
    stop = of(down, UserStoppedSpeaking)[0]
    assert stop.at - last_audible == pytest.approx(0.3, abs=0.021)
    assert stop.last_voiced_at == pytest.approx(last_audible, abs=0.021)


def test_quiet_speech_still_counts_and_line_hiss_does_not(engines: dict[str, Any]) -> None:
    pcm = engines["tts"].synthesize("네 관심 있어요", CLOCK_RATE)
    loud = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    peak_dbfs = 20 * np.log10(float(np.sqrt(np.mean(loud * loud))) / 32768)
    quiet = (loud * 10 ** ((-38 - peak_dbfs) / 20)).astype("<i2").tobytes()  # -38 dBFS
    hiss = (np.random.default_rng(7).normal(0, 20, 16000 * 2)).astype("<i2").tobytes()
    for pcm_in, expect in ((quiet, 1), (hiss, 0)):
        frames = audio_frames(silence(300, CLOCK_RATE) + pcm_in + silence(800, CLOCK_RATE))
        down, _ = run_test(VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig()), frames)
        assert len(of(down, UserStartedSpeaking)) == expect


def test_maximum_utterance_length_closes_endless_speech(engines: dict[str, Any]) -> None:
    talk = b"".join(engines["tts"].synthesize("가격이 얼마에요 네 관심 있어요", CLOCK_RATE)
                    for _ in range(4))
    down, _ = run_test(VadProcessor(CLOCK_RATE, FRAME_MS,
                                    VadConfig(end_silence_ms=300, max_utterance_ms=2000)),
                       audio_frames(talk))
    stops = of(down, UserStoppedSpeaking)
    assert stops and stops[0].truncated
    assert stops[0].at - stops[0].started_at == pytest.approx(2.0, abs=0.05)


# -- barge-in ----------------------------------------------------------------------------
def test_speech_over_the_robot_interrupts_it_and_is_heard_from_its_start() -> None:
    frames: list[Any] = [(BotStartedSpeaking(99.0), UP), UserStartedSpeaking(100.0, (b"p",))]
    frames += [InputAudio(b"a", 100.0 + i * 0.02) for i in range(30)]
    down, up = run_test(BargeInProcessor(min_ms=400), frames)
    interruption = of(down, Interruption)
    # 400 ms of voiced speech: the 20th frame.
    assert len(interruption) == 1 and interruption[0].at == pytest.approx(100.38)
    # The interruption comes first, then the held speech from its very start.
    assert down.index(interruption[0]) < down.index(of(down, UserStartedSpeaking)[0])
    assert len(of(down, InputAudio)) == 30
    assert up == [BotStartedSpeaking(99.0)]


@pytest.mark.parametrize("ms", [100, 380])
def test_backchannel_does_not_interrupt_and_is_not_acted_on(ms: int) -> None:
    n = ms // 20
    frames: list[Any] = [(BotStartedSpeaking(99.0), UP), UserStartedSpeaking(100.0)]
    frames += [InputAudio(b"a", 100.0 + i * 0.02) for i in range(n)]
    frames += [UserStoppedSpeaking(100.0 + n * 0.02, 100.0, 100.0 + n * 0.02)]
    barge = BargeInProcessor(min_ms=400)
    down, _ = run_test(barge, frames)
    assert not of(down, Interruption) and not of(down, UserStartedSpeaking)
    assert not of(down, UserStoppedSpeaking) and not of(down, InputAudio)
    assert len(of(down, Tick)) == n, "the clock still runs below"
    assert barge.backchannels == 1 and barge.interruptions == 0


def test_only_voiced_time_counts_towards_an_interruption() -> None:
    # "네" (300 ms) then the 300 ms of silence the endpoint needs: 600 ms held, 300 voiced.
    frames: list[Any] = [(BotStartedSpeaking(99.0), UP), UserStartedSpeaking(100.0)]
    frames += [InputAudio(b"a", 100.0 + i * 0.02, voiced=i < 15) for i in range(30)]
    frames += [UserStoppedSpeaking(100.6, 100.0, 100.3)]
    down, _ = run_test(BargeInProcessor(min_ms=400), frames)
    assert not of(down, Interruption) and not of(down, UserStartedSpeaking)


def test_reply_that_starts_as_the_robot_finishes_goes_through_whole() -> None:
    frames: list[Any] = [(BotStartedSpeaking(99.0), UP), UserStartedSpeaking(100.0)]
    frames += [InputAudio(b"a", 100.0 + i * 0.02) for i in range(5)]
    frames += [(BotStoppedSpeaking(100.1), UP)]
    frames += [InputAudio(b"b", 100.12 + i * 0.02) for i in range(5)]
    down, _ = run_test(BargeInProcessor(min_ms=400), frames)
    assert not of(down, Interruption)
    assert len(of(down, UserStartedSpeaking)) == 1 and len(of(down, InputAudio)) == 10


def test_without_robot_speech_everything_passes_untouched() -> None:
    frames: list[Frame] = [UserStartedSpeaking(1.0), InputAudio(b"a", 1.0),
                           UserStoppedSpeaking(1.5, 1.0, 1.2)]
    assert run_test(BargeInProcessor(), frames)[0] == frames


# -- recognition and understanding --------------------------------------------------------
def test_asr_runs_only_on_speech_with_the_grammar_asked_for(engines: dict[str, Any]) -> None:
    kit = engines["kit"]
    phrases = tuple(p for i in ("affirm", "deny", "ask_price") for p in kit.phrases(i))
    vad = VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig(end_silence_ms=300))
    asr = AsrProcessor(engines["asr"], interim_every_ms=200)
    silence_only = audio_frames(silence(2000, CLOCK_RATE))
    down, _ = run_test([vad, asr], [(Listen(phrases), UP), *silence_only])
    assert not of(down, FinalTranscript) and asr.stream is None, "no decoding on silence"
    down, _ = run_test([VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig(end_silence_ms=300)),
                        asr, NluProcessor(kit.nlu.parse)],
                       [(Listen(phrases), UP), *spoken(engines, "가격이 얼마에요")])
    final = of(down, FinalTranscript)
    assert len(final) == 1 and final[0].readings[0].grammar
    assert of(down, InterimTranscript), "interim text while they speak"
    parse = of(down, ParseResult)
    assert [(p.text, p.intent) for p in parse] == [("가격이 얼마에요", "ask_price")]
    assert parse[0].asr_confidence > 0.5 and parse[0].nlu_ms > 0
    assert down.index(of(down, UserStoppedSpeaking)[0]) < down.index(final[0])


@pytest.mark.parametrize("text", ["요금이 얼마에요", "전화 하지 마세요", "오늘 날씨가 좋네요"])
def test_half_a_frame_earlier_in_the_call_the_same_words_read_the_same(
        engines: dict[str, Any], text: str) -> None:
    """A 10 ms codec frame concealed anywhere before a reply moves every later frame's
    grid by half a frame; what the recogniser reads of the reply must not move with it
    (seen on a loaded machine: "요금이 얼마에요" read as "듣고 얼마에요")."""
    kit = engines["kit"]
    phrases = tuple(p for i in ("affirm", "deny", "ask_price", "opt_out")
                    for p in kit.phrases(i))

    words = engines["tts"].synthesize(text, CLOCK_RATE)  # once: espeak varies a little

    def reading(before_ms: int) -> str:
        vad = VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig(end_silence_ms=300))
        pcm = silence(before_ms, CLOCK_RATE) + words + silence(800, CLOCK_RATE)
        down, _ = run_test([vad, AsrProcessor(engines["asr"])],
                           [(Listen(phrases), UP), *audio_frames(pcm)])
        # (its confidence may move a little: the end is still cut on the frame grid)
        return str(of(down, FinalTranscript)[0].readings[0].text)

    readings = {shift: reading(300 + shift) for shift in (0, 10, 30, 50)}
    assert len(set(readings.values())) == 1, readings


def test_readings_are_understood_in_the_trailing_silence_before_the_endpoint(
        engines: dict[str, Any]) -> None:
    kit = engines["kit"]
    phrases = tuple(p for i in ("affirm", "deny", "ask_price") for p in kit.phrases(i))
    calls: list[str] = []

    def parse(text: str) -> dict[str, Any]:
        calls.append(text)
        return kit.nlu.parse(text)

    frames = spoken(engines, "가격이 얼마에요")
    down, _ = run_test([VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig(end_silence_ms=300)),
                        AsrProcessor(engines["asr"], early_final_ms=150), NluProcessor(parse)],
                       [(Listen(phrases), UP), *frames])
    assert not of(down, TentativeTranscript), "the NLU keeps it; nothing acts on it"
    final, stop = of(down, FinalTranscript)[0], of(down, UserStoppedSpeaking)[0]
    parse_result = of(down, ParseResult)[0]
    assert (parse_result.text, parse_result.intent) == ("가격이 얼마에요", "ask_price")
    assert calls == ["가격이 얼마에요"], "parsed once, before the endpoint"
    assert stop.at - stop.last_voiced_at == pytest.approx(0.3, abs=0.021)
    # The tentative readings went down 150 ms into the silence, ahead of the endpoint.
    asr = AsrProcessor(engines["asr"], early_final_ms=150)
    down, _ = run_test([VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig(end_silence_ms=300)),
                        asr], [(Listen(phrases), UP), *frames])
    tentative = of(down, TentativeTranscript)[0]
    assert tentative.at - stop.last_voiced_at == pytest.approx(0.15, abs=0.021)
    assert of(down, FinalTranscript)[0].readings is tentative.readings
    assert final.readings[0].text == tentative.readings[0].text


def test_speaking_on_after_an_early_reading_is_heard_whole(engines: dict[str, Any]) -> None:
    kit = engines["kit"]
    phrases = tuple(p for i in ("affirm", "deny", "ask_price") for p in kit.phrases(i))
    first = np.frombuffer(engines["tts"].synthesize("가격이", CLOCK_RATE), dtype="<i2")
    first = first[:int(np.nonzero(np.abs(first) > 300)[0][-1]) + 1]  # no trailing silence
    pcm = (silence(300, CLOCK_RATE) + first.tobytes()
           + silence(220, CLOCK_RATE) + engines["tts"].synthesize("얼마에요", CLOCK_RATE)
           + silence(800, CLOCK_RATE))
    results = {}
    for early in (None, 150.0):
        down, _ = run_test([VadProcessor(CLOCK_RATE, FRAME_MS, VadConfig(end_silence_ms=300)),
                            AsrProcessor(engines["asr"], early_final_ms=early)],
                           [(Listen(phrases), UP), *audio_frames(pcm)])
        assert len(of(down, UserStoppedSpeaking)) == 1, "a 220 ms pause is not an endpoint"
        final = of(down, FinalTranscript)[0]
        tentative = of(down, TentativeTranscript)
        if early is None:
            assert not tentative
        else:  # one in the pause, voided when they spoke on; one before the endpoint
            assert len(tentative) == 2 and "얼마에요" not in tentative[0].readings[0].text
            assert final.readings is tentative[1].readings
        results[early] = [r.text for r in final.readings]
    # Both paths hear the reply whole. (Their readings may differ a little: the early
    # path is finished with 150 ms less trailing silence decoded.)
    for early in (None, 150.0):
        assert "가격이 얼마에요" in results[early][0], results


# -- the policy ----------------------------------------------------------------------------
@pytest.fixture()
def policy(engines: dict[str, Any]) -> PolicyProcessor:
    kit = engines["kit"]
    return PolicyProcessor(DialoguePolicy(kit.script, {"name": "김민수"}), kit.phrases,
                           no_input_timeout_s=2.0)


def test_greeting_then_listen_then_reprompt_after_silence(policy: PolicyProcessor) -> None:
    down, up = run_test(policy, [StartFrame(0.0), (BotStoppedSpeaking(3.0), UP), Tick(4.0),
                                 Tick(5.1)])
    speak = of(down, Speak)
    assert speak[0].node == "greeting" and "김민수" in speak[0].text
    assert of(up, Listen)[0].node == "greeting" and "네 좋아요" in of(up, Listen)[0].phrases
    assert len(speak) == 2 and speak[1].kind == "no_input", "reprompt 2 s after the prompt"


def test_no_reprompt_while_the_customer_is_speaking(policy: PolicyProcessor) -> None:
    down, _ = run_test(policy, [StartFrame(0.0), (BotStoppedSpeaking(3.0), UP),
                                UserStartedSpeaking(4.0), Tick(6.0), Tick(9.0)])
    assert len(of(down, Speak)) == 1


def test_without_amd_the_robot_lets_the_callee_say_hello_first(engines: dict[str, Any]) -> None:
    kit = engines["kit"]

    def fresh() -> PolicyProcessor:
        return PolicyProcessor(DialoguePolicy(kit.script, {"name": "김민수"}), kit.phrases,
                               no_input_timeout_s=2.0, opening_wait_s=1.0)

    # A silent callee is greeted after 1 s of silence.
    down, up = run_test(fresh(), [StartFrame(0.0), Tick(0.5), Tick(0.98)])
    assert not of(down, Speak) and of(up, Listen)[0].phrases, "listening for a hello"
    down, _ = run_test(fresh(), [StartFrame(0.0), Tick(1.0)])
    assert [s.node for s in of(down, Speak)] == ["greeting"]
    # One who says "여보세요?" is not talked over: greeted once it is read.
    policy = fresh()
    down, _ = run_test(policy, [StartFrame(0.0), UserStartedSpeaking(0.4), Tick(1.2),
                                UserStoppedSpeaking(1.5, 0.4, 1.2), Tick(1.6)])
    assert not of(down, Speak), "they are still saying hello"
    down, _ = run_test(policy, [ParseResult("여보세요", "nlu_fallback", 0.2, 0.9,
                                            last_voiced_at=1.2)])
    assert [s.node for s in of(down, Speak)] == ["greeting"]
    assert of(down, ParseResult)[0].text == "여보세요", "kept in the transcript"
    assert policy.policy.fallbacks_in_row == 0, "a hello is no misunderstood reply"
    # Someone who talks on is greeted after 4 s anyway.
    down, _ = run_test(fresh(), [StartFrame(0.0), UserStartedSpeaking(0.2), Tick(3.9),
                                 Tick(4.0)])
    assert [s.node for s in of(down, Speak)] == ["greeting"]


def test_an_utterance_with_nothing_read_is_noise_not_a_misunderstood_reply(
        policy: PolicyProcessor) -> None:
    """Found on a street-noise line: a passing car, read as nothing, was taken for a
    reply the robot did not understand; two of them in a row handed the call over."""
    frames: list[Any] = [StartFrame(0.0), (BotStoppedSpeaking(3.0), UP)]
    for at in (3.5, 4.0, 4.5):
        frames += [UserStartedSpeaking(at - 0.3), UserStoppedSpeaking(at, at - 0.3, at - 0.2),
                   ParseResult(" ", "nlu_fallback", 0.0, 0.2, last_voiced_at=at - 0.2,
                               noise=True)]
    down, _ = run_test(policy, [*frames, Tick(4.9)])
    assert [s.node for s in of(down, Speak)] == ["greeting"], "no reprompt, no handoff"
    assert not of(down, Escalated) and not of(down, ParseResult)
    assert policy.noise_readings == 3
    # The wait for a reply still runs from the end of the greeting: 2 s later, a reprompt.
    down, _ = run_test(policy, [Tick(5.1)])
    assert [s.kind for s in of(down, Speak)] == ["no_input"]


def test_a_lone_um_is_the_caller_thinking_not_a_reply(policy: PolicyProcessor) -> None:
    """Found on the lines bench: a hesitant callee's "음… 네 좋아요" was cut at the pause
    and the "음" read as "네", a yes the robot acted on. "음" is in the grammar now, and
    an utterance of nothing else is not answered: the robot waits for the reply."""
    frames: list[Any] = [StartFrame(0.0), (BotStoppedSpeaking(3.0), UP)]
    for at, text, intent in ((3.8, "음", "nlu_fallback"), (4.6, "음 음", "nlu_fallback")):
        frames += [UserStartedSpeaking(at - 0.4), UserStoppedSpeaking(at, at - 0.4, at - 0.3),
                   ParseResult(text, intent, 0.9, 0.9, last_voiced_at=at - 0.3,
                               endpoint_at=at)]
    down, up = run_test(policy, [*frames, Tick(5.5)])
    assert all("음" in listen.phrases for listen in of(up, Listen))
    assert [s.node for s in of(down, Speak)] == ["greeting"], "no reply, no reprompt"
    assert [(p.text, p.node) for p in of(down, ParseResult)] == [("음", "greeting"),
                                                                 ("음 음", "greeting")]
    assert policy.thinking == 2 and not of(down, Escalated)
    # Their time to reply runs from the last "음" (4.6 + 2 s), not from the prompt.
    down, _ = run_test(policy, [Tick(6.5)])
    assert not of(down, Speak)
    down, _ = run_test(policy, [Tick(6.7)])
    assert [s.kind for s in of(down, Speak)] == ["no_input"]
    # The reply that follows is acted on.
    down, _ = run_test(policy, [(BotStoppedSpeaking(8.0), UP),
                                ParseResult("음 네 좋아요", "affirm", 0.9, 0.9,
                                            last_voiced_at=9.0, endpoint_at=9.3)])
    assert [s.node for s in of(down, Speak)] == ["pitch"]


def test_a_reply_that_stops_on_um_is_answered_unless_the_caller_goes_on(
        policy: PolicyProcessor) -> None:
    """"네 음…" is a yes the caller may still add to: held, answered after 1.2 s of
    quiet, or replaced by what they say next (kept in the transcript either way)."""
    start: list[Any] = [StartFrame(0.0), (BotStoppedSpeaking(3.0), UP)]
    yes_um = ParseResult("네 음", "affirm", 0.9, 0.9, last_voiced_at=3.9, endpoint_at=4.2)
    down, _ = run_test(policy, [*start, yes_um, Tick(5.3)])
    assert [s.node for s in of(down, Speak)] == ["greeting"] and not of(down, ParseResult)
    down, _ = run_test(policy, [Tick(5.5)])
    assert [s.node for s in of(down, Speak)] == ["pitch"], "answered 1.2 s after it"
    assert [(p.text, p.node) for p in of(down, ParseResult)] == [("네 음", "greeting")]


def test_what_the_caller_says_after_um_answers_instead(engines: dict[str, Any]) -> None:
    kit = engines["kit"]
    policy = PolicyProcessor(DialoguePolicy(kit.script, {"name": "김민수"}), kit.phrases,
                             no_input_timeout_s=2.0)
    down, _ = run_test(policy, [
        StartFrame(0.0), (BotStoppedSpeaking(3.0), UP),
        ParseResult("네 음", "affirm", 0.9, 0.9, last_voiced_at=3.9, endpoint_at=4.2),
        UserStartedSpeaking(4.6), Tick(5.5), UserStoppedSpeaking(5.8, 4.6, 5.6),
        ParseResult("아니요 됐어요", "deny", 0.9, 0.9, last_voiced_at=5.6, endpoint_at=5.8),
        Tick(8.0)])
    assert [s.node for s in of(down, Speak)] == ["greeting", "objection"], "a no, not a yes"
    assert [p.text for p in of(down, ParseResult)] == ["네 음", "아니요 됐어요"]


def test_only_an_utterance_no_reading_holds_a_word_is_noise() -> None:
    """Speech the grammar cannot read ("오늘 날씨가 좋네요" at the greeting) is a reply
    not understood, as long as the open vocabulary heard words in it."""
    from voices.recognizer import AsrResult

    def parse(text: str) -> dict[str, Any]:
        return {"intent": {"name": "nlu_fallback", "confidence": 0.0}, "entities": []}

    cases = {(AsrResult("", 0.0, grammar=True), AsrResult("", 0.0)): True,
             (AsrResult("", 0.0, grammar=True), AsrResult("오늘 날씨 가", 0.7)): False}
    for readings, noise in cases.items():
        down, _ = run_test(NluProcessor(parse), [FinalTranscript(readings, 1.0, 1.5, 5.0, 1.8)])
        assert of(down, ParseResult)[0].noise is noise, readings


def test_reply_moves_the_script_and_the_end_waits_for_the_last_words(
        policy: PolicyProcessor) -> None:
    frames: list[Any] = [StartFrame(0.0), (BotStoppedSpeaking(3.0), UP),
                         ParseResult("아니요 됐어요", "deny", 0.9, 0.9, last_voiced_at=4.0),
                         (BotStoppedSpeaking(7.0), UP),
                         ParseResult("너무 비싸요", "too_expensive", 0.9, 0.9,
                                     last_voiced_at=8.0)]
    down, _ = run_test(policy, frames)
    speak = of(down, Speak)
    assert [s.node for s in speak] == ["greeting", "objection", "close_not_interested"]
    assert speak[1].reply_to_voiced_at == 4.0
    assert of(down, ParseResult)[0].node == "greeting", "the turn knows where it was said"
    assert not of(down, Hangup), "the goodbye is still being spoken"
    down, _ = run_test(policy, [(BotStoppedSpeaking(12.0), UP)])
    assert of(down, Hangup) == [Hangup("not_interested", "too_expensive",
                                       "close_not_interested", False)]


def test_the_last_words_are_final_whatever_is_heard_over_them(
        policy: PolicyProcessor) -> None:
    """Found with street noise on a dry-run line: after an opt-out the noise cut the
    goodbye short and was read twice as a misunderstood reply; the robot handed over,
    found no agent and promised a callback to someone who had just opted out."""
    # The key cuts the greeting; its stop comes before the goodbye starts: no hang-up yet.
    first, _ = run_test(policy, [StartFrame(0.0), (BotStartedSpeaking(0.2), UP),
                                 Dtmf("9", 1.5), (BotStoppedSpeaking(1.52, interrupted=True), UP)])
    assert not of(first, Hangup)
    down, _ = run_test(policy, [(BotStartedSpeaking(1.8), UP),  # the goodbye begins
                                Interruption(2.5),  # barge-in on the goodbye (noise)
                                ParseResult("", "nlu_fallback", 0.0, 0.1, last_voiced_at=3.0),
                                ParseResult("", "nlu_fallback", 0.0, 0.1, last_voiced_at=4.0),
                                (BotStoppedSpeaking(2.6, interrupted=True), UP),
                                ParseResult("잠깐만요", "nlu_fallback", 0.0, 0.3,
                                            last_voiced_at=5.0)])
    assert [s.node for s in of(first + down, Speak)] == ["greeting", "opt_out_close"]
    assert not of(down, Escalated)
    assert of(down, Hangup) == [Hangup("opt_out", "opt_out on a key press: 'DTMF 9'",
                                       "opt_out_close", False)]
    # What was heard over the goodbye is kept in the transcript, where it was said.
    assert [p.node for p in of(down, ParseResult)] == ["opt_out_close"] * 3


# -- speech out --------------------------------------------------------------------------
def test_tts_renders_sentence_by_sentence() -> None:
    rendered: list[str] = []

    def render(text: str) -> bytes:
        rendered.append(text)
        return b"\x01\x00" * 160

    down, _ = run_test(TtsProcessor(render), [Speak("죄송합니다. 다시 말씀해 주세요?", "n",
                                                     reply_to_voiced_at=4.0)])
    audio = of(down, SpeechAudio)
    assert rendered == ["죄송합니다.", "다시 말씀해 주세요?"]
    assert [a.reply_to_voiced_at for a in audio] == [4.0, None]
    assert isinstance(down[0], Speak), "the Speak goes on first, for the turn record"


@dataclass
class FakeSink:
    queued: list[bytes] = field(default_factory=list)
    first_tx_at: float | None = None
    last_tx_at: float | None = None
    cleared: int = 0

    def play(self, pcm: bytes) -> None:
        self.queued.append(pcm)

    def clear(self) -> int:
        n, self.queued = len(self.queued), []
        self.cleared += n
        return n

    @property
    def playing(self) -> bool:
        return bool(self.queued)

    def reset_tx_marks(self) -> None:
        self.first_tx_at = self.last_tx_at = None

    def send(self, at: float) -> None:  # the media clock takes a frame
        self.queued.pop(0)
        self.first_tx_at = self.first_tx_at or at
        self.last_tx_at = at


def test_audio_out_reports_when_speech_really_starts_and_ends() -> None:
    sink = FakeSink()
    out = AudioOutput(sink, drain_ms=60)
    _, up = run_test(out, [SpeechAudio(b"x", "안녕하세요"), SpeechAudio(b"y", "반갑습니다"),
                           Tick(10.0)])
    assert up == [] and sink.queued == [b"x", b"y"]
    sink.send(10.02)
    _, up = run_test(out, [Tick(10.03)])
    assert up == [BotStartedSpeaking(10.02, "안녕하세요")]
    sink.send(10.04)
    _, up = run_test(out, [Tick(10.06), Tick(10.11)])
    assert up == [BotStoppedSpeaking(10.04)]


def test_interruption_empties_the_port_at_once() -> None:
    sink = FakeSink()
    out = AudioOutput(sink)
    run_test(out, [SpeechAudio(b"x", "긴 안내"), SpeechAudio(b"y", "둘째 문장")])
    sink.send(1.0)
    down, up = run_test(out, [Tick(1.05), Interruption(1.5, 420.0)])
    assert sink.queued == [] and sink.cleared == 1, "queued speech dropped"
    assert up == [BotStartedSpeaking(1.0, "긴 안내"), BotStoppedSpeaking(1.5, interrupted=True)]
    assert of(down, Interruption), "the interruption itself goes on"


def test_turns_carry_latency_tts_time_and_interruptions() -> None:
    down, _ = run_test(TurnRecorder(), [
        StartFrame(0.0),
        ParseResult("네 좋아요", "affirm", 0.9, 0.8, (), 4.0, 5.0, 30.0, 2.0, "greeting",
                    endpoint_at=5.3),
        Speak("설명드릴게요.", "pitch", reply_to_voiced_at=5.0),
        SpeechAudio(b"\x00" * 32000, "설명드릴게요.", "pitch", 12.5, 5.0),
        (BotStartedSpeaking(5.31), UP), Interruption(6.0)])
    customer, bot = [f.turn for f in of(down, TurnSaid)]
    assert (customer.speaker, customer.node, customer.intent) == ("customer", "greeting", "affirm")
    assert customer.offset_ms == 4000.0 and customer.duration_ms == 1000.0
    assert customer.latency_ms == pytest.approx(310.0) and customer.asr_ms == 30.0
    assert customer.processing_ms == pytest.approx(10.0)
    assert (bot.speaker, bot.node, bot.tts_ms, bot.duration_ms) == ("bot", "pitch", 12.5, 1000.0)
    assert bot.interrupted and [f.turn for f in of(down, TurnUpdated)] == [customer, bot]
    # Each turn goes down once when said, and once more per change, in that order.
    kinds = [(type(f).__name__, f.turn.speaker) for f in down
             if isinstance(f, TurnSaid | TurnUpdated)]
    assert kinds == [("TurnSaid", "customer"), ("TurnUpdated", "customer"),
                     ("TurnSaid", "bot"), ("TurnUpdated", "bot")]


def test_end_frame_drops_a_half_heard_utterance(engines: dict[str, Any]) -> None:
    asr = AsrProcessor(engines["asr"])
    run_test(asr, [UserStartedSpeaking(1.0), InputAudio(b"\x00" * FRAME_BYTES, 1.0)])
    assert asr.stream is not None
    down, _ = run_test(asr, [EndFrame(2.0, "customer hung up")])
    assert asr.stream is None and not of(down, FinalTranscript)
    assert DOWN.value == "down"


def test_key_press_stops_the_robot_and_acts_at_once(policy: PolicyProcessor) -> None:
    down, _ = run_test(policy, [StartFrame(0.0), Dtmf("9", 1.5), Dtmf("5", 1.6)])
    assert of(down, Interruption) == [Interruption(1.5)], "the greeting stops"
    parse = of(down, ParseResult)
    assert [(p.text, p.intent, p.confidence, p.node) for p in parse] == [
        ("DTMF 9", "opt_out", 1.0, "greeting")]
    assert [s.node for s in of(down, Speak)] == ["greeting", "opt_out_close"]
    # "5" means nothing at that node: ignored, as a phone menu would.
    assert len(of(down, Speak)) == 2


def test_slots_are_kept_from_entities_and_fill_prompts(tmp_path: Any) -> None:
    from dialer.conversation.script_loader import load_script

    (tmp_path / "script.yml").write_text(
        "slots: [day, time]\nglobal_intents: {call_later: later}\nnodes:\n"
        "  a:\n    say: '{name}님 안녕하세요'\n    expect: {affirm: later}\n"
        "  later:\n    say: '네 {day} {time}에 다시 전화드리겠습니다'\n    end: callback\n"
        "  handoff:\n    say: wait\n    end: handoff\n", encoding="utf-8")
    script = load_script(tmp_path)
    script.check_fields(["phone", "name"], "list.csv")  # slots need no CSV column
    p = PolicyProcessor(DialoguePolicy(script, {"name": "김민수"}), lambda i: [], 6.0)
    entities = ({"entity": "day", "value": "내일"}, {"entity": "time", "value": "세 시"},
                {"entity": "phone", "value": "010-1234-5678"})
    down, _ = run_test(p, [StartFrame(0.0), (BotStoppedSpeaking(2.0), UP),
                           ParseResult("내일 세 시에 전화 주세요", "call_later", 0.9, 0.9,
                                       entities, last_voiced_at=3.0)])
    assert p.policy.slots == {"day": "내일", "time": "세 시"}, "only declared slots"
    assert [s.text for s in of(down, Speak)][-1] == "네 내일 세 시에 다시 전화드리겠습니다"


def test_a_sentence_that_comes_after_the_one_before_played_out_is_an_underrun() -> None:
    sink = FakeSink()
    out = AudioOutput(sink)
    run_test(out, [SpeechAudio(b"x", "첫 문장"), SpeechAudio(b"y", "둘째", continues=True)])
    sink.send(1.0)
    assert out.underruns == 0, "the second was queued in time"
    sink.send(1.02)
    run_test(out, [SpeechAudio(b"z", "셋째", continues=True)])  # rendered too slowly
    assert out.underruns == 1
    sink.send(1.2)
    run_test(out, [Tick(1.5), SpeechAudio(b"n", "새 답변")])  # a new reply: no gap to hear
    assert out.underruns == 1


def test_tts_marks_the_later_sentences_of_a_reply() -> None:
    down, _ = run_test(TtsProcessor(lambda text: text.encode()),
                       [Speak("죄송합니다. 다시 말씀해 주세요.", "greeting")])
    audio = of(down, SpeechAudio)
    assert [a.continues for a in audio] == [False, True]
