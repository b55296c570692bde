"""Answering-machine detection, frame by frame: the beep detector on real tones and real
speech, the words' hints, and the verdicts with the policy's response."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from dialer.conversation.amd import AmdConfig, AmdKeywords, AmdProcessor, BeepDetector
from dialer.conversation.frames import (
    AmdHint,
    AmdResult,
    BotStoppedSpeaking,
    FinalTranscript,
    Frame,
    Hangup,
    InputAudio,
    Listen,
    MachineReady,
    Speak,
    StartFrame,
    Tick,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from dialer.conversation.pipeline import UP, Direction, run_test
from dialer.conversation.policy import DialoguePolicy
from dialer.conversation.processors import PolicyProcessor
from dialer.conversation.script import (
    ANSWER_PHRASES,
    HELLO_WORDS,
    MACHINE_KEYWORDS,
    SCREENER_WORDS,
    SPEAK_REQUESTS,
    AnsweringMachine,
    ScriptError,
)
from dialer.conversation.script_loader import load_script
from dialer.telephony.media import CLOCK_RATE, FRAME_BYTES
from tests.support.procs import DEMO
from voices.asr import AsrResult, VoskAsr, load_model, resolve_model_path
from voices.audio import silence, tone
from voices.tts import Pyttsx3Tts

LOUD = b"\x00\x10" * (FRAME_BYTES // 2)  # any loud frame: the VAD's verdict is given


def frames(pcm: bytes) -> list[bytes]:
    pcm += b"\x00" * (-len(pcm) % FRAME_BYTES)
    return [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def test_beep_is_found_in_a_tone_but_not_in_speech() -> None:
    speech = Pyttsx3Tts("ko", rate=175).synthesize("삐 소리가 나면 메시지를 남겨 주세요",
                                                   CLOCK_RATE)
    detector = BeepDetector(CLOCK_RATE)
    events = [detector.push(f) for f in frames(speech)]
    assert "start" not in events, "speech is not a beep"
    events = [detector.push(f) for f in frames(tone(1000, 500, CLOCK_RATE)
                                               + silence(100, CLOCK_RATE))]
    assert events.count("start") == 1 and events.count("end") == 1
    assert events.index("start") == 7, "found after 160 ms of steady tone"
    assert [detector.push(f) for f in frames(tone(1000, 100, CLOCK_RATE))].count("start") == 0


def talk(start: float, seconds: float) -> list[Frame]:
    n = int(seconds / 0.02)
    out: list[Frame] = [UserStartedSpeaking(start)]
    out += [InputAudio(LOUD, start + i * 0.02, voiced=True) for i in range(n)]
    out += [UserStoppedSpeaking(start + seconds + 0.3, start, start + seconds)]
    return out


def quiet(start: float, seconds: float) -> list[Frame]:
    return [Tick(start + i * 0.1) for i in range(int(seconds / 0.1) + 1)]


def verdicts(feed: Sequence[Frame | tuple[Frame, Direction]]) -> list[Any]:
    down, _ = run_test(AmdProcessor(AmdConfig(), CLOCK_RATE), [StartFrame(0.0), *feed])
    return [f for f in down if isinstance(f, AmdResult | MachineReady)]


def test_short_hello_then_quiet_is_a_person() -> None:
    out = verdicts([*talk(0.5, 0.7), *quiet(1.5, 1.0)])
    # The hello ends at 1.2 s; the VAD closes it 0.3 s later; after a short opening
    # 0.5 s of quiet decides (a machine's next sentence or beep comes sooner).
    assert [f.kind for f in out] == ["human"] and out[0].at == pytest.approx(2.0, abs=0.11)
    assert out[0].reason == "0.7s of speech, then quiet"
    # After more than a short opening, 0.8 s of quiet.
    out = verdicts([*talk(0.5, 2.0), *quiet(2.8, 1.0)])
    assert [f.kind for f in out] == ["human"] and out[0].at == pytest.approx(3.6, abs=0.11)


def test_long_greeting_is_a_machine_at_its_end_and_it_records_after_the_beep() -> None:
    beep = [InputAudio(f, 6.5 + i * 0.02) for i, f in
            enumerate(frames(tone(1000, 500, CLOCK_RATE) + silence(500, CLOCK_RATE)))]
    out = verdicts([*talk(0.5, 1.6), *quiet(2.4, 0.3), *talk(2.8, 3.0), *quiet(6.1, 0.3),
                    *beep])
    assert isinstance(out[0], AmdResult) and out[0].kind == "machine"
    # 4.6 s of speech with only a sentence's pause: decided once the utterance that ran
    # past 4.0 s has ended (its words, read then, could still make it a screener).
    assert "4.6s of speech without a pause" in out[0].reason
    assert out[0].at == pytest.approx(2.8 + 3.0 + 0.3 + 0.1, abs=0.05)
    assert isinstance(out[1], MachineReady) and out[1].beep
    assert out[1].at == pytest.approx(7.0 + 0.3, abs=0.03), "a breath after the beep"


def test_a_long_greeting_with_pauses_is_a_person() -> None:
    # "네 여보세요, 김민수입니다, 누구세요?": 3.2 s of speech in three stretches, then
    # the quiet of someone waiting for an answer.
    out = verdicts([*talk(0.5, 1.0), *quiet(1.8, 0.4), *talk(2.3, 1.2), *quiet(3.8, 0.4),
                    *talk(4.3, 1.0), *quiet(5.6, 1.2)])
    assert [f.kind for f in out] == ["human"] and out[0].at == pytest.approx(6.4, abs=0.11)
    assert "3.2s of speech, then quiet" in out[0].reason


def test_screener_words_win_over_a_long_greeting() -> None:
    said = [(AmdHint("screener", "it said '통화 비서'", 5.3), UP)]
    out = verdicts([*talk(0.5, 4.5), *said, *quiet(5.4, 3.0)])
    assert out == [AmdResult("screener", "it said '통화 비서'", 5.3)], "no MachineReady"
    assert verdicts([*talk(0.5, 4.5), *quiet(5.4, 3.0)])[0].kind == "machine"


def test_a_plain_hello_is_a_person_after_a_breath_of_quiet() -> None:
    hello = (AmdHint("human", "it said '여보세요'", 1.4), UP)
    # Its utterance ends at 1.4 s; 0.4 s of quiet more, sooner than other speech's 0.5.
    assert verdicts([*talk(0.5, 0.6), hello, *quiet(1.5, 1.0)]) == [
        AmdResult("human", "it said '여보세요', then quiet", 1.8)]
    # Not after long speech (the reading of 2 s of speech as a hello is a mistake): the
    # usual quiet decides.
    out = verdicts([*talk(0.5, 2.0), (hello[0], UP), *quiet(2.9, 1.0)])
    assert [f.kind for f in out] == ["human"] and out[0].at == pytest.approx(3.6, abs=0.11)
    # A voicemail's "안녕하세요." read as a sure "여보세요": its next sentence starts 0.2 s
    # after the endpoint (a sentence's pause), before hello_silence_s. No person.
    out = verdicts([*talk(0.5, 0.6), hello, *quiet(1.5, 0.1), *talk(1.6, 3.6), *quiet(5.5, 1)])
    assert [f.kind for f in out][:1] == ["machine"]


def noise(at: float) -> tuple[Frame, Direction]:
    return AmdHint("noise", "no reading holds a word", at), UP


def test_an_utterance_without_a_word_is_the_line_staying_quiet() -> None:
    # A click as the line opens (WebRTC VAD before it knows the line's level), read as
    # nothing: the caller is still silent, and treated so at 2.5 s.
    out = verdicts([*talk(0.06, 0.04), noise(0.4), *quiet(0.4, 2.5)])
    assert [(f.kind, f.at) for f in out] == [("unknown", pytest.approx(2.5, abs=0.11))]
    # Street noise after a hello: the quiet after the hello goes on through it, and its
    # length is no speech (not 2.5 s of it, the usual 0.8 s of quiet after).
    out = verdicts([*talk(0.5, 0.7), *talk(1.6, 1.8), noise(3.7), *quiet(3.8, 1.0)])
    assert out == [AmdResult("human", "0.7s of speech, then quiet", 3.7)]


def test_a_short_word_a_bad_line_blurred_is_still_speech() -> None:
    # "네" on G.711 in street noise: 0.3 s the recogniser reads nothing in.
    out = verdicts([*talk(0.6, 0.3), noise(1.2), *quiet(1.2, 1.5)])
    assert [f.kind for f in out] == ["human"] and out[0].at == pytest.approx(1.7, abs=0.11)


def at_answer(seconds: float, voiced_from: float = 0.0, room: bool = False) -> list[Frame]:
    """Speech from the first frame (before `voiced_from`, a noise's 3), then a `room`."""
    out: list[Frame] = [UserStartedSpeaking(0.06)]
    out += [InputAudio(LOUD, 0.02 * (i + 1), voiced=0.02 * (i + 1) < 0.07
                       or 0.02 * (i + 1) >= voiced_from) for i in range(int(seconds / 0.02))]
    after = LOUD if room else bytes(FRAME_BYTES)
    out += [InputAudio(after, seconds + 0.02 * i, voiced=False) for i in range(1, 15)]
    return [*out, UserStoppedSpeaking(seconds + 0.3, 0.06, seconds)]


def test_a_greeting_already_playing_as_the_call_is_answered_is_a_machine() -> None:
    # "메시지를 남겨 주세요." from the first frame, its first syllable lost and its
    # words not read: a machine, once that utterance has ended.
    out = verdicts([*at_answer(1.6), *quiet(1.9, 2.0)])
    assert [(f.kind, f.reason) for f in out[:1]] == [
        ("machine", "speaking as the call was answered")]
    assert out[0].at == pytest.approx(2.0, abs=0.11)
    # Read as a plain hello: a person (one who answered at once).
    hello = (AmdHint("human", "it said '여보세요'", 1.0), UP)
    assert [f.kind for f in verdicts([*at_answer(0.7), hello, *quiet(1.0, 1.0)])] == ["human"]
    # Voice in only a few of the first 0.3 s (a noise the VAD took for speech before
    # it knew the line, then the caller's hello): not speaking as the line opened.
    out = verdicts([*at_answer(1.0, voiced_from=0.25), *quiet(1.3, 1.0)])
    assert [f.kind for f in out] == ["human"]
    # A room of voices, from the answer on and after the word: no louder at first.
    out = verdicts([*at_answer(1.0, room=True), *quiet(1.3, 1.0)])
    assert [f.kind for f in out] == ["human"]


def test_machine_without_beep_records_after_its_greeting_goes_quiet() -> None:
    out = verdicts([*talk(0.5, 4.5), *quiet(5.3, 2.0)])
    assert [type(f).__name__ for f in out] == ["AmdResult", "MachineReady"]
    # Greeting ends at 5.0 s, the VAD closes it at 5.3 s, then 1.5 s of quiet.
    assert not out[1].beep and out[1].at == pytest.approx(5.3 + 1.5, abs=0.11)


def test_nobody_speaking_is_unknown_and_treated_as_a_person() -> None:
    out = verdicts(quiet(0.1, 3.0))
    assert [f.kind for f in out] == ["unknown"] and out[0].at == pytest.approx(2.5, abs=0.11)


@pytest.fixture()
def amd_script(tmp_path: Path) -> Path:
    text = (DEMO / "script.yml").read_text(encoding="utf-8") + (
        "answering_machine:\n  on_machine: voicemail\n"
        "  voicemail: '{name} 고객님, 행복통신입니다. 다시 연락드리겠습니다.'\n")
    (tmp_path / "script.yml").write_text(text, encoding="utf-8")
    return tmp_path


def test_policy_waits_for_the_verdict_then_greets_or_leaves_a_message(
        amd_script: Path) -> None:
    script = load_script(amd_script)
    assert script.fields_used()["name"] == ["node 'greeting'", "answering_machine.voicemail"]

    def policy() -> PolicyProcessor:
        return PolicyProcessor(DialoguePolicy(script, {"name": "김민수"}), lambda i: [], 6.0,
                               detect_machines=True)

    down, _ = run_test(policy(), [StartFrame(0.0), Tick(1.0)])
    assert not [f for f in down if isinstance(f, Speak)], "no greeting before the verdict"
    down, _ = run_test(policy(), [StartFrame(0.0), AmdResult("human", "short hello", 1.0)])
    assert [f.node for f in down if isinstance(f, Speak)] == ["greeting"]
    # A call screener is told who is calling and why, as a person is.
    down, _ = run_test(policy(), [StartFrame(0.0), AmdResult("screener", "it said", 5.0)])
    assert [f.node for f in down if isinstance(f, Speak)] == ["greeting"]
    p = policy()
    down, _ = run_test(p, [StartFrame(0.0), AmdResult("machine", "a beep", 3.0),
                           MachineReady(6.5, beep=True)])
    speak = [f for f in down if isinstance(f, Speak)]
    assert len(speak) == 1 and speak[0].text.startswith("김민수 고객님, 행복통신입니다.")
    down, _ = run_test(p, [(BotStoppedSpeaking(9.0), UP)])
    assert [f for f in down if isinstance(f, Hangup)] == [
        Hangup("machine", "answering machine (a beep); message left", "voicemail", False)]


def test_hangup_on_machine_and_bad_settings(amd_script: Path) -> None:
    path = amd_script / "script.yml"
    text = path.read_text(encoding="utf-8").replace("on_machine: voicemail", "on_machine: hangup")
    path.write_text(text, encoding="utf-8")
    p = PolicyProcessor(DialoguePolicy(load_script(amd_script), {}), lambda i: [], 6.0,
                        detect_machines=True)
    down, _ = run_test(p, [StartFrame(0.0), AmdResult("machine", "a beep", 3.0)])
    hangup = [f for f in down if isinstance(f, Hangup)]
    assert hangup and hangup[0].disposition == "machine" and "hung up" in str(hangup[0].reason)
    path.write_text(text.replace("on_machine: hangup", "on_machine: shout"), encoding="utf-8")
    with pytest.raises(ScriptError, match="on_machine 'shout' must be hangup or voicemail"):
        load_script(amd_script)
    path.write_text(text.replace("on_machine: hangup", "on_machine: hangup\n  keywords: 메시지"),
                    encoding="utf-8")
    with pytest.raises(ScriptError, match="keywords must be a list of phrases"):
        load_script(amd_script)
    path.write_text(text.replace("on_machine: hangup",
                                 "on_machine: hangup\n  keywords: [부재중입니다]"),
                    encoding="utf-8")
    am = load_script(amd_script).answering_machine
    # Their own words replace the machine's; a screener's stay, to be told apart.
    assert am is not None and am.machine_words("ko") == (
        "부재중입니다", *SCREENER_WORDS["ko"], *SPEAK_REQUESTS["ko"])


def said(text: str, conf: float = 0.95, *others: tuple[str, float, bool]) -> FinalTranscript:
    """An utterance's first (grammar) reading and others: (text, confidence, grammar)."""
    readings = (AsrResult(text, conf, grammar=True),
                *(AsrResult(t, c, grammar=g) for t, c, g in others))
    return FinalTranscript(readings, 0.5, 1.7, 10.0, 2.0)


def hints(*readings: FinalTranscript) -> list[Frame]:
    return run_test(AmdKeywords(MACHINE_WORDS), list(readings))[1]


MACHINE_WORDS = AnsweringMachine().machine_words("ko")


def test_a_machines_words_decide_before_its_greeting_is_long(amd_script: Path) -> None:
    script = load_script(amd_script)
    assert script.answering_machine is not None
    assert script.answering_machine.machine_words("ko") == MACHINE_WORDS
    assert "메시지를 남겨" in MACHINE_WORDS

    # A machine's words go up as a hint, once.
    down, up = run_test(AmdKeywords(MACHINE_WORDS), [
        said("메시지를 남겨 주세요"), said("삐 소리가 나면")])
    assert up == [AmdHint("machine", "it said '메시지를 남겨'", 2.0)] and len(down) == 2
    # Spacing is the recogniser's: "메시지를남겨" counts; a weak reading does not.
    assert hints(said("메시지를남겨 주세요"))
    assert not hints(said("메시지를 남겨 주세요", 0.3))
    # The open-vocabulary alternative does not count.
    assert not hints(said("여보세요", 0.4, ("메시지를 남겨 주세요", 0.9, False)))
    # After the verdict nothing more is looked for.
    assert not run_test(AmdKeywords(MACHINE_WORDS), [AmdResult("human", "hello", 1.0),
                                                      said("메시지를 남겨 주세요")])[1]


def opening(text: str, conf: float, first_word: float) -> FinalTranscript:
    """One sure, whole grammar reading, its first word's confidence `first_word`."""
    words = [(w, first_word if i == 0 else conf) for i, w in enumerate(text.split())]
    return FinalTranscript((AsrResult(text, conf, tuple(words), grammar=True),),
                           0.5, 1.7, 10.0, 2.0)


def test_a_word_counts_when_readings_agree_or_one_is_sure() -> None:
    # Read so from two starts (the first reading and a re-read, or two re-reads of a
    # weak first reading): said.
    assert hints(said("전화를 받을 수 없습니다", 0.7, ("받을 수 없습니다 네", 0.7, True),
                      ("전화를 받을 수 없습니다 요", 0.7, True))) == [
        AmdHint("machine", "it said '전화를 받을 수 없습니다'", 2.0)]
    # One weak reading from one start only: not. One sure reading (0.8 or more): yes.
    assert not hints(said("여보세요", 0.4, ("메시지를 남겨 요", 0.7, True), ("입니다", 0.7, True)))
    assert hints(said("여보세요", 0.4, ("메시지를 남겨 요", 0.85, True), ("입니다", 0.7, True))
                 ) == [AmdHint("machine", "it said '메시지를 남겨'", 2.0)]
    # A screener's generic words are not: the grammar forces names into them
    # ("박지영이에요" came out "하기 여보세요 통화 비서 이시죠", surely).
    assert not hints(said("여보세요", 0.4, ("하기 여보세요 통화 비서 이시죠", 0.95, True),
                          ("입니다", 0.7, True)))


def test_two_readings_agree_on_a_machine_though_not_on_its_words() -> None:
    # The simulator's "메시지를 남겨 주세요." with its first syllable lost on the line,
    # read from three starts: two hold a machine's words, different ones.
    lost = said("메시지를 남겨 주세요 세요", 0.7, ("메시지를 하기 어디 세요", 0.87, True),
                ("삐 소리 후 하기 어디 세요", 0.78, True))
    assert hints(lost) == [AmdHint("machine", "it said '메시지를 남겨'", 2.0)]


def test_words_after_a_surely_heard_hello_are_a_persons() -> None:
    # "여보세요, 제가 지금 운전 중이라서요, 누구세요?", forced into a machine's phrase;
    # "네 김민수입니다" came out "네 삐 소리가 들려 요", surely.
    assert not hints(opening("여보세요 다시 걸어 주십시오 세요 누구 세요", 0.92, 1.0))
    assert not hints(opening("네 삐 소리가 들려 요", 1.0, 1.0))
    # A hello word heard unsurely does not make it a person's.
    assert hints(opening("네 삐 전화를 받을 수 없습니다", 0.9, 0.5)) == [
        AmdHint("machine", "it said '전화를 받을 수 없습니다'", 2.0)]


def test_an_utterance_no_reading_holds_a_word_of_is_noise() -> None:
    empty = FinalTranscript((AsrResult("", 0.0, grammar=True),), 0.06, 0.08, 1.0, 0.4)
    _, up = run_test(AmdKeywords(MACHINE_WORDS), [empty, said("메시지를 남겨")])
    # Noise goes up, and the words are looked for still.
    assert up == [AmdHint("noise", "no reading holds a word", 0.4),
                  AmdHint("machine", "it said '메시지를 남겨'", 2.0)]
    # An open-vocabulary reading with a word: speech, though not understood.
    assert not hints(said("", 0.0, ("어 음", 0.5, False)))


def test_a_screeners_words_and_a_plain_hello() -> None:
    assert hints(said("통화 비서 입니다 성함 과 용건 을 말씀 해 주세요")) == [
        AmdHint("screener", "it said '통화 비서'", 2.0)]
    # A screener's own words win over a machine's heard with them; a bare request to
    # speak does not ("삐 소리 후에 말씀해 주세요" is a voicemail's).
    assert hints(said("인공지능 비서 입니다 메시지를 남겨")) == [
        AmdHint("screener", "it said '인공지능 비서'", 2.0)]
    assert hints(said("삐 소리 후 에 말씀 해 주세요")) == [
        AmdHint("machine", "it said '삐 소리 후'", 2.0)]
    assert hints(said("누구 신지 말씀 해 주세요")) == [
        AmdHint("screener", "it said '누구 신지'", 2.0)]
    assert hints(said("잠시 만 요 말씀 해 주세요")) == [
        AmdHint("screener", "it said '말씀 해 주세요'", 2.0)]
    # ... unless it is a person's longer phrase: "다시 말씀해 주세요" asks to repeat.
    assert not hints(said("안 들려 요 다시 말씀 해 주세요"))
    # Nothing but a hello, surely read: a person, and the words are looked for still.
    _, up = run_test(AmdKeywords(MACHINE_WORDS), [said("네 여보세요", 1.0),
                                                   said("메시지를 남겨")])
    assert up == [AmdHint("human", "it said '네 여보세요'", 2.0),
                  AmdHint("machine", "it said '메시지를 남겨'", 2.0)]
    assert not hints(said("네 여보세요", 0.8))
    assert not hints(said("안녕하세요 입니다", 1.0)), "a greeting starts so, too"


def test_every_language_has_each_list_and_korean_is_in_the_models_words() -> None:
    lists = [MACHINE_KEYWORDS, SCREENER_WORDS, SPEAK_REQUESTS, ANSWER_PHRASES, HELLO_WORDS]
    for lang in MACHINE_KEYWORDS:
        assert all(lst.get(lang) for lst in lists), lang
        squashed = ["".join(p.split()) for p in ANSWER_PHRASES[lang]]
        assert all("".join(h.split()) in squashed for h in HELLO_WORDS[lang]), lang
        kinds = [{"".join(p.split()) for p in lst[lang]} for lst in lists[:4]]
        assert not set.intersection(*kinds[:3]) and not (kinds[0] | kinds[1]) & kinds[3]
    # A phrase with a word the model lacks would silently drop out of the grammar.
    asr = VoskAsr(load_model(resolve_model_path(None, "ko")))
    missing = [p for lst in lists for p in lst["ko"] if not asr.in_vocabulary(p)]
    assert not missing


def test_the_detector_takes_the_hint_and_the_policy_listens_for_the_words(
        amd_script: Path) -> None:
    # Machine at once, though the greeting was short.
    assert verdicts([*talk(0.3, 1.2), (AmdHint("machine", "it said '메시지를 남겨'", 1.8), UP)]
                    ) == [AmdResult("machine", "it said '메시지를 남겨'", 1.8)]

    # While the verdict is pending the recogniser listens for these words, a screener's
    # and a person's.
    script = load_script(amd_script)
    p = PolicyProcessor(DialoguePolicy(script, {}), lambda i: [], 6.0, detect_machines=True)
    _, up = run_test(p, [StartFrame(0.0)])
    assert isinstance(up[0], Listen)
    assert {"메시지를 남겨", "통화 비서", "여보세요", "누구 세요"} <= set(up[0].phrases)
