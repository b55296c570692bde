"""Background noise for simulated callers, generated (nothing recorded is shipped).

Kinds: `white` (hiss), `car` (engine rumble and road noise, mostly below 500 Hz),
`street` (traffic: a pink-noise bed that swells as cars pass, now and then a horn) and
`babble` (a room of people: several voices saying different things at once, rendered
with the simulator's own speech synthesizer from the packaged background remarks).
`mix_at_snr` sets a level from the signal-to-noise ratio against the caller's speech.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

KINDS = ("white", "car", "street", "babble")
LOOP_S = 12.0  # a noise bed this long is looped over the call


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """1/f noise by shaping white noise's spectrum."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(f), n)


def _lowpass(x: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    spectrum[freqs > cutoff_hz] *= np.exp(-((freqs[freqs > cutoff_hz] - cutoff_hz) / 200.0))
    return np.fft.irfft(spectrum, len(x))


def _unit(x: np.ndarray) -> np.ndarray:
    level = float(np.sqrt(np.mean(x ** 2)))
    return x / level if level > 0 else x


def generate(kind: str, rate: int, seed: int = 0, speech: list[np.ndarray] | None = None,
             seconds: float = LOOP_S) -> np.ndarray:
    """A noise bed of unit RMS (float64); `speech` are rendered sentences for babble."""
    if kind not in KINDS:
        raise ValueError(f"no noise kind {kind!r}; one of {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    if kind == "white":
        return _unit(rng.standard_normal(n))
    if kind == "car":
        rumble = _lowpass(np.cumsum(rng.standard_normal(n)) * 0.02 + rng.standard_normal(n),
                          rate, 400.0)
        engine = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) / k
                     for k, f in enumerate((55.0, 110.0, 165.0), 1))
        return _unit(_unit(rumble) + 0.3 * engine)
    if kind == "street":
        bed = _unit(_lowpass(_pink(rng, n), rate, 3000.0))
        swell = np.ones(n)
        for _ in range(int(seconds / 3)):  # a car passing every few seconds
            at, width = rng.uniform(0, seconds), rng.uniform(0.8, 2.0)
            swell += 2.5 * np.exp(-(((t - at) / width) ** 2))
        out = bed * swell
        for _ in range(max(1, int(seconds / 10))):  # a horn
            at = int(rng.uniform(0, seconds - 0.5) * rate)
            m = int(0.4 * rate)
            out[at:at + m] += 4 * np.sign(np.sin(2 * np.pi * 420 * t[:m])) * 0.5
        return _unit(out)
    return _babble(rng, n, rate, speech or [])


def _babble(rng: np.random.Generator, n: int, rate: int,
            speech: list[np.ndarray]) -> np.ndarray:
    """Four talkers at once, each going from sentence to sentence with short gaps."""
    if not speech:
        raise ValueError("babble needs rendered speech")
    out = np.zeros(n)
    for _ in range(4):
        pos = int(rng.uniform(0, 1.0) * rate)
        gain = rng.uniform(0.6, 1.0)
        while pos < n:
            s = speech[int(rng.integers(len(speech)))]
            m = min(len(s), n - pos)
            out[pos:pos + m] += gain * s[:m]
            pos += m + int(rng.uniform(0.1, 0.5) * rate)
    return _unit(out)


def mix_at_snr(noise: np.ndarray, speech_rms: float, snr_db: float) -> np.ndarray:
    """The unit-RMS noise scaled so that speech at `speech_rms` is `snr_db` above it."""
    return noise * (speech_rms / (10.0 ** (snr_db / 20.0)))


def active_rms(pcm: bytes, frame_bytes: int, floor: float = 300.0) -> float:
    """RMS of the frames of 16-bit speech louder than `floor` (its active level)."""
    x = np.frombuffer(pcm[: len(pcm) // frame_bytes * frame_bytes], dtype="<i2")
    frames = x.reshape(-1, frame_bytes // 2).astype(np.float64)
    levels = np.sqrt((frames ** 2).mean(axis=1)) if len(frames) else np.zeros(0)
    loud = frames[levels > floor]
    return float(np.sqrt((loud ** 2).mean())) if len(loud) else 0.0


class NoiseBeds:
    """The noise each call of a simulator gets: its persona's, else the line's, scaled
    to its SNR against the personas' speech level; one bed per kind, made once."""

    def __init__(self, speech_rms: float, rate: int,
                 render_babble: Callable[[], list[np.ndarray]]) -> None:
        self.speech_rms, self.rate = speech_rms, rate
        self._render_babble = render_babble
        self._beds: dict[str, np.ndarray] = {}

    def bed(self, kind: str) -> np.ndarray:
        if kind not in self._beds:
            speech = self._render_babble() if kind == "babble" else None
            self._beds[kind] = generate(kind, self.rate, seed=len(self._beds), speech=speech)
        return self._beds[kind]

    def for_call(self, kind: str | None, snr_db: float) -> np.ndarray | None:
        if kind is None:
            return None
        return mix_at_snr(self.bed(kind), self.speech_rms, snr_db)


class NoiseLoop:
    """A noise bed handed out frame by frame, looped, from a given sample on."""

    def __init__(self, bed: np.ndarray, frame_samples: int, start: int = 0) -> None:
        if len(bed) < frame_samples:
            raise ValueError("a noise bed shorter than a frame")
        self.bed, self.size = bed, frame_samples
        self.at = start % len(bed)

    def next_frame(self) -> np.ndarray:
        at, bed, size = self.at, self.bed, self.size
        chunk = bed[at:at + size]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, bed[:size - len(chunk)]])
        self.at = (at + size) % len(bed)
        return chunk

    def under(self, data: bytes | None) -> bytes:
        """The next frame of noise mixed under 16-bit PCM `data` (None: silence)."""
        mixed = self.next_frame()
        if data is not None:
            mixed = mixed + np.frombuffer(data, dtype="<i2")
        return bytes(np.clip(mixed, -32768, 32767).astype("<i2").tobytes())
