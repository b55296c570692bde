"""Answering-machine detection, frame by frame: the beep detector on real tones and real
speech, and the human / machine / unknown verdicts with the policy's response."""

from __future__ import annotations

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
from dialer.conversation.pipeline import UP, run_test
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


def verdicts(feed: list[Frame]) -> list[Any]:
    down, _ = run_test(AmdProcessor(AmdConfig(), CLOCK_RATE), [StartFrame(0.0), *feed])
    return [f for f in down if isinstance(f, AmdResult | MachineReady)]


def test_short_hello_then_quiet_is_a_person() -> None:
    out = verdicts([*talk(0.5, 0.7), *quiet(1.5, 1.0)])
    # The hello ends at 1.2 s; the VAD closes it 0.3 s later; 0.8 s of quiet decides.
    assert [f.kind for f in out] == ["human"] and out[0].at == pytest.approx(2.3, abs=0.11)


def test_long_greeting_is_a_machine_at_its_end_and_it_records_after_the_beep() -> None:
    beep = [InputAudio(f, 6.5 + i * 0.02) for i, f in
            enumerate(frames(tone(1000, 500, CLOCK_RATE) + silence(500, CLOCK_RATE)))]
    out = verdicts([*talk(0.5, 1.5), *quiet(2.3, 0.4), *talk(2.8, 3.0), *quiet(6.1, 0.3),
                    *beep])
    assert isinstance(out[0], AmdResult) and out[0].kind == "machine"
    # 4.5 s of speech with only a sentence's pause: decided once the utterance that ran
    # past 4.0 s has ended (its words, read then, could still make it a screener).
    assert "4.5s of speech without a pause" in out[0].reason
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
    down, _ = run_test(AmdProcessor(AmdConfig(), CLOCK_RATE),
                       [StartFrame(0.0), *talk(0.5, 4.5), *said, *quiet(5.4, 3.0)])
    out = [f for f in down if isinstance(f, AmdResult | MachineReady)]
    assert out == [AmdResult("screener", "it said '통화 비서'", 5.3)], "no MachineReady"
    assert verdicts([*talk(0.5, 4.5), *quiet(5.4, 3.0)])[0].kind == "machine"


def test_a_plain_hello_is_a_person_at_the_end_of_its_utterance() -> None:
    hello = (AmdHint("human", "it said '여보세요'", 1.4), UP)
    down, _ = run_test(AmdProcessor(AmdConfig(), CLOCK_RATE),
                       [StartFrame(0.0), *talk(0.5, 0.6), hello, *quiet(1.5, 1.0)])
    out = [f for f in down if isinstance(f, AmdResult)]
    assert out == [AmdResult("human", "it said '여보세요', then quiet", 1.4)]
    # Not after long speech (the reading of 2 s of speech as a hello is a mistake): the
    # usual quiet decides.
    down, _ = run_test(AmdProcessor(AmdConfig(), CLOCK_RATE),
                       [StartFrame(0.0), *talk(0.5, 2.0), (hello[0], UP), *quiet(2.9, 1.0)])
    out = [f for f in down if isinstance(f, AmdResult)]
    assert [f.kind for f in out] == ["human"] and out[0].at == pytest.approx(3.6, abs=0.11)
    # Held for hello_silence_s, a hello followed by a recorded greeting is no person.
    held = AmdProcessor(AmdConfig(human_silence_s=1.5, hello_silence_s=1.5), CLOCK_RATE)
    down, _ = run_test(held, [StartFrame(0.0), *talk(0.5, 0.6), hello, *quiet(1.5, 0.9),
                              *talk(2.5, 4.5), *quiet(7.4, 1.0)])
    assert [f.kind for f in down if isinstance(f, AmdResult)] == ["machine"]


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


def said(text: str, conf: float = 0.95, *others: tuple[str, float, bool]
         ) -> FinalTranscript:
    """What the recogniser read an utterance as: its first (grammar) reading and others
    (text, confidence, from the grammar)."""
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


def test_a_word_counts_when_readings_from_two_starts_agree() -> None:
    # "네 김민수입니다", forced into the grammar's words from one start only: a person.
    forced = said("네 삐 소리가 들려 요", 1.0, ("네 입니다", 0.9, True),
                  ("내 뒷목 이 들이다", 0.6, False))
    assert not hints(forced)
    # Read so from two starts (the first reading and a re-read, or two re-reads of a
    # weak first reading): said.
    assert hints(said("전화를 받을 수 없습니다", 0.9, ("받을 수 없습니다 네", 0.8, True),
                      ("전화를 받을 수 없습니다 요", 0.8, True))) == [
        AmdHint("machine", "it said '전화를 받을 수 없습니다'", 2.0)]
    assert hints(said("여보세요", 0.4, ("메시지를 남겨", 0.8, True),
                      ("메시지를 남겨 요", 0.7, True))) == [
        AmdHint("machine", "it said '메시지를 남겨'", 2.0)]


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
    amd = AmdProcessor(AmdConfig(), CLOCK_RATE)
    down, up = run_test(amd, [StartFrame(0.0), *talk(0.3, 1.2),
                              (AmdHint("machine", "it said '메시지를 남겨'", 1.8), UP)])
    verdicts = [f for f in down if isinstance(f, AmdResult)]
    assert verdicts == [AmdResult("machine", "it said '메시지를 남겨'", 1.8)]

    # While the verdict is pending the recogniser listens for these words, a screener's
    # and a person's.
    script = load_script(amd_script)
    p = PolicyProcessor(DialoguePolicy(script, {}), lambda i: [], 6.0, detect_machines=True)
    _, up = run_test(p, [StartFrame(0.0)])
    assert isinstance(up[0], Listen)
    assert {"메시지를 남겨", "통화 비서", "여보세요", "누구 세요"} <= set(up[0].phrases)
