"""pyttsx3/espeak-ng rendering: real speech, the cache, and the fallback for a driver
that never sends its finished-utterance notification."""

from __future__ import annotations

import time
from pathlib import Path

from voices.audio import silence, write_wav
from voices.tts import Pyttsx3Tts, _complete_wav


def test_renders_korean_speech_and_caches_it(tmp_path: Path) -> None:
    tts = Pyttsx3Tts("ko", rate=175, cache_dir=tmp_path)
    pcm = tts.synthesize("네 관심 있어요", 16000)
    assert len(pcm) > 16000 * 2 * 0.4, "at least 0.4 s of audio"
    assert len(list(tmp_path.glob("*.wav"))) == 1
    assert tts.synthesize("네 관심 있어요", 16000) == pcm


def test_a_complete_wav_is_accepted_without_the_notification(tmp_path: Path) -> None:
    tts = Pyttsx3Tts("ko")
    out = tmp_path / "tts.wav"
    write_wav(out, silence(500, 22050), 22050)
    assert _complete_wav(out, out.stat().st_size)
    tts._finished.clear()  # the driver never says it finished
    t = time.monotonic()
    assert tts._wait_written(out, 5.0) and tts._completed
    assert time.monotonic() - t < 1.0


def test_a_half_written_wav_is_not(tmp_path: Path) -> None:
    tts = Pyttsx3Tts("ko")
    out = tmp_path / "tts.wav"
    write_wav(out, silence(500, 22050), 22050)
    data = out.read_bytes()
    # As espeak-ng leaves it while writing: the header's sizes are not filled in yet.
    out.write_bytes(data[:4] + b"\xff\xff\xff\x7f" + data[8:])
    assert not _complete_wav(out, out.stat().st_size)
    tts._finished.clear()
    assert not tts._wait_written(out, 0.6)


def test_a_stuck_driver_falls_back_to_the_espeak_ng_command_line(tmp_path: Path) -> None:
    tts = Pyttsx3Tts("ko", rate=175)
    normal = tts.synthesize("네 좋아요", 16000)
    tts._driver_stuck = True  # as after a render the driver never finished
    fallback = tts.synthesize("네 좋아요", 16000)
    # The same libespeak-ng voice and rate: the same length of speech, near enough.
    assert abs(len(fallback) - len(normal)) < 0.15 * len(normal)
