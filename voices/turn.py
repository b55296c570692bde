"""Turn completion: has the caller finished speaking, or only paused mid-thought?

Wraps Pipecat's Smart Turn v3.2 (a Whisper-encoder classifier exported to ONNX) which
ships inside the `pipecat-ai` wheel. pipecat itself is installed with --no-deps and must
never be imported here (its dependencies are absent): we only find its data file.

The model looks at the last 8 s of the turn as 80 Whisper log-mel bins x 800 frames of
10 ms. Audio shorter than that is padded with silence at the *start*, so that the end of
the speech always sits at the end of the window, where the model looks for the cue.
The feature extraction below is our own NumPy code for Whisper's recipe: zero-mean
unit-variance waveform, periodic Hann window of 400 samples, hop 160, centred frames
(reflect padding), power spectrum, 80 Slaney-normalised triangular filters on the Slaney
mel scale from 0 to 8 kHz, log10 (floor 1e-10), dynamic range limited to 8 decades
below the window's peak, then (x + 4) / 4.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from voices.silero import SileroMissing, package_file
from voices.silero import session as onnx_session

MODEL_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
N_FRAMES = 800
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
_MEL_FLOOR = 1e-10
_NORM_EPS = 1e-7


class TurnModelMissing(RuntimeError):
    """The Smart Turn model file is not installed."""


def smart_turn_path() -> Path:
    """The ONNX file bundled in the pipecat-ai package, found without importing it."""
    hint = ("Smart Turn v3.2 needs the pipecat-ai package, which carries the model: "
            "`make venv` installs pipecat-ai --no-deps")
    try:
        return package_file("audio", "turn", "smart_turn", "data", MODEL_FILE)
    except SileroMissing:
        raise TurnModelMissing(f"{MODEL_FILE} not found: pipecat-ai is not installed or "
                               f"lacks it. {hint}") from None


# --- features ---------------------------------------------------------------------------

def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear (3 mels per 200 Hz) below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    step = np.log(6.4) / 27.0  # log-frequency ratio per mel above 1 kHz
    linear = hz * 3.0 / 200.0
    return np.where(hz < 1000.0, linear, 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / step)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    step = np.log(6.4) / 27.0
    return np.where(mel < 15.0, mel * 200.0 / 3.0, 1000.0 * np.exp(step * (mel - 15.0)))


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """(80, 201) weights from the power spectrum's bins to mel bands; built once."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(8000.0)),
                                   N_MELS + 2))
    bins_hz = np.arange(N_FFT // 2 + 1) * (MODEL_RATE / N_FFT)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins_hz[None, :] - lo) / (mid - lo)
    falling = (hi - bins_hz[None, :]) / (hi - mid)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    weights *= 2.0 / (hi - lo)  # Slaney normalisation: every triangle has the same area
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    """Periodic Hann window (as torch.hann_window), the STFT's analysis window."""
    n = np.arange(N_FFT)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)


def window_samples(pcm: bytes, sample_rate: int = MODEL_RATE) -> np.ndarray:
    """The model's input audio: the last 8 s at 16 kHz as float32 in [-1, 1), padded with
    zeros at the start when shorter. Raises ValueError on malformed input."""
    if sample_rate not in (MODEL_RATE, MODEL_RATE // 2):
        raise ValueError(f"sample rate {sample_rate} Hz: expected 16000 or 8000")
    if len(pcm) % 2:
        raise ValueError(f"{len(pcm)} bytes is not whole 16-bit samples")
    if not pcm:
        raise ValueError("no audio")
    keep = int(TurnModel.WINDOW_S * sample_rate)
    x = np.frombuffer(pcm, dtype="<i2")[-keep:].astype(np.float32) / 32768.0
    if sample_rate != MODEL_RATE:
        x = _upsample2(x)
    out = np.zeros(int(TurnModel.WINDOW_S * MODEL_RATE), dtype=np.float32)
    x = x[-out.size:]
    out[out.size - x.size:] = x
    return out


def _upsample2(x: np.ndarray) -> np.ndarray:
    """8 -> 16 kHz, band-limited: zero-extend the spectrum. Short mirrored margins keep the
    FFT's wrap-around from joining the two ends of the signal (and ringing there)."""
    margin = min(256, x.size - 1)
    padded = np.pad(x, (margin, margin + (x.size + 2 * margin) % 2), mode="reflect")
    n = padded.size
    spectrum = np.fft.rfft(padded)
    spectrum[-1] *= 0.5  # the old Nyquist bin is a real pair split between +/- frequency
    wide = np.zeros(n + 1, dtype=spectrum.dtype)
    wide[: spectrum.size] = spectrum
    y = np.fft.irfft(wide, 2 * n) * 2.0
    return y[2 * margin: 2 * (margin + x.size)].astype(np.float32)


def log_mel_features(window: np.ndarray) -> np.ndarray:
    """(80, 800) float32 Whisper log-mel features of an 8 s, 16 kHz window."""
    expected = int(TurnModel.WINDOW_S * MODEL_RATE)
    if window.shape != (expected,):
        raise ValueError(f"expected {expected} samples, got shape {window.shape}")
    x = window.astype(np.float32)
    x = (x - x.mean()) / np.sqrt(x.var() + _NORM_EPS)
    half = N_FFT // 2
    padded = np.pad(x.astype(np.float64), (half, half), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:N_FRAMES]
    spectrum = np.fft.rfft(frames * _hann(), axis=-1)
    power = spectrum.real ** 2 + spectrum.imag ** 2  # (800, 201)
    mel = np.log10(np.maximum(mel_filterbank() @ power.T, _MEL_FLOOR))  # (80, 800)
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


# --- the model --------------------------------------------------------------------------

def _session(path: Path, threads: int) -> Any:
    """The process's onnxruntime session for the model (shared with Silero's cache)."""
    return onnx_session(path, threads)


class TurnModel:
    """Probability that a caller's turn is complete, from the audio of the turn so far."""

    WINDOW_S = 8.0

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        self.path = Path(path) if path is not None else smart_turn_path()
        if not self.path.is_file():
            raise TurnModelMissing(f"{self.path}: no such model file; `make venv` installs "
                                   "pipecat-ai --no-deps, which carries Smart Turn v3.2")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self.last_ms = 0.0

    def complete_probability(self, pcm: bytes, sample_rate: int = MODEL_RATE) -> float:
        """0..1: how likely the caller has finished (the model's output is already a
        sigmoid probability). 16-bit mono PCM at 16 or 8 kHz; only the last 8 s count."""
        start = time.perf_counter()
        window = window_samples(pcm, sample_rate)  # checks the input before loading a model
        loading = time.perf_counter()
        session = _session(self.path, self.threads)  # built on a process's first call
        start += time.perf_counter() - loading  # which last_ms leaves out
        features = log_mel_features(window)
        (out,) = session.run(["logits"], {"input_features": features[None]})
        self.last_ms = (time.perf_counter() - start) * 1000.0
        return float(np.clip(np.asarray(out).reshape(-1)[0], 0.0, 1.0))
