"""A simulated caller's line: the faults a persona asks for, applied to the simulator's
own audio ports (never the robot's). `echo:` sends back what the caller's phone received,
later and quieter, mixed into what it sends (tests of the robot's echo guard); `hears:
false` drops what it receives (one-way audio); a noise bed (dialer/sandbox/noise.py) is
mixed into every frame sent, between words too, as a street or a room would be."""

from __future__ import annotations

from collections import deque

import numpy as np

from dialer.sandbox.noise import NoiseLoop
from dialer.telephony.media import FRAME_BYTES, FRAME_MS, AudioPipe

FRAME_SAMPLES = FRAME_BYTES // 2


class SimulatedLine(AudioPipe):
    def __init__(self) -> None:
        super().__init__()
        self._echo: deque[np.ndarray] | None = None
        self._echo_gain = 0.0
        self._echo_delay = 0
        self.deaf = False  # a caller who cannot hear (one-way audio)
        self._noise: NoiseLoop | None = None  # under everything sent

    def shape(self, echo_ms: int | None, echo_gain: float, hears: bool,
              noise: np.ndarray | None = None, noise_at: int = 0) -> None:
        """This call's faults: an echo `echo_ms` later (a multiple of the frame) scaled
        by `echo_gain` (None: no echo), whether the caller hears anything, and the noise
        bed at its level (samples, looped from `noise_at`; None: a quiet room)."""
        self._echo = deque() if echo_ms is not None else None
        self._echo_delay = max(0, (echo_ms or 0) // FRAME_MS)
        self._echo_gain = echo_gain
        self.deaf = not hears
        self._noise = NoiseLoop(noise, FRAME_SAMPLES, noise_at) if noise is not None else None

    # -- pjsua2 media thread --------------------------------------------------------
    def received(self, pcm: bytes) -> None:
        if self.deaf:
            return
        if self._echo is not None:
            self._echo.append(np.frombuffer(pcm, dtype="<i2") * self._echo_gain)
        super().received(pcm)

    def outgoing(self, data: bytes | None) -> bytes | None:
        if self._echo is not None and len(self._echo) > self._echo_delay:
            echo = self._echo.popleft()
            mixed = echo if data is None else np.frombuffer(data, dtype="<i2") + echo
            data = bytes(np.clip(mixed, -32768, 32767).astype("<i2").tobytes())
        return self._noise.under(data) if self._noise is not None else data

    def reset(self) -> None:
        self.shape(None, 0.0, True)
        super().reset()
