"""The customer's side of the line: speech found in the audio (VAD, endpointing), speech
over the robot told from a backchannel (barge-in), and speech read as text (ASR).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dialer.conversation.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    EndFrame,
    FinalTranscript,
    Frame,
    InputAudio,
    InterimTranscript,
    Interruption,
    Listen,
    StartFrame,
    TentativeTranscript,
    Tick,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from dialer.conversation.pipeline import UP, Direction, FrameProcessor
from voices.audio import from_onset
from voices.bandwidth import BandwidthExtender
from voices.recognizer import RecognizerStream, SpeechRecognizer
from voices.vad import Endpointer, TurnCompletion, VadConfig


class VadProcessor(FrameProcessor):
    """Customer speech start and end (the endpoint) from the audio; audio passes on."""

    def __init__(self, sample_rate: int, frame_ms: int, config: VadConfig,
                 turn: TurnCompletion | None = None) -> None:
        super().__init__()
        self.endpointer = Endpointer(sample_rate, frame_ms, config, turn)
        self.config = config
        self._started_at = self._last_voiced_at = 0.0

    def process(self, frame: Frame, direction: Direction) -> None:
        if not isinstance(frame, InputAudio):
            self.push(frame, direction)
            return
        event = self.endpointer.push(frame.pcm)
        frame = replace(frame, voiced=self.endpointer.last_voiced)
        if event == "start":
            self._started_at = self._last_voiced_at = frame.at
            # The pre-roll ends with this frame, which follows as audio.
            self.push(UserStartedSpeaking(frame.at, tuple(self.endpointer.preroll[:-1])))
        elif self.endpointer.state == Endpointer.SPEAKING \
                and self.endpointer.trailing_silence_ms == 0:
            self._last_voiced_at = frame.at
        self.push(frame)
        if event == "end":
            spoken_ms = (frame.at - self._started_at) * 1000
            self.push(UserStoppedSpeaking(
                frame.at, self._started_at, self._last_voiced_at,
                truncated=spoken_ms >= self.config.max_utterance_ms - 40))


class BargeInProcessor(FrameProcessor):
    """Lets the customer interrupt the robot, but not with a backchannel.

    Speech that starts while the robot talks is held back. Once `min_ms` of it is voiced,
    it is a real interruption: an Interruption goes down (the audio out stops and drops
    queued speech) and the held speech follows, so the recogniser hears it from its
    first syllable. If it ends sooner ("네", "음", a cough), it was a backchannel and is
    dropped: the robot talks on and never acts on it.
    """

    def __init__(self, min_ms: float = 400.0, frame_ms: float = 20.0) -> None:
        super().__init__()
        self.min_ms, self.frame_ms = min_ms, frame_ms
        self.bot_speaking = False
        self._held: list[Frame] | None = None
        self._held_start = 0.0
        self._voiced_ms = 0.0
        self.interruptions = 0
        self.backchannels = 0

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, BotStartedSpeaking):
            self.bot_speaking = True
        elif isinstance(frame, BotStoppedSpeaking):
            self.bot_speaking = False
            if self._held is not None and not frame.interrupted:
                self._release()  # the robot finished on its own; the reply goes through
        if direction is UP or isinstance(frame, EndFrame | StartFrame):
            self.push(frame, direction)
            return
        if self._held is None:
            if isinstance(frame, UserStartedSpeaking) and self.bot_speaking:
                self._held, self._held_start = [frame], frame.at
                self._voiced_ms = 0.0
                return
            self.push(frame)
            return
        if isinstance(frame, UserStoppedSpeaking):
            self._held = None
            self.backchannels += 1
            return
        self._held.append(frame)
        if isinstance(frame, InputAudio):
            self._voiced_ms += self.frame_ms if frame.voiced is not False else 0.0
            if self._voiced_ms >= self.min_ms:
                self.interruptions += 1
                self.push(Interruption(frame.at, spoken_ms=self._voiced_ms))
                self._release()
            else:
                self.push(Tick(frame.at))  # the clock goes on for the processors below

    def _release(self) -> None:
        held, self._held = self._held or [], None
        for f in held:
            self.push(f)


ONSET_MARGIN_MS = 120  # audio the recogniser gets from before the speech's first loud sample


class AsrProcessor(FrameProcessor):
    """Streams the customer's speech into vosk between start and endpoint (never on
    silence), with the grammar the policy asked for; interim text while they speak."""

    def __init__(self, asr: SpeechRecognizer, interim_every_ms: float = 300.0,
                 clock_ms: float = 40.0, early_final_ms: float | None = 150.0,
                 narrowband: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self.asr = asr
        # On a telephone-band call (G.711) the recogniser hears the speech bandwidth-
        # extended (voices/bandwidth.py); asked at each utterance, as the codec is known
        # once media flows.
        self.narrowband = narrowband
        self._extend: BandwidthExtender | None = None
        self.interim_every_ms = interim_every_ms
        # Speculation: after this much trailing silence the utterance is finished early
        # and its readings go down as a TentativeTranscript, so the decoder's final pass
        # and the NLU run while the endpoint is still being waited for. If the customer
        # speaks on, the utterance is decoded again from its start (rare, and cheap with
        # a grammar). None: finish only at the endpoint.
        self.early_final_ms = early_final_ms
        self._silent_ms = 0.0
        self._tentative: tuple[Any, ...] | None = None  # readings taken early
        # The recogniser is the last processor that needs the audio itself; below it the
        # audio is replaced by a Tick this often (the policy's timers, the audio out's
        # polling), which saves a fifth of a call's CPU at 50 frames a second.
        self.clock_ms = clock_ms
        self._next_tick = 0.0
        self.grammar: list[str] = []
        self._grammar_set: frozenset[str] = frozenset()
        self._phrases: frozenset[str] = frozenset()  # the grammar of this utterance
        self.stream: RecognizerStream | None = None
        self._next_interim = 0.0
        self._last_partial = ""

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, Listen):
            self.grammar = self.asr.grammar(frame.phrases)
            self._grammar_set = frozenset(self.grammar)
        elif isinstance(frame, UserStartedSpeaking):
            if self.stream is not None:
                self.stream.close()
            self.stream = self.asr.stream(self.grammar or None)
            self._phrases = self._grammar_set
            self._extend = BandwidthExtender(self.asr.sample_rate) \
                if self.narrowband is not None and self.narrowband() else None
            # From a fixed time before the first loud sample, whatever frame it came in.
            preroll = from_onset(b"".join(frame.preroll), self.asr.sample_rate,
                                 ONSET_MARGIN_MS)
            if preroll:
                self.stream.feed(self._heard(preroll))
            self._next_interim = frame.at + self.interim_every_ms / 1000
            self._last_partial = ""
            self._silent_ms, self._tentative = 0.0, None
        elif isinstance(frame, InputAudio) and self.stream is not None:
            self._hear(frame)
        elif isinstance(frame, UserStoppedSpeaking) and self.stream is not None:
            self.push(frame, direction)
            if self._tentative is None:
                result = self.stream.finish()
                readings, ms = tuple(result.hypotheses()), result.ms
            else:  # the same object the NLU has already parsed
                readings, ms = self._tentative, self._tentative[0].ms
            self.stream, self._tentative = None, None
            self.push(FinalTranscript(readings, frame.started_at, frame.last_voiced_at, ms,
                                      frame.at, self._phrases))
            return
        elif isinstance(frame, EndFrame):
            if self.stream is not None:
                self.stream.close()
            self.stream, self._tentative = None, None
        if isinstance(frame, InputAudio):
            if frame.at >= self._next_tick:
                self._next_tick = frame.at + self.clock_ms / 1000
                self.push(Tick(frame.at))
            return
        self.push(frame, direction)


    def _hear(self, frame: InputAudio) -> None:
        assert self.stream is not None
        if frame.voiced is False:
            self._silent_ms += len(frame.pcm) * 500 / self.asr.sample_rate
        else:
            self._silent_ms = 0.0
            if self._tentative is not None:  # they spoke on: the early reading is void
                self._tentative = None
                self.stream = self.stream.reopen()
        pcm = self._heard(frame.pcm)
        if self._tentative is not None:
            self.stream.keep(pcm)  # finished: the audio is only kept
            return
        self.stream.feed(pcm)
        if self.early_final_ms is not None and self._silent_ms >= self.early_final_ms:
            self._tentative = tuple(self.stream.finish().hypotheses())
            self.push(TentativeTranscript(self._tentative, frame.at, self._phrases))
            return
        if self.interim_every_ms and frame.at >= self._next_interim:
            self._next_interim = frame.at + self.interim_every_ms / 1000
            partial = self.stream.partial()
            if partial and partial != self._last_partial:
                self._last_partial = partial
                self.push(InterimTranscript(partial, frame.at))

    def _heard(self, pcm: bytes) -> bytes:
        return self._extend.process(pcm) if self._extend is not None else pcm
