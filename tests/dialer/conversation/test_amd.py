"""Answering-machine detection, frame by frame: the beep detector on real tones and real
speech, and the human / machine / unknown verdicts with the policy's response."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dialer.conversation.amd import AmdConfig, AmdProcessor, BeepDetector
from dialer.conversation.frames import (
    AmdResult,
    BotStoppedSpeaking,
    Frame,
    Hangup,
    InputAudio,
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
from dialer.conversation.script import ScriptError
from dialer.conversation.script_loader import load_script
from dialer.telephony.media import CLOCK_RATE, FRAME_BYTES
from tests.support.procs import DEMO
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


def test_long_greeting_is_a_machine_and_it_records_after_the_beep() -> None:
    beep = [InputAudio(f, 6.0 + i * 0.02) for i, f in
            enumerate(frames(tone(1000, 500, CLOCK_RATE) + silence(500, CLOCK_RATE)))]
    out = verdicts([*talk(0.5, 1.5), *quiet(2.3, 0.4), *talk(2.8, 2.5), *beep])
    assert isinstance(out[0], AmdResult) and out[0].kind == "machine"
    assert "longer than 2.0s" in out[0].reason and out[0].at == pytest.approx(3.3, abs=0.05)
    assert isinstance(out[1], MachineReady) and out[1].beep
    assert out[1].at == pytest.approx(6.5 + 0.3, abs=0.03), "a breath after the beep"


def test_machine_without_beep_records_after_its_greeting_goes_quiet() -> None:
    out = verdicts([*talk(0.5, 3.0), *quiet(3.8, 2.0)])
    assert [type(f).__name__ for f in out] == ["AmdResult", "MachineReady"]
    # Greeting ends at 3.5 s, the VAD closes it at 3.8 s, then 1.5 s of quiet.
    assert not out[1].beep and out[1].at == pytest.approx(3.8 + 1.5, abs=0.11)


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
    assert am is not None and am.machine_words("ko") == ("부재중입니다",)


def test_a_machines_words_decide_before_its_greeting_is_long(amd_script: Path) -> None:
    from dialer.conversation.amd import AmdKeywords
    from dialer.conversation.frames import AmdHint, FinalTranscript, Listen
    from voices.asr import AsrResult

    script = load_script(amd_script)
    words = script.answering_machine.machine_words("ko")  # type: ignore[union-attr]
    assert "메시지를 남겨" in words

    def said(text: str, conf: float = 0.95) -> FinalTranscript:
        return FinalTranscript((AsrResult(text, conf),), 0.5, 1.7, 10.0, 2.0)

    # A person's hello passes; a machine's words go up as a hint, once.
    kw = AmdKeywords(words)
    down, up = run_test(kw, [said("여보세요"), said("메시지를 남겨 주세요"), said("삐 소리가 나면")])
    assert up == [AmdHint("machine", "it said '메시지를 남겨'", 2.0)] and len(down) == 3
    # Spacing is the recogniser's: "메시지를남겨" counts; a weak reading does not.
    assert run_test(AmdKeywords(words), [said("메시지를남겨 주세요")])[1]
    assert not run_test(AmdKeywords(words), [said("메시지를 남겨 주세요", conf=0.3)])[1]
    # A weak first reading, but a grammar reading from a later start holds the words
    # (the open-vocabulary alternative does not count).
    weak = FinalTranscript((AsrResult("여보세요", 0.4, grammar=True),
                            AsrResult("메시지를 남겨 주세요", 0.9, grammar=False),
                            AsrResult("메시지를 남겨", 0.8, grammar=True)), 0.5, 1.7, 10.0, 2.0)
    assert run_test(AmdKeywords(words), [weak])[1] == [
        AmdHint("machine", "it said '메시지를 남겨'", 2.0)]
    open_only = FinalTranscript((AsrResult("여보세요", 0.4, grammar=True),
                                 AsrResult("메시지를 남겨 주세요", 0.9, grammar=False)),
                                0.5, 1.7, 10.0, 2.0)
    assert not run_test(AmdKeywords(words), [open_only])[1]
    # After the verdict nothing more is looked for.
    assert not run_test(AmdKeywords(words), [AmdResult("human", "hello", 1.0),
                                             said("메시지를 남겨 주세요")])[1]

    # The detector takes the hint: machine at once, though the greeting was short.
    amd = AmdProcessor(AmdConfig(), CLOCK_RATE)
    down, up = run_test(amd, [StartFrame(0.0), *talk(0.3, 1.2),
                              (AmdHint("machine", "it said '메시지를 남겨'", 1.8), UP)])
    verdicts = [f for f in down if isinstance(f, AmdResult)]
    assert verdicts == [AmdResult("machine", "it said '메시지를 남겨'", 1.8)]

    # While the verdict is pending the recogniser listens for these words and a hello.
    p = PolicyProcessor(DialoguePolicy(script, {}), lambda i: [], 6.0, detect_machines=True)
    _, up = run_test(p, [StartFrame(0.0)])
    assert isinstance(up[0], Listen) and "메시지를 남겨" in up[0].phrases
    assert "여보세요" in up[0].phrases
