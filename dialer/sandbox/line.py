"""A simulated caller's line: the faults a persona asks for, applied to the simulator's
own audio ports (never the robot's). `echo:` sends back what the caller's phone received,
later and quieter, mixed into what it sends (tests of the robot's echo guard); `hears:
false` drops what it receives (one-way audio)."""

from __future__ import annotations

from collections import deque

import numpy as np

from dialer.telephony.media import FRAME_MS, AudioPipe


class SimulatedLine(AudioPipe):
    def __init__(self) -> None:
        super().__init__()
        self._echo: deque[np.ndarray] | None = None
        self._echo_gain = 0.0
        self._echo_delay = 0
        self.deaf = False  # a caller who cannot hear (one-way audio)

    def shape(self, echo_ms: int | None, echo_gain: float, hears: bool) -> None:
        """This call's faults: an echo `echo_ms` later (a multiple of the frame) scaled
        by `echo_gain` (None: no echo), and whether the caller hears anything."""
        self._echo = deque() if echo_ms is not None else None
        self._echo_delay = max(0, (echo_ms or 0) // FRAME_MS)
        self._echo_gain = echo_gain
        self.deaf = not hears

    # -- pjsua2 media thread --------------------------------------------------------
    def received(self, pcm: bytes) -> None:
        if self.deaf:
            return
        if self._echo is not None:
            self._echo.append(np.frombuffer(pcm, dtype="<i2") * self._echo_gain)
        super().received(pcm)

    def outgoing(self, data: bytes | None) -> bytes | None:
        if self._echo is None or len(self._echo) <= self._echo_delay:
            return data
        echo = self._echo.popleft()
        mixed = echo if data is None else np.frombuffer(data, dtype="<i2") + echo
        return bytes(np.clip(mixed, -32768, 32767).astype("<i2").tobytes())

    def reset(self) -> None:
        self.shape(None, 0.0, True)
        super().reset()
