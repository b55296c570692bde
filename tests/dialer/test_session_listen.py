"""The listening step of a call with real engines (espeak-ng speech, vosk, the demo NLU)
and a scripted receive queue instead of a network: what arrives after the robot stopped
speaking is heard whole, even when the robot was busy and started listening late."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from dialer.policy import DialoguePolicy
from dialer.runtime import load_kit
from dialer.session import CallSession, SessionConfig, _Bookkeeper
from dialer.sip import CLOCK_RATE, FRAME_BYTES
from tests.support.procs import DEMO
from voices.asr import VoskAsr, load_model, resolve_model_path
from voices.audio import silence
from voices.tts import Pyttsx3Tts


@dataclass
class ScriptedAudio:
    rx: queue.Queue[tuple[float, bytes]] = field(default_factory=queue.Queue)
    last_tx_at: float | None = None


@dataclass
class ScriptedCall:
    audio: ScriptedAudio = field(default_factory=ScriptedAudio)
    disconnected: threading.Event = field(default_factory=threading.Event)


@pytest.fixture(scope="module")
def engines() -> dict[str, Any]:
    kit = load_kit(DEMO)
    asr = VoskAsr(load_model(resolve_model_path(None, "ko")))
    return {"kit": kit, "asr": asr, "tts": Pyttsx3Tts("ko", rate=175)}


def frames(pcm: bytes) -> list[bytes]:
    pcm += b"\x00" * (-len(pcm) % FRAME_BYTES)
    return [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def session(engines: dict[str, Any], turns: list[Any]) -> CallSession:
    kit = engines["kit"]
    s = CallSession(None, None, engines["asr"], kit.nlu, engines["tts"],  # type: ignore[arg-type]
                    kit.script, kit.phrases, SessionConfig(), on_turn=turns.append)
    s._books = _Bookkeeper()
    return s


@pytest.mark.parametrize("robot_busy_s", [0.0, 1.5])
def test_reply_that_arrived_while_the_robot_was_busy_is_heard_whole(
        engines: dict[str, Any], robot_busy_s: float) -> None:
    call = ScriptedCall()
    spoke_until = time.monotonic()
    call.audio.last_tx_at = spoke_until
    # While the robot spoke: line noise that must be dropped (no barge-in yet).
    noise = bytes((i * 37) % 256 for i in range(FRAME_BYTES))
    for i in range(40):
        call.audio.rx.put((spoke_until - 0.8 + i * 0.02, noise))
    # After it stopped: the customer's reply, all of it queued before listening begins
    # when the robot was busy (storing turns, a slow disk) for robot_busy_s.
    reply = (silence(300, CLOCK_RATE) + engines["tts"].synthesize("아니요 됐어요", CLOCK_RATE)
             + silence(1000, CLOCK_RATE))
    for i, f in enumerate(frames(reply)):
        call.audio.rx.put((spoke_until + 0.02 + i * 0.02, f))
    time.sleep(robot_busy_s)

    turns: list[Any] = []
    s = session(engines, turns)
    policy = DialoguePolicy(engines["kit"].script, {})
    heard = s._listen(call, policy, answered_at=spoke_until - 10)  # type: ignore[arg-type]
    s._books.close()

    assert heard is not None, "the reply was dropped"
    understanding, _ = heard
    assert understanding.text == "아니요 됐어요"
    assert understanding.intent == "deny" and understanding.confidence > 0.8
    assert [t.speaker for t in turns] == ["customer"] and turns[0].intent == "deny"
    # The utterance started where the speech is, after the 300 ms of silence.
    assert 10_200 < turns[0].offset_ms < 10_600


def test_silence_after_the_prompt_is_no_input(engines: dict[str, Any]) -> None:
    call = ScriptedCall()
    call.audio.last_tx_at = time.monotonic()
    turns: list[Any] = []
    s = session(engines, turns)
    script = engines["kit"].script
    object.__setattr__(script.settings, "no_input_timeout_s", 0.5)
    try:
        heard = s._listen(call, DialoguePolicy(script, {}), answered_at=0.0)  # type: ignore[arg-type]
    finally:
        object.__setattr__(script.settings, "no_input_timeout_s", 6.0)
    s._books.close()
    assert heard is None and turns == []
