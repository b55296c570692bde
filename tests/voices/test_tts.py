"""pyttsx3/espeak-ng rendering: real speech, the cache, and the fallback for a driver
that never sends its finished-utterance notification."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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


def _timbre(pcm: bytes) -> Any:
    """Average magnitude spectrum, unit length: two renders by one espeak-ng voice match
    to > 0.99 (espeak-ng is not bit-exact from one render to the next), two voices less."""
    import numpy as np

    a = np.frombuffer(pcm, dtype="<i2").astype(float)
    frames = a[: len(a) // 512 * 512].reshape(-1, 512) * np.hanning(512)
    m = np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0)
    return m / np.linalg.norm(m)


def test_a_campaign_voice_shares_the_engine_and_never_leaks_into_the_default() -> None:
    import pytest

    from voices.tts import TtsError

    text = "hello there, how are you"
    base = Pyttsx3Tts("ko", rate=175)
    korean = _timbre(base.synthesize(text, 16000))
    english = base.with_voice("gmw/en-us")
    assert base.with_voice("gmw/en-us") is english and base.with_voice(None) is base
    assert base.with_voice("ko") is base and english.voice_key != base.voice_key
    spoken = _timbre(english.synthesize(text, 16000))
    assert korean @ spoken < 0.985, "the campaign's voice is another voice"
    # Switching back: the default voice sounds as before the campaign's voice, and so on.
    assert korean @ _timbre(base.synthesize(text, 16000)) > 0.985
    assert spoken @ _timbre(english.synthesize(text, 16000)) > 0.985
    with pytest.raises(TtsError, match="not installed"):
        base.with_voice("klingon").synthesize("hello", 16000)
