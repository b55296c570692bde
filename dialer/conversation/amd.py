"""Answering-machine detection on the first seconds after answer.

A person answers with a short "여보세요?" and waits; a machine plays a long greeting and
then a beep. `AmdProcessor` sits right after the VAD and decides once:

- voiced speech adding up to more than `max_human_speech_s` -> machine;
- a beep (a steady pure tone) -> machine;
- a short utterance followed by `human_silence_s` of quiet -> human;
- no speech at all for `initial_silence_s` -> unknown (treated as a person: many people
  wait for the caller to speak first).

After a machine, it keeps listening for the moment the machine records: the end of its
beep or, without one, `greeting_end_silence_s` of quiet after its greeting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dialer.conversation.frames import (
    AmdHint,
    AmdResult,
    FinalTranscript,
    Frame,
    InputAudio,
    MachineReady,
    StartFrame,
    Tick,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from dialer.conversation.pipeline import UP, Direction, FrameProcessor


@dataclass(frozen=True)
class AmdConfig:
    max_human_speech_s: float = 2.0
    human_silence_s: float = 0.8
    initial_silence_s: float = 2.5
    greeting_end_silence_s: float = 1.5
    # A breath after the beep before the message starts: the machine's recorder is
    # surely running, and a message that starts on the beep's tail sounds clipped.
    after_beep_s: float = 0.3
    give_up_s: float = 25.0  # a machine that never goes quiet: leave the message anyway


class BeepDetector:
    """A beep is at least `min_ms` of frames whose energy sits in one frequency between
    300 and 3,000 Hz (speech spreads over many); `push` returns "start", "end" or None."""

    def __init__(self, sample_rate: int, min_ms: int = 160, frame_ms: int = 20) -> None:
        self.sample_rate, self.frame_ms = sample_rate, frame_ms
        self.min_frames = max(1, min_ms // frame_ms)
        self._run = 0
        self._freq = 0.0
        self.in_beep = False

    def tone(self, pcm: bytes) -> float | None:
        """The frame's frequency if it is a pure, loud enough tone."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        if samples.size < 64 or np.sqrt(np.mean(samples**2)) < 500:
            return None
        spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
        freqs = np.fft.rfftfreq(samples.size, 1 / self.sample_rate)
        band = (freqs >= 300) & (freqs <= 3000)
        peak = int(np.argmax(np.where(band, spectrum, 0)))
        # The peak and its neighbours (the window spreads a pure tone over ~3 bins).
        share = spectrum[max(0, peak - 2):peak + 3].sum() / max(spectrum.sum(), 1e-9)
        return float(freqs[peak]) if share > 0.85 else None

    def push(self, pcm: bytes) -> str | None:
        freq = self.tone(pcm)
        steady = freq is not None and (self._run == 0 or abs(freq - self._freq) <= 100)
        if steady:
            self._run += 1
            self._freq = freq or 0.0
            if not self.in_beep and self._run >= self.min_frames:
                self.in_beep = True
                return "start"
            return None
        self._run = 0
        if self.in_beep:
            self.in_beep = False
            return "end"
        return None


class AmdProcessor(FrameProcessor):
    def __init__(self, config: AmdConfig, sample_rate: int, frame_ms: int = 20) -> None:
        super().__init__()
        self.config, self.frame_ms = config, frame_ms
        self.beeps = BeepDetector(sample_rate, frame_ms=frame_ms)
        self.answered_at = 0.0
        self.result: str | None = None
        self.ready = False
        self._speech_s = 0.0
        self._speaking = False
        self._quiet_since: float | None = None  # end of the last utterance
        self._heard_any = False
        self._beep_end: float | None = None

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if isinstance(frame, StartFrame):
            self.answered_at = frame.at
            self._quiet_since = frame.at
        elif isinstance(frame, UserStartedSpeaking):
            self._speaking, self._heard_any = True, True
        elif isinstance(frame, UserStoppedSpeaking):
            self._speaking = False
            self._quiet_since = frame.at
        elif isinstance(frame, InputAudio):
            self._audio(frame)
        elif isinstance(frame, Tick):
            self._clock(frame.at)
        elif isinstance(frame, AmdHint) and self.result is None:
            self._decide(frame.kind, frame.reason, frame.at)

    def _audio(self, frame: InputAudio) -> None:
        beep = self.beeps.push(frame.pcm) if not self.ready else None
        if beep == "start" and self.result is None:
            self._decide("machine", "a beep", frame.at)
        elif beep == "end" and self.result == "machine" and not self.ready:
            self._beep_end = frame.at
        if self._beep_end is not None and not self.ready:
            if frame.at - self._beep_end >= self.config.after_beep_s - 1e-6:
                self.ready = True
                self.push(MachineReady(frame.at, beep=True))
            return
        if self._speaking and frame.voiced and not self.beeps.in_beep:
            self._speech_s += self.frame_ms / 1000
            if self.result is None and self._speech_s > self.config.max_human_speech_s:
                self._decide("machine", f"a greeting longer than "
                             f"{self.config.max_human_speech_s:.1f}s", frame.at)
        self._clock(frame.at)

    def _clock(self, now: float) -> None:
        c = self.config
        quiet = (now - self._quiet_since) if self._quiet_since and not self._speaking else 0.0
        if self.result is None:
            if self._heard_any and quiet >= c.human_silence_s:
                self._decide("human", f"{self._speech_s:.1f}s of speech, then quiet", now)
            elif not self._heard_any and now - self.answered_at >= c.initial_silence_s:
                self._decide("unknown", f"silent for {c.initial_silence_s:.1f}s", now)
        elif self.result == "machine" and not self.ready and (
                quiet >= c.greeting_end_silence_s or now - self.answered_at >= c.give_up_s):
            self.ready = True
            self.push(MachineReady(now, beep=False))

    def _decide(self, kind: str, reason: str, at: float) -> None:
        self.result = kind
        self.push(AmdResult(kind, reason, at))


def _squash(text: str) -> str:
    return "".join(text.split()).lower()


class AmdKeywords(FrameProcessor):
    """Sits after the recogniser: while the verdict is pending, a reading that holds
    words only a machine says ("메시지를 남겨", "after the tone") sends an AmdHint up to
    the AmdProcessor, which decides "machine" at once: a short recorded greeting is
    caught too, not only one longer than `max_human_speech_s`."""

    def __init__(self, words: tuple[str, ...], min_confidence: float = 0.6) -> None:
        super().__init__()
        self.words = [(w, _squash(w)) for w in words if _squash(w)]
        self.min_confidence = min_confidence
        self.pending = True

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if isinstance(frame, AmdResult):
            self.pending = False
        elif self.pending and isinstance(frame, FinalTranscript) and frame.readings:
            # The grammar's reading, and when it was weak its readings from later starts
            # (a recorded greeting cut a little differently by the VAD, or a frame lost
            # on the way, can flip a weak first reading); spacing varies, so squashed.
            first, *others = frame.readings
            for reading in (first, *(r for r in others if getattr(r, "grammar", False))):
                if reading.confidence < self.min_confidence:
                    continue
                heard = _squash(reading.text)
                for word, squashed in self.words:
                    if squashed in heard:
                        self.pending = False
                        self.push(AmdHint("machine", f"it said '{word}'", frame.at), UP)
                        return
