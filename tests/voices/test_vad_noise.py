"""The endpointer on noisy lines: Silero tells noise from speech, and the line's own
level keeps other people's talk in the room from holding a turn open."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dialer.sandbox.caller_voice import CallerVoice, render
from dialer.sandbox.noise import generate
from voices.vad import Endpointer, VadConfig

RATE, FRAME_BYTES = 16000, 640


def events(cfg: VadConfig, pcm: np.ndarray) -> list[tuple[str, float]]:
    e = Endpointer(RATE, 20, cfg)
    data = np.clip(pcm, -32768, 32767).astype("<i2").tobytes()
    out = []
    for n, i in enumerate(range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES), 1):
        ev = e.push(data[i:i + FRAME_BYTES])
        if ev:
            out.append((ev, n * 0.02))
    return out


def speech(text: str, voice: str, tmp: Path) -> np.ndarray:
    return np.frombuffer(render(CallerVoice(voice), text, RATE, tmp), "<i2").astype(float)


def level(x: np.ndarray) -> float:
    loud = x[np.abs(x) > 300]
    return float(np.sqrt(np.mean(loud ** 2)))


def heard_s(heard: list[tuple[str, float]], until: float) -> float:
    """Seconds taken for the caller's speech."""
    starts = [t for e, t in heard if e == "start"]
    ends = [t for e, t in heard if e == "end"] + [until]
    return sum(ends[i] - t for i, t in enumerate(starts))


@pytest.mark.parametrize("kind,seed", [("street", 1), ("street", 3), ("white", 1)])
def test_silero_hears_little_caller_in_line_noise_where_webrtc_hears_much(
        kind: str, seed: int) -> None:
    noise = generate(kind, RATE, seed=seed)[:RATE * 6]
    noise *= 1500 / np.sqrt(np.mean(noise ** 2))  # a loud line: -27 dBFS
    heard = {engine: heard_s(events(VadConfig(engine=engine, background_margin_db=0),
                                    noise), 6.0)
             for engine in ("silero", "webrtc")}
    assert heard["silero"] <= 0.6 and heard["webrtc"] >= 3.0, heard


def test_the_room_talking_behind_the_caller_does_not_hold_the_turn_open(tmp_path: Path) -> None:
    caller = speech("네 관심 있어요 자세히 알려 주세요", "ko", tmp_path)
    room = np.sum([np.resize(speech(t, v, tmp_path), RATE * 8) for t, v in (
        ("오늘 날씨가 참 좋네요 산책 가실래요", "ko+f3"),
        ("점심은 뭐 먹을까 김치찌개 어때", "ko+m3"),
        ("어제 본 영화 정말 재미있었어", "ko+f2"))], axis=0)
    room = room * level(caller) / level(room) / 10 ** (10 / 20)  # the room at 10 dB below
    line = room.copy()
    start = 2 * RATE  # 2 s of the room alone, then the caller
    line[start:start + len(caller)] += caller
    said_until = (start + np.flatnonzero(np.abs(caller) > 300)[-1]) / RATE
    for margin, ends in ((6.0, True), (0.0, False)):
        heard = events(VadConfig(engine="silero", background_margin_db=margin), line)
        ended = [t for e, t in heard if e == "end" and said_until <= t <= said_until + 0.8]
        assert bool(ended) == ends, (margin, said_until, heard)


def test_street_noise_and_a_cough_over_the_robot_do_not_interrupt_it(tmp_path: Path) -> None:
    from dialer.conversation.frames import BotStartedSpeaking, InputAudio, Interruption
    from dialer.conversation.pipeline import UP, run_test
    from dialer.conversation.processors import BargeInProcessor, VadProcessor

    noise = generate("street", RATE, seed=1)[:RATE * 10]
    noise *= 1500 / np.sqrt(np.mean(noise ** 2))
    cough = np.random.default_rng(5).normal(0, 9000, RATE // 4) * np.hanning(RATE // 4)
    caller = speech("잠깐만요 제 말 좀 들어 보세요", "ko", tmp_path)
    for talk, interrupts in ((False, False), (True, True)):
        line = noise.copy()
        line[5 * RATE:5 * RATE + len(cough)] += cough
        if talk:
            line[6 * RATE:6 * RATE + len(caller)] += caller
        pcm = np.clip(line, -32768, 32767).astype("<i2").tobytes()
        frames = [InputAudio(pcm[i:i + FRAME_BYTES], i / FRAME_BYTES * 0.02)
                  for i in range(0, len(pcm), FRAME_BYTES)]
        down, _ = run_test([VadProcessor(RATE, 20, VadConfig(engine="silero")),
                            BargeInProcessor(400)],
                           [(BotStartedSpeaking(0.0), UP), *frames])
        cuts = [f.at for f in down if isinstance(f, Interruption)]
        assert bool(cuts) == interrupts and all(at > 6.0 for at in cuts), cuts
