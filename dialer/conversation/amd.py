"""Answering-machine detection on the first seconds after answer.

A person answers with a short "여보세요?" and waits; a machine plays a long greeting and
then a beep; a call screener (an assistant answering for the callee) asks who is calling
and why. `AmdProcessor` sits right after the VAD and decides once:

- a beep (a steady pure tone) -> machine;
- what was said (AmdKeywords, after the recogniser, sends it up as an AmdHint): a
  screener's words -> screener, a machine's words -> machine;
- a plain hello ("여보세요", "네") heard whole and then the end of the utterance -> human;
- other speech followed by `human_silence_s` of quiet -> human: a person waits for an
  answer, a recorded greeting goes on after a sentence's pause;
- more than `max_human_speech_s` of voiced speech before such a pause -> machine, at
  the end of the utterance, so that its words are heard first (a screener talks long
  too);
- no speech at all for `initial_silence_s` -> unknown (treated as a person: many people
  wait for the caller to speak first).

After a machine, it keeps listening for the moment the machine records: the end of its
beep or, without one, `greeting_end_silence_s` of quiet after its greeting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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
from dialer.conversation.script import (
    ANSWER_PHRASES,
    HELLO_WORDS,
    SCREENER_WORDS,
    SPEAK_REQUESTS,
)


@dataclass(frozen=True)
class AmdConfig:
    # Voiced speech before a pause of `human_silence_s`; the script's answering_machine
    # sets it (AnsweringMachine.max_human_speech_s).
    max_human_speech_s: float = 4.0
    # Quiet after the VAD's endpoint (itself 0.3 s after the last word) that ends a
    # person's opening. Shorter, and a voicemail's beep 0.8 s after its greeting comes
    # too late, or its next sentence after a long pause.
    human_silence_s: float = 0.8
    # A plain hello heard whole is a person once this much more quiet follows the
    # endpoint: 0, at once. A voicemail that starts "여보세요?" and pauses (1-1.5 s)
    # before its greeting is then a person; raising this and `human_silence_s` to 1.3
    # catches it, and makes every person wait 0.5-1 s longer.
    hello_silence_s: float = 0.0
    max_hello_s: float = 1.5  # speech longer than this is not a plain hello
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
        self._too_long_at: float | None = None  # end of the utterance that ran too long
        self._hello: AmdHint | None = None  # a plain hello, ended, not spoken on since

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if isinstance(frame, StartFrame):
            self.answered_at = frame.at
            self._quiet_since = frame.at
        elif isinstance(frame, UserStartedSpeaking):
            self._speaking, self._heard_any = True, True
            self._hello = None
        elif isinstance(frame, UserStoppedSpeaking):
            self._speaking = False
            self._quiet_since = frame.at
            if self._speech_s > self.config.max_human_speech_s:
                # Decided on the next frame: the utterance's words come right after it.
                self._too_long_at = frame.at
        elif isinstance(frame, InputAudio):
            self._audio(frame)
        elif isinstance(frame, Tick):
            self._clock(frame.at)
        elif isinstance(frame, AmdHint) and self.result is None:
            self._hint(frame)

    def _hint(self, hint: AmdHint) -> None:
        if hint.kind != "human":
            self._decide(hint.kind, hint.reason, hint.at)
        elif not self._speaking and self._speech_s <= self.config.max_hello_s:
            self._hello = hint
            self._clock(hint.at)

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
        self._clock(frame.at)

    def _clock(self, now: float) -> None:
        c = self.config
        quiet = (now - self._quiet_since) if self._quiet_since and not self._speaking else 0.0
        if self.result is None:
            if self._too_long_at is not None and now > self._too_long_at:
                self._decide("machine", f"{self._speech_s:.1f}s of speech without a pause "
                             f"(more than {c.max_human_speech_s:.1f}s)", now)
            elif self._hello is not None and quiet >= c.hello_silence_s - 1e-6:
                self._decide("human", f"{self._hello.reason}, then quiet", now)
            elif self._heard_any and quiet >= c.human_silence_s:
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


def _spans(heard: str, phrase: str) -> list[tuple[int, int]]:
    """Where `phrase` is in `heard` (both squashed: the recogniser's spacing varies)."""
    out, i = [], heard.find(phrase)
    while phrase and i >= 0:
        out.append((i, i + len(phrase)))
        i = heard.find(phrase, i + 1)
    return out


def _all_of(heard: str, phrases: frozenset[str]) -> bool:
    """`heard` is nothing but phrases of `phrases`, one after another ("네 여보세요")."""
    ends = [True] + [False] * len(heard)
    for j in range(1, len(heard) + 1):
        ends[j] = any(ends[i] and heard[i:j] in phrases for i in range(j))
    return bool(heard) and ends[-1]


class AmdKeywords(FrameProcessor):
    """Sits after the recogniser: while the verdict is pending, what each utterance was
    read as goes up to the AmdProcessor as an AmdHint when it tells who answered:

    - "screener": a call screener's words ("통화 비서", "reason for calling");
    - "machine": an answering machine's ("메시지를 남겨", "after the tone"): a short
      recorded greeting is caught too, not only one longer than `max_human_speech_s`;
    - "human": nothing but a plain hello ("여보세요", "네"), read surely.

    `words` are the machine's and the screener's together (AnsweringMachine.machine_words);
    those in `screener` (default: every language's SCREENER_WORDS) are the screener's,
    those in `speak` (SPEAK_REQUESTS) too when no machine's words were heard with them.
    Words inside a longer phrase of a person's (`person`, default ANSWER_PHRASES) do not
    count: "다시 말씀 해 주세요" is a person's, though a screener says "말씀 해 주세요".
    Only the grammar's readings count (the open-vocabulary one is a guess when the
    grammar's was weak); spacing varies, so words are compared squashed."""

    def __init__(self, words: Iterable[str], min_confidence: float = 0.6,
                 screener: Iterable[str] | None = None, speak: Iterable[str] | None = None,
                 hello: Iterable[str] | None = None,
                 person: Iterable[str] | None = None, hello_confidence: float = 0.9) -> None:
        super().__init__()
        screeners = _squashed(SCREENER_WORDS, screener)
        requests = _squashed(SPEAK_REQUESTS, speak)
        self.words = [(w, _squash(w), "screener" if _squash(w) in screeners else
                       "speak" if _squash(w) in requests else "machine")
                      for w in words if _squash(w)]
        self.hello = _squashed(HELLO_WORDS, hello)
        self.person = _squashed(ANSWER_PHRASES, person)
        self.min_confidence, self.hello_confidence = min_confidence, hello_confidence
        self.pending = True

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if isinstance(frame, AmdResult):
            self.pending = False
        elif self.pending and isinstance(frame, FinalTranscript) and frame.readings:
            hint = self._hint(frame.readings, frame.at)
            if hint is not None:
                self.pending = hint.kind == "human"  # the detector may still wait
                self.push(hint, UP)

    def _hint(self, readings: Sequence[Any], at: float) -> AmdHint | None:
        first = readings[0]
        if first.confidence >= self.hello_confidence and _all_of(_squash(first.text),
                                                                 self.hello):
            return AmdHint("human", f"it said '{first.text}'", at)
        found = self._agreed(readings)
        # A screener's own words first (it may mention a message too), then a machine's,
        # then a request to speak ("삐 소리 후에 말씀해 주세요" is a voicemail's).
        for kind, verdict in ("screener", "screener"), ("machine", "machine"), \
                ("speak", "screener"):
            said = [w for w, _, k in self.words if k == kind and w in found]
            if said:
                return AmdHint(verdict, f"it said '{said[0]}'", at)
        return None

    def _agreed(self, readings: Sequence[Any]) -> set[str]:
        """The words found in a sure reading of the grammar's: the first reading when it
        was sure and whole (then there are no others) or when every later start read
        the same; otherwise in two readings of the utterance from different starts. A
        grammar forces speech it does not cover into its own words, differently from
        each start ("네 김민수입니다" came out "네 삐 소리 들려 요" once)."""
        first, *others = readings
        read = [first, *(r for r in others if getattr(r, "grammar", False))]
        seen: dict[str, int] = {}
        for reading in read:
            if reading.confidence >= self.min_confidence:
                for word in self._found(reading.text):
                    seen[word] = seen.get(word, 0) + 1
        return {w for w, n in seen.items() if n >= 2 or len(read) == 1}

    def _found(self, text: str) -> set[str]:
        heard = _squash(text)
        person = [s for p in self.person for s in _spans(heard, p)]
        return {word for word, squashed, _ in self.words for i, j in _spans(heard, squashed)
                if not any(a <= i and j <= b and b - a > j - i for a, b in person)}


def _squashed(defaults: dict[str, tuple[str, ...]], given: Iterable[str] | None
              ) -> frozenset[str]:
    """`given` squashed; None: every language's `defaults`."""
    if given is None:
        given = [w for words in defaults.values() for w in words]
    return frozenset(_squash(w) for w in given if _squash(w))
