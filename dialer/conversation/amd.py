"""Answering-machine detection on the first seconds after answer.

A person answers with a short "여보세요?" and waits; a machine plays a long greeting and
then a beep; a call screener (an assistant answering for the callee) asks who is calling
and why. `AmdProcessor` sits right after the VAD and decides once:

- a beep (a steady pure tone) -> machine;
- what was said (AmdKeywords, after the recogniser, sends it up as an AmdHint): a
  screener's words -> screener, a machine's words -> machine;
- a plain hello ("여보세요", "네") heard whole, then `hello_silence_s` of quiet -> human;
- other speech, then quiet (`short_silence_s` after a short opening, else
  `human_silence_s`) -> human: a person waits for an answer, a recording goes on;
- more than `max_human_speech_s` of voiced speech before such a pause -> machine, at
  the end of the utterance, so that its words are heard first (screeners talk long);
- speech already playing as the call was answered, not a plain hello -> machine at
  the end of that utterance (AnswerOnset);
- no speech at all for `initial_silence_s` -> unknown (treated as a person: many people
  wait for the caller to speak first). An utterance no reading holds a word of is
  noise (AmdHint "noise"): the line is taken to have stayed quiet.

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
from dialer.conversation.script import ANSWER_PHRASES, HELLO_WORDS, SCREENER_WORDS, SPEAK_REQUESTS
from nlu.phrase import Phrase


@dataclass(frozen=True)
class AmdConfig:
    # Voiced speech before a pause of `human_silence_s`; the script's answering_machine
    # sets it (AnsweringMachine.max_human_speech_s). Decided at the end of the utterance
    # that passes it, so that its words are read first (a screener talks long too).
    max_human_speech_s: float = 4.0
    # Quiet after the VAD's endpoint (itself 0.3 s after the last word) that ends a
    # person's opening; a voicemail's beep 0.8 s after its greeting comes before it.
    human_silence_s: float = 0.8
    # The same after no more than `max_hello_s` of speech: a machine's next sentence
    # starts 0.1-0.2 s after the endpoint of its last, a beep within ~0.5 s.
    short_silence_s: float = 0.5
    # A plain hello heard whole ("여보세요", "네"): a person after this much quiet. Not
    # 0: a voicemail's "안녕하세요." read as a sure hello goes on before this. One that
    # says "여보세요?" and pauses 1-1.5 s is a person to all these (1.3 s would catch it).
    hello_silence_s: float = 0.4
    max_hello_s: float = 1.5  # more speech than this is not a short hello
    # Speech already playing as the call is answered (AnswerOnset): a voicemail plays
    # at once, a person first puts the phone to the ear (0.3 s or more).
    answer_window_s: float = 0.3
    answer_voiced: float = 0.8
    answer_above_db: float = 10.0
    # An utterance the recogniser reads no word in is noise (the line's, the room's),
    # unless it is a short word a bad line blurred ("네" on G.711 in street noise):
    # between these two lengths of voiced speech.
    min_word_s: float = 0.1
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


class AnswerOnset:
    """Was a greeting already playing as the line opened? The VAD heard voice in most
    (`answer_voiced`) of the first `answer_window_s`, `answer_above_db` louder than the
    line after the utterance's last word (a room of voices is as loud after a hello as
    before it). Its words, with the first syllable lost on the line, may go unread."""

    def __init__(self, config: AmdConfig, frame_ms: int) -> None:
        self.config = config
        self.whole = config.answer_window_s * 1000 / frame_ms  # frames in the window
        self.voiced = self.frames = 0
        self.level = 0.0  # the window's mean energy
        self.counting = True
        self.under_way = False  # at the window's end, an utterance was
        self._trail = (0.0, 0)  # energy and frames since the last voiced frame

    def push(self, frame: InputAudio, since: float, speaking: bool) -> None:
        if not (self.counting or self.under_way):
            return
        samples = np.frombuffer(frame.pcm, dtype="<i2").astype(np.float32)
        energy = float(np.mean(samples ** 2)) + 1.0 if samples.size else 1.0
        total, n = self._trail
        self._trail = (0.0, 0) if frame.voiced else (total + energy, n + 1)
        if not self.counting:
            return
        c = self.config
        if since <= c.answer_window_s + 1e-6:
            self.voiced, self.frames = self.voiced + bool(frame.voiced), self.frames + 1
            self.level += (energy - self.level) / self.frames
            if since < c.answer_window_s - 1e-6:
                return
        self.counting = False  # a frame missing from the window counts as quiet
        self.under_way = speaking and self.voiced >= c.answer_voiced * self.whole - 1e-6

    def recorded(self) -> bool:
        """At the end of the utterance under way at the answer: was it the greeting?"""
        total, n = self._trail
        floor = total / n if n else 0.0
        return self.level >= floor * 10 ** (self.config.answer_above_db / 10)


class AmdProcessor(FrameProcessor):
    def __init__(self, config: AmdConfig, sample_rate: int, frame_ms: int = 20) -> None:
        super().__init__()
        self.config, self.frame_ms = config, frame_ms
        self.beeps = BeepDetector(sample_rate, frame_ms=frame_ms)
        self.answered_at = 0.0
        self.result: str | None = None
        self.ready = False
        self._speech_s = 0.0  # voiced, in every utterance that was not noise
        self._utterance_s = 0.0  # voiced, in the last utterance
        self._speaking = False
        self._quiet_since: float | None = None  # end of the last utterance
        self._heard_any = False
        # Before the last utterance: the quiet and whether anyone had spoken, taken back
        # when it turns out a noise (an AmdHint "noise": no reading holds a word).
        self._before: tuple[float | None, bool] = (None, False)
        self._beep_end: float | None = None
        self._hello: AmdHint | None = None  # a plain hello, ended, not spoken on since
        self._onset = AnswerOnset(config, frame_ms)

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if isinstance(frame, StartFrame):
            self.answered_at = frame.at
            self._quiet_since = frame.at
        elif isinstance(frame, UserStartedSpeaking):
            self._before = (self._quiet_since, self._heard_any)
            self._speaking, self._heard_any = True, True
            self._utterance_s, self._hello, self._onset.under_way = 0.0, None, False
        elif isinstance(frame, UserStoppedSpeaking):
            self._speaking = False
            self._quiet_since = frame.at
        elif isinstance(frame, InputAudio):
            self._audio(frame)
        elif isinstance(frame, Tick):
            self._clock(frame.at)
        elif isinstance(frame, AmdHint) and self.result is None:
            self._hint(frame)

    def _hint(self, hint: AmdHint) -> None:
        c = self.config
        if hint.kind == "noise":
            # Not speech: as if the line had stayed quiet (street noise, a click).
            if not self._speaking and not c.min_word_s <= self._utterance_s <= c.max_hello_s:
                self._speech_s -= self._utterance_s
                self._quiet_since, self._heard_any = self._before
                self._utterance_s, self._onset.under_way = 0.0, False
        elif hint.kind != "human":
            self._decide(hint.kind, hint.reason, hint.at)
        elif not self._speaking and self._speech_s <= c.max_hello_s:
            self._hello, self._onset.under_way = hint, False
        self._clock(hint.at)

    def _audio(self, frame: InputAudio) -> None:
        beep = self.beeps.push(frame.pcm) if not self.ready else None
        if beep == "start" and self.result is None:
            self._decide("machine", Phrase("a beep"), frame.at)
        elif beep == "end" and self.result == "machine" and not self.ready:
            self._beep_end = frame.at
        if self._beep_end is not None and not self.ready:
            if frame.at - self._beep_end >= self.config.after_beep_s - 1e-6:
                self.ready = True
                self.push(MachineReady(frame.at, beep=True))
            return
        if self._speaking and frame.voiced and not self.beeps.in_beep:
            self._speech_s += self.frame_ms / 1000
            self._utterance_s += self.frame_ms / 1000
        self._onset.push(frame, frame.at - self.answered_at, self._speaking)
        self._clock(frame.at)

    def _clock(self, now: float) -> None:
        c = self.config
        quiet = 0.0 if self._quiet_since is None or self._speaking else now - self._quiet_since
        if self.result is None:
            verdict = self._verdict(now, quiet)
            if verdict is not None:
                self._decide(*verdict, now)
        elif self.result == "machine" and not self.ready and (
                quiet >= c.greeting_end_silence_s or now - self.answered_at >= c.give_up_s):
            self.ready = True
            self.push(MachineReady(now, beep=False))

    def _verdict(self, now: float, quiet: float) -> tuple[str, str] | None:
        """What the timing says by `now`, `quiet` seconds after the last utterance."""
        c = self.config
        if self._speech_s > c.max_human_speech_s and quiet > 0:
            # After the end of the utterance: its words came with its end.
            return "machine", Phrase("{speech:.1f}s of speech without a pause (more than {most:.1f}s)",
                                     speech=self._speech_s, most=c.max_human_speech_s)
        if self._onset.under_way and quiet > 0:
            self._onset.under_way = False
            if self._onset.recorded():
                return "machine", Phrase("speaking as the call was answered")
        if self._hello is not None and quiet >= c.hello_silence_s - 1e-6:
            return "human", Phrase("{why}, then quiet", why=self._hello.reason)
        wait = c.short_silence_s if self._speech_s <= c.max_hello_s else c.human_silence_s
        if self._heard_any and quiet >= wait - 1e-6:
            return "human", Phrase("{speech:.1f}s of speech, then quiet", speech=self._speech_s)
        if not self._heard_any and now - self.answered_at >= c.initial_silence_s:
            return "unknown", Phrase("silent for {quiet:.1f}s", quiet=c.initial_silence_s)
        return None

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
    - "human": nothing but a plain hello ("여보세요", "네"), read surely;
    - "noise": no reading, of the grammar or the open vocabulary, holds a word.

    `words` are the machine's and the screener's together (AnsweringMachine.machine_words);
    those in `screener` (default: every language's SCREENER_WORDS) are the screener's,
    those in `speak` (SPEAK_REQUESTS) too when no machine's words were heard with them.
    Words inside a longer phrase of a person's (`person`, default ANSWER_PHRASES) do not
    count ("다시 말씀 해 주세요" asks to repeat), nor any in a reading that opens with a
    hello word heard surely. Only the grammar's readings count (the open-vocabulary one
    is a guess when the grammar's was weak); words are compared squashed."""

    def __init__(self, words: Iterable[str], min_confidence: float = 0.6,
                 screener: Iterable[str] | None = None, speak: Iterable[str] | None = None,
                 hello: Iterable[str] | None = None, person: Iterable[str] | None = None,
                 hello_confidence: float = 0.9, sure_confidence: float = 0.8) -> None:
        super().__init__()
        screeners = _squashed(SCREENER_WORDS, screener)
        requests = _squashed(SPEAK_REQUESTS, speak)
        self.words = [(w, _squash(w), "screener" if _squash(w) in screeners else
                       "speak" if _squash(w) in requests else "machine")
                      for w in words if _squash(w)]
        self.hello = _squashed(HELLO_WORDS, hello)
        self.person = _squashed(ANSWER_PHRASES, person)
        self.min_confidence, self.hello_confidence = min_confidence, hello_confidence
        self.sure_confidence = sure_confidence
        self.pending = True

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if isinstance(frame, AmdResult):
            self.pending = False
        elif self.pending and isinstance(frame, FinalTranscript) and frame.readings:
            hint = self._hint(frame.readings, frame.at)
            if hint is not None:
                # After a hello or a noise the detector still waits.
                self.pending = hint.kind in ("human", "noise")
                self.push(hint, UP)

    def _hint(self, readings: Sequence[Any], at: float) -> AmdHint | None:
        first = readings[0]
        if not any(str(getattr(r, "text", "")).strip() for r in readings):
            return AmdHint("noise", Phrase("no reading holds a word"), at)
        heard = _squash(first.text)
        if first.confidence >= self.hello_confidence and _all_of(heard, self.hello):
            return AmdHint("human", Phrase("it said '{words}'", words=first.text), at)
        opening = getattr(first, "words", ())[:1]
        if opening and opening[0][1] >= self.hello_confidence \
                and _squash(opening[0][0]) in self.hello:
            # It opens with a hello, surely heard ("여보세요, 제가 지금 운전 중이라서요"):
            # a person's, whose other words the grammar forced into its own.
            return None
        found = self._agreed(readings)
        # A screener's own words first (it may mention a message too), then a machine's,
        # then a request to speak ("삐 소리 후에 말씀해 주세요" is a voicemail's).
        for kind, verdict in ("screener", "screener"), ("machine", "machine"), \
                ("speak", "screener"):
            if kind in found:
                return AmdHint(verdict, Phrase("it said '{words}'", words=found[kind][0]), at)
        return None

    def _agreed(self, readings: Sequence[Any]) -> dict[str, list[str]]:
        """Kind ("machine", "screener", "speak") -> its words found, for the kinds the
        grammar's readings agree on: two readings from different starts hold words of
        the kind (not always the same ones); or the only reading does; or, a machine's,
        one reading of `sure_confidence`. A grammar forces speech it does not cover into
        its own words, differently from each start ("박지영이에요" came out "… 통화 비서
        이시죠" from one start; a machine's long phrases rarely come out so surely)."""
        first, *others = readings
        read = [r for r in (first, *others) if r is first or getattr(r, "grammar", False)]
        kinds = {w: k for w, _, k in self.words}
        said: dict[str, list[str]] = {}
        count: dict[str, int] = {}
        for reading in read:
            if reading.confidence < self.min_confidence:
                continue
            words = self._found(reading.text)
            sure = reading.confidence >= self.sure_confidence
            for kind in {kinds[w] for w in words}:
                count[kind] = count.get(kind, 0) + (2 if sure and kind == "machine" else 1)
                said.setdefault(kind, [])
                said[kind] += [w for w, _, k in self.words
                               if k == kind and w in words and w not in said[kind]]
        return {kind: said[kind] for kind, n in count.items() if n >= 2 or len(read) == 1}

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
