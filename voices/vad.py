"""End-of-utterance detection on 20 ms frames.

Speech is told from the line's noise by Silero VAD (voices/silero.py; WebRTC VAD as the
`webrtc` engine). The turn ends after `end_silence_ms` of quiet; or, with a turn model
(voices/turn.py), as soon as `turn_check_ms` of quiet follow words the model takes for
a finished turn, and only after `max_pause_ms` when it takes them for a caller pausing
mid-thought ("음… 그게…").
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import webrtcvad

from voices.silero import SileroVad

ENGINES = ("silero", "webrtc")


class TurnCompletion(Protocol):
    def complete_probability(self, pcm: bytes, sample_rate: int = 16000) -> float: ...


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
    # silero holds on noisy lines; webrtc stays the default until the e2e suite's
    # espeak replies are checked against Silero's boundaries (see docs/operations.md).
    engine: str = "webrtc"
    # Silero: a frame is speech from `threshold` on, and stays speech down to `release`
    # (hysteresis, so one soft syllable does not split a word).
    threshold: float = 0.5
    release: float = 0.35
    # With a turn model: quiet after which it is asked, and the longest pause waited for
    # when it says the caller is not done.
    turn_check_ms: int = 200
    max_pause_ms: int = 1200
    turn_threshold: float = 0.5
    # The line's own level: a low percentile (`background_pct`) of the frames of the
    # last `background_ms`, the caller's talk and pauses included (the quiet between
    # words is the line). A frame less than `background_margin_db` above it is not the
    # caller, whatever the VAD says: other people talking in the room are speech to
    # any VAD, but the caller, nearer the phone, is louder. 0: off.
    background_margin_db: float = 6.0
    background_ms: int = 2000
    background_pct: float = 10.0

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown VAD engine {self.engine!r}: one of {', '.join(ENGINES)}")
        if not 0 < self.release <= self.threshold < 1:
            raise ValueError("VAD thresholds: need 0 < release <= threshold < 1")
        if not (0 <= self.background_margin_db <= 30 and self.background_ms >= 200
                and 0 <= self.background_pct <= 50):
            raise ValueError("background_margin_db must be 0..30, background_ms >= 200 "
                             "and background_pct 0..50")
        if not 0 < self.turn_check_ms <= self.max_pause_ms:
            raise ValueError("turn_check_ms must be > 0 and <= max_pause_ms")


class Endpointer:
    """Feed frames; tells when speech starts and when the utterance is over."""

    IDLE, SPEAKING = "idle", "speaking"

    def __init__(self, sample_rate: int, frame_ms: int = 20,
                 config: VadConfig | None = None, turn: TurnCompletion | None = None) -> None:
        self.cfg = config or VadConfig()
        self.sample_rate, self.frame_ms = sample_rate, frame_ms
        self.turn = turn
        self._floor = math.pow(10.0, self.cfg.floor_dbfs / 20)
        self._vad = webrtcvad.Vad(self.cfg.aggressiveness) if self.cfg.engine == "webrtc" else None
        self._silero = SileroVad(sample_rate) if self.cfg.engine == "silero" else None
        # Compared with the sum of squares of a frame, to skip a square root per frame.
        samples = sample_rate * frame_ms // 1000
        self._floor_energy = samples * (32768.0 * self._floor) ** 2
        self._heard: deque[float] = deque(maxlen=max(10, self.cfg.background_ms // frame_ms))
        self._margin = math.pow(10.0, self.cfg.background_margin_db / 10)
        self._background = 0.0  # energy of a frame of the line without the caller
        self._heard_n = 0
        self._learnt_after = max(1, 500 // frame_ms)
        # The turn so far, for the turn model (it reads the last 8 s).
        self.turn_audio: deque[bytes] = deque(maxlen=max(1, 8000 // frame_ms))
        self.turn_checks = 0
        self._check_ms = max(frame_ms, self.cfg.turn_check_ms // frame_ms * frame_ms)
        self.turn_said_done: bool | None = None  # the model's last answer this turn
        self.reset()

    def reset(self) -> None:
        self.state = self.IDLE
        self._voiced_run = 0
        self._silence_run = 0
        self._speech_ms = 0
        self.last_voiced = False
        self.preroll: list[bytes] = []
        if self._silero is not None:
            self._silero.reset()

    def is_speech(self, frame: bytes) -> bool:
        s = np.frombuffer(frame, dtype="<i2").astype(np.float32)
        energy = float(np.dot(s, s))
        if self._margin > 1:
            self._heard.append(energy)
            self._heard_n += 1
            # Every 100 ms is often enough, from the first half second of the call on:
            # someone who answers from a noisy room says hello into that room.
            if self._heard_n % 5 == 0 and len(self._heard) >= self._learnt_after:
                self._background = float(np.percentile(self._heard, self.cfg.background_pct))
        quiet = energy < max(self._floor_energy, self._background * self._margin)
        if self._silero is not None:
            p = self._silero.push(frame, self._floor)
            return not quiet and p >= (self.cfg.release if self.last_voiced
                                       else self.cfg.threshold)
        assert self._vad is not None
        if quiet:
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
                self.turn_audio.clear()
                self.turn_audio.extend(self.preroll)
                self.turn_said_done = None
                return "start"
            return None
        self._speech_ms += self.frame_ms
        self._silence_run = 0 if voiced else self._silence_run + 1
        if self.turn is not None:
            self.turn_audio.append(frame)
        if self._turn_over() or self._speech_ms >= self.cfg.max_utterance_ms:
            self.state = self.IDLE
            self._voiced_run = 0
            self.preroll = []
            return "end"
        return None

    def _turn_over(self) -> bool:
        quiet_ms = self._silence_run * self.frame_ms
        if self.turn is None:
            return quiet_ms >= self.cfg.end_silence_ms
        if quiet_ms == self._check_ms:
            self.turn_checks += 1
            p = self.turn.complete_probability(b"".join(self.turn_audio), self.sample_rate)
            self.turn_said_done = p >= self.cfg.turn_threshold
            return self.turn_said_done
        return quiet_ms >= self.cfg.max_pause_ms

    @property
    def trailing_silence_ms(self) -> int:
        return self._silence_run * self.frame_ms
