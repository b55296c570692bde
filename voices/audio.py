"""PCM helpers: 16-bit mono little-endian audio as bytes, the currency of the voice loop."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

SAMPLE_WIDTH = 2  # bytes per sample, signed 16-bit


def frame_bytes(sample_rate: int, frame_ms: int = 20) -> int:
    return sample_rate * frame_ms // 1000 * SAMPLE_WIDTH


def tone(freq_hz: float, ms: int, sample_rate: int, amplitude: float = 0.5) -> bytes:
    """A sine tone, e.g. an answering machine's beep."""
    t = np.arange(sample_rate * ms // 1000) / sample_rate
    return (np.sin(2 * np.pi * freq_hz * t) * amplitude * 32767).astype("<i2").tobytes()


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    if src_rate == dst_rate or not pcm:
        return pcm
    g = gcd(src_rate, dst_rate)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    out = resample_poly(samples, dst_rate // g, src_rate // g)
    return np.clip(out, -32768, 32767).astype("<i2").tobytes()


def read_wav(path: Path | str) -> tuple[bytes, int]:
    """Return (mono 16-bit PCM, sample rate); stereo is mixed down."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != SAMPLE_WIDTH:
            raise ValueError(f"{path}: expected 16-bit PCM WAV, got {8 * w.getsampwidth()}-bit")
        data = w.readframes(w.getnframes())
        rate, channels = w.getframerate(), w.getnchannels()
    if channels > 1:
        s = np.frombuffer(data, dtype="<i2").reshape(-1, channels).mean(axis=1)
        data = s.astype("<i2").tobytes()
    return data, rate


def write_wav(path: Path | str, pcm: bytes, sample_rate: int) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(sample_rate)
        w.writeframes(pcm)


def chunks(pcm: bytes, size: int) -> Iterator[bytes]:
    """Fixed-size frames; the last one is padded with silence."""
    for i in range(0, len(pcm), size):
        part = pcm[i : i + size]
        yield part if len(part) == size else part + b"\x00" * (size - len(part))


def rms(frame: bytes) -> float:
    if not frame:
        return 0.0
    s = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(s * s)))


def duration_ms(pcm: bytes, sample_rate: int) -> float:
    return 1000.0 * len(pcm) / (SAMPLE_WIDTH * sample_rate)


def silence(ms: int, sample_rate: int) -> bytes:
    return b"\x00" * (sample_rate * ms // 1000 * SAMPLE_WIDTH)


ONSET_LEVEL = 400  # |sample| that marks speech (-38 dBFS): far above a quiet line's hiss


def from_onset(pcm: bytes, sample_rate: int, margin_ms: int,
               level: int = ONSET_LEVEL) -> bytes:
    """`pcm` (16-bit mono) from `margin_ms` before its first sample louder than `level`;
    all of it when that is nearer its start or nothing is that loud.

    Where an utterance starts for the recogniser is then fixed by the speech, not by
    the 20 ms frame grid it arrived on: one concealed or dropped 10 ms codec frame
    anywhere earlier in a call moves the grid by half a frame, and vosk's reading of
    the same words flips with such a move (its features are taken every 10 ms and its
    decoder looks at every third)."""
    x = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > level)
    if not len(loud):
        return pcm
    start = int(loud[0]) - margin_ms * sample_rate // 1000
    return pcm[start * SAMPLE_WIDTH:] if start > 0 else pcm
