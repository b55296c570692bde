"""End-of-utterance detection on 20 ms frames with WebRTC VAD."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import webrtcvad


@dataclass(frozen=True)
class VadConfig:
    aggressiveness: int = 2  # webrtcvad mode 0..3; 2 rejects line noise without eating words
    start_ms: int = 60  # voiced run that opens an utterance
    end_silence_ms: int = 300  # trailing silence that closes it
    max_utterance_ms: int = 12000
    preroll_ms: int = 200  # audio kept from before the start so first syllables survive
    # Frames quieter than this are silence whatever WebRTC VAD says. Its decision carries
    # a hangover: it goes on calling ~100 ms of pure silence after a word "speech", which
    # would add that much to every endpoint on top of `end_silence_ms`. -50 dBFS is far
    # below telephone speech (-15..-35 dBFS) and its soft consonants.
    floor_dbfs: float = -50.0


class Endpointer:
    """Feed frames; tells when speech starts and when the utterance is over."""

    IDLE, SPEAKING = "idle", "speaking"

    def __init__(self, sample_rate: int, frame_ms: int = 20,
                 config: VadConfig | None = None) -> None:
        self.cfg = config or VadConfig()
        self.sample_rate, self.frame_ms = sample_rate, frame_ms
        self._vad = webrtcvad.Vad(self.cfg.aggressiveness)
        # Compared with the sum of squares of a frame, to skip a square root per frame.
        samples = sample_rate * frame_ms // 1000
        self._floor_energy = samples * (32768.0 * math.pow(10.0, self.cfg.floor_dbfs / 20)) ** 2
        self.reset()

    def reset(self) -> None:
        self.state = self.IDLE
        self._voiced_run = 0
        self._silence_run = 0
        self._speech_ms = 0
        self.last_voiced = False
        self.preroll: list[bytes] = []

    def is_speech(self, frame: bytes) -> bool:
        s = np.frombuffer(frame, dtype="<i2").astype(np.float32)
        if float(np.dot(s, s)) < self._floor_energy:
            # Still shown to the VAD so that its noise model keeps learning the line.
            self._vad.is_speech(frame, self.sample_rate)
            return False
        return self._vad.is_speech(frame, self.sample_rate)

    def push(self, frame: bytes) -> str | None:
        """Return "start", "end" or None for this frame."""
        voiced = self.last_voiced = self.is_speech(frame)
        if self.state == self.IDLE:
            self.preroll.append(frame)
            keep = max(1, (self.cfg.preroll_ms + self.cfg.start_ms) // self.frame_ms)
            del self.preroll[:-keep]
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run * self.frame_ms >= self.cfg.start_ms:
                self.state, self._silence_run, self._speech_ms = self.SPEAKING, 0, 0
                return "start"
            return None
        self._speech_ms += self.frame_ms
        self._silence_run = 0 if voiced else self._silence_run + 1
        if (self._silence_run * self.frame_ms >= self.cfg.end_silence_ms
                or self._speech_ms >= self.cfg.max_utterance_ms):
            self.state = self.IDLE
            self._voiced_run = 0
            self.preroll = []
            return "end"
        return None

    @property
    def trailing_silence_ms(self) -> int:
        return self._silence_run * self.frame_ms
