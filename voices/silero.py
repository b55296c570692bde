"""Silero VAD (v5, ONNX) for telling a caller's speech from the line's noise.

WebRTC VAD decides from a frame's spectrum shape and energy, so a street or a room of
talkers behind the caller reads as speech much of the time. Silero is a small neural
model trained on speech against many noises; on phone audio it separates them far
better. The model file comes with the `pipecat-ai` wheel (installed without its
dependencies by `make venv`); onnxruntime runs it, ~0.1 ms of CPU per 32 ms of audio.

The model reads consecutive windows of 512 samples at 16 kHz (256 at 8 kHz), each with
the last 64 (32) samples of the window before it in front, and carries a recurrent state
from window to window. It returns the probability that the window holds speech.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

_MODEL_PARTS = ("audio", "vad", "data", "silero_vad.onnx")
_sessions: dict[tuple[int, str, int], Any] = {}
_lock = threading.Lock()


class SileroMissing(RuntimeError):
    pass


def package_file(*parts: str) -> Path:
    """A file inside the installed `pipecat` package, found without importing it (it was
    installed without its dependencies, for its model files only)."""
    spec = importlib.util.find_spec("pipecat")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for root in locations:
        path = Path(root, *parts)
        if path.is_file():
            return path
    raise SileroMissing(
        f"{'/'.join(parts)} is not installed: it comes with the pipecat-ai wheel, which "
        "`make venv` installs (pip install --no-deps 'pipecat-ai==1.14.0')")


def session(path: Path, threads: int = 1) -> Any:
    """One onnxruntime session per process, model file and thread count, shared by the
    calls of that process (its `run` is thread-safe); made after a fork, never inherited
    through one (the parent's entries stay unused in the child). Smart Turn
    (voices/turn.py) uses it too."""
    key = (os.getpid(), str(path), threads)
    with _lock:
        if key not in _sessions:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = threads
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            options.log_severity_level = 3
            _sessions[key] = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"])
        return _sessions[key]


class SileroVad:
    """Speech probability of a stream of 16-bit PCM, window by window."""

    def __init__(self, sample_rate: int, path: Path | None = None) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"Silero VAD runs at 8000 or 16000 Hz, not {sample_rate}")
        self.sample_rate = sample_rate
        self.window = 512 if sample_rate == 16000 else 256
        self.context = 64 if sample_rate == 16000 else 32
        self._session = session(path or package_file(*_MODEL_PARTS))
        self._rate = np.array(sample_rate, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._before = np.zeros(self.context, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self.probability = 0.0

    def window_probability(self, samples: np.ndarray) -> float:
        """One window (`self.window` samples in [-1, 1]) after the previous one."""
        x = np.concatenate([self._before, samples]).astype(np.float32)[None, :]
        out, self._state = self._session.run(
            None, {"input": x, "state": self._state, "sr": self._rate})
        self._before = samples[-self.context:].astype(np.float32)
        return float(out[0, 0])

    def push(self, pcm: bytes, floor: float = 0.0) -> float:
        """Adds audio; returns the probability of the latest whole window (the last one
        while a window is still filling). A window whose RMS (in [0, 1]) is below `floor`
        is silence without asking the model, which saves its CPU on a quiet line."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, samples])
        while self._pending.size >= self.window:
            chunk, self._pending = self._pending[:self.window], self._pending[self.window:]
            if floor > 0 and float(np.dot(chunk, chunk)) < floor * floor * chunk.size:
                self._before = chunk[-self.context:]
                self.probability = 0.0
            else:
                self.probability = self.window_probability(chunk)
        return self.probability
