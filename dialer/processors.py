"""The processors of a live call, customer's audio first:

    VadProcessor -> BargeInProcessor -> AsrProcessor -> NluProcessor -> PolicyProcessor
    -> TtsProcessor -> TurnRecorder -> AudioOutput

Each handles its own frame types and passes every other frame on unchanged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from campaigns.models import Disposition
from dialer.confirm import KEY, heard_as, weakest_word
from dialer.frames import (
    AmdResult,
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Dtmf,
    EndFrame,
    Escalated,
    FinalTranscript,
    Frame,
    Hangup,
    InputAudio,
    InterimTranscript,
    Interruption,
    Listen,
    MachineReady,
    ParseResult,
    Speak,
    SpeechAudio,
    StartFrame,
    TentativeTranscript,
    Tick,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from dialer.pipeline import UP, Direction, FrameProcessor
from dialer.policy import Action, DialoguePolicy, Understanding, understand
from dialer.script import ANSWER_PHRASES
from voices.asr import AsrStream, VoskAsr
from voices.vad import Endpointer, VadConfig


class VadProcessor(FrameProcessor):
    """Customer speech start and end (the endpoint) from the audio; audio passes on."""

    def __init__(self, sample_rate: int, frame_ms: int, config: VadConfig) -> None:
        super().__init__()
        self.endpointer = Endpointer(sample_rate, frame_ms, config)
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


class AsrProcessor(FrameProcessor):
    """Streams the customer's speech into vosk between start and endpoint (never on
    silence), with the grammar the policy asked for; interim text while they speak."""

    def __init__(self, asr: VoskAsr, interim_every_ms: float = 300.0,
                 clock_ms: float = 40.0, early_final_ms: float | None = 150.0) -> None:
        super().__init__()
        self.asr = asr
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
        self.stream: AsrStream | None = None
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
            for pcm in frame.preroll:
                self.stream.feed(pcm)
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
        if self._tentative is not None:
            self.stream.keep(frame.pcm)  # finished: the audio is only kept
            return
        self.stream.feed(frame.pcm)
        if self.early_final_ms is not None and self._silent_ms >= self.early_final_ms:
            self._tentative = tuple(self.stream.finish().hypotheses())
            self.push(TentativeTranscript(self._tentative, frame.at))
            return
        if self.interim_every_ms and frame.at >= self._next_interim:
            self._next_interim = frame.at + self.interim_every_ms / 1000
            partial = self.stream.partial()
            if partial and partial != self._last_partial:
                self._last_partial = partial
                self.push(InterimTranscript(partial, frame.at))


class NluProcessor(FrameProcessor):
    """Picks the reading both heard and understood best (ASR x NLU) and its intent.

    Tentative readings (taken in the customer's trailing silence) are understood at once
    and kept; when the same readings come back final, the answer is ready."""

    def __init__(self, parse: Callable[[str], dict[str, Any]]) -> None:
        super().__init__()
        self.parse = parse
        self._ready: tuple[tuple[Any, ...], tuple[Any, str, float, tuple[Any, ...], float]] \
            | None = None

    def _understand(self, readings: tuple[Any, ...]
                    ) -> tuple[Any, str, float, tuple[Any, ...], float]:
        t = time.perf_counter()
        parsed: dict[str, dict[str, Any]] = {}

        def parse(text: str) -> dict[str, Any]:
            parsed[text] = self.parse(text)
            return parsed[text]

        reading, intent, confidence = understand(readings, parse)
        entities = tuple(parsed.get(reading.text, {}).get("entities", ()))
        return reading, intent, confidence, entities, (time.perf_counter() - t) * 1000

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, TentativeTranscript):
            self._ready = (frame.readings, self._understand(frame.readings))
            return  # nothing is decided on it until the endpoint
        self.push(frame, direction)
        if not isinstance(frame, FinalTranscript):
            return
        if self._ready is not None and self._ready[0] is frame.readings:
            understood = self._ready[1]
        else:
            understood = self._understand(frame.readings)
        self._ready = None
        reading, intent, confidence, entities, nlu_ms = understood
        self.push(ParseResult(reading.text, intent, confidence, reading.confidence, entities,
                              frame.started_at, frame.last_voiced_at, frame.asr_ms, nlu_ms,
                              endpoint_at=frame.at,
                              heard=heard_as(reading, frame.readings, frame.phrases),
                              weakest_word=weakest_word(reading)))


class PolicyProcessor(FrameProcessor):
    """The script: what to say first, what to say to each reply, when to reprompt after
    silence, when to end. Tells the recogniser which phrases to expect (Listen, up)."""

    def __init__(self, policy: DialoguePolicy, phrases: Callable[[str], list[str]],
                 no_input_timeout_s: float, detect_machines: bool = False) -> None:
        super().__init__()
        self.policy = policy
        # With answering-machine detection the greeting waits for the verdict.
        self.detect_machines = detect_machines
        am, lang = policy.script.answering_machine, policy.script.language.split("-")[0]
        self.amd_phrases: tuple[str, ...] = () if am is None else (
            *am.machine_words(policy.script.language), *ANSWER_PHRASES.get(lang, ()))
        self.started = False
        self.machine = False
        self.phrases = phrases
        self.no_input_timeout_s = no_input_timeout_s
        self.bot_speaking = False
        self.user_speaking = False
        self.listening_since: float | None = None
        self.ending: Action | None = None
        self.ended = False
        self.machine_reason = ""

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, ParseResult):
            self._reply(frame)
            return
        self.push(frame, direction)
        if isinstance(frame, StartFrame):
            if not self.detect_machines:
                self._start()
            elif self.amd_phrases:  # what a machine or a person says on answering
                self.push(Listen(self.amd_phrases), UP)
        elif isinstance(frame, AmdResult) and not self.started and not self.machine:
            self._amd(frame)
        elif isinstance(frame, MachineReady) and self.machine and not self.ended:
            self._leave_message()
        elif not self.started:
            return  # nothing is acted on before the greeting (e.g. the callee's "여보세요")
        elif isinstance(frame, BotStoppedSpeaking):
            self.bot_speaking = False
            if self.ending is not None and not frame.interrupted:
                self._hang_up(self.ending)
            else:
                self.listening_since = frame.at
        elif isinstance(frame, UserStartedSpeaking):
            self.user_speaking = True
        elif isinstance(frame, UserStoppedSpeaking):
            self.user_speaking = False
        elif isinstance(frame, Dtmf) and not (self.ended or self.machine):
            self._key(frame)
        elif (isinstance(frame, InputAudio | Tick) and self.listening_since is not None
              and not (self.user_speaking or self.bot_speaking or self.ended)
              and frame.at - self.listening_since >= self.no_input_timeout_s):
            self.listening_since = None
            self._act(self.policy.on_no_input(), None)

    def _reply(self, frame: ParseResult) -> None:
        """A reply goes down (to the turn record) with where it was said and what the
        policy made of it (a confirmation, an irreversible action), then the answer."""
        node = self.policy.node
        if not self.started or self.ended or self.machine:
            self.push(replace(frame, node=node))  # e.g. the callee's "여보세요"
            return
        self.listening_since = None
        self.policy.fill_slots(frame.entities)
        action = self.policy.on_reply(Understanding(
            frame.text, frame.intent, frame.confidence, frame.asr_confidence, frame.heard,
            frame.weakest_word))
        self.push(replace(frame, node=node, confirmation=action.confirmation,
                          commits=action.commits))
        self._act(action, frame.last_voiced_at)

    def _start(self) -> None:
        self.started = True
        self._act(self.policy.start(), None)

    def _amd(self, frame: AmdResult) -> None:
        if frame.kind != "machine":
            self._start()
            return
        self.machine = True
        self.machine_reason = frame.reason
        am = self.policy.script.answering_machine
        if am is None or am.on_machine == "hangup":
            self._hang_up(Action(node="", text="", end=Disposition.MACHINE,
                                 reason=f"answering machine ({frame.reason}); hung up"))

    def _leave_message(self) -> None:
        am = self.policy.script.answering_machine
        assert am is not None
        self.started = True  # the robot speaks now; its last words end the call
        action = Action(node="voicemail", text=self.policy.script.render_text(
            am.voicemail, self.policy.values), end=Disposition.MACHINE,
            reason=f"answering machine ({self.machine_reason}); message left",
            kind="voicemail")
        self._act(action, None)

    def _key(self, frame: Dtmf) -> None:
        """A key press is a reply the robot is sure of: it stops talking and acts on it."""
        intent = self.policy.key_intent(frame.digit)
        if intent is None:
            return  # a key this node does not use: ignored, as a phone menu would
        if self.bot_speaking:
            self.push(Interruption(frame.at))
        self.listening_since = None
        text, node = f"DTMF {frame.digit}", self.policy.node
        action = self.policy.on_reply(Understanding(text, intent, 1.0, 1.0, KEY))
        self.push(ParseResult(text, intent, 1.0, 1.0, started_at=frame.at,
                              last_voiced_at=frame.at, node=node, endpoint_at=frame.at,
                              heard=KEY, confirmation=action.confirmation,
                              commits=action.commits))
        self._act(action, frame.at)

    def _act(self, action: Action, reply_to: float | None) -> None:
        self.ending = action if action.end else None
        if action.handoff:
            self.push(Escalated(action.reason or "handoff", action.node or None,
                                time.monotonic()))
        if action.text:
            self.bot_speaking = True
            self.push(Speak(action.text, action.node, action.kind, reply_to))
            if not action.end:
                phrases: list[str] = []
                for intent in self.policy.grammar_intents():
                    phrases += self.phrases(intent)
                phrases += self.policy.grammar_phrases()
                self.push(Listen(tuple(phrases), action.node), UP)
        elif action.end:
            self._hang_up(action)

    def _hang_up(self, action: Action) -> None:
        self.ended = True
        self.push(Hangup(str(action.end), action.reason, action.node or None, action.handoff))


_SENTENCE_END = re.compile(r"(?<=[.?!。？！])\s+")


def sentences(text: str) -> list[str]:
    """The pieces TtsProcessor renders one by one (and the prompt cache holds)."""
    return [s for s in _SENTENCE_END.split(text) if s]


class TtsProcessor(FrameProcessor):
    """Renders what the policy says, a sentence at a time, so the first sentence plays
    while the next one renders (a reprompt is an apology plus the question again)."""

    def __init__(self, render: Callable[[str], bytes]) -> None:
        super().__init__()
        self.render = render

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if not isinstance(frame, Speak):
            return
        for i, sentence in enumerate(sentences(frame.text)):
            t = time.perf_counter()
            pcm = self.render(sentence)
            self.push(SpeechAudio(pcm, sentence, frame.node, (time.perf_counter() - t) * 1000,
                                  frame.reply_to_voiced_at if i == 0 else None,
                                  continues=i > 0))


class TurnRecorder(FrameProcessor):
    """Writes the transcript as turns, with the metrics of each: for a customer turn the
    recogniser's and the NLU's time and the latency from the end of their speech to the
    first frame of the robot's reply; for a robot turn the TTS time and whether the
    customer interrupted it."""

    def __init__(self, add: Callable[..., Any], update: Callable[[Any], None],
                 bytes_per_ms: float = 32.0) -> None:
        super().__init__()
        self.add, self.update = add, update
        self.bytes_per_ms = bytes_per_ms  # of the speech PCM (16 kHz x 2 bytes: 32)
        self.answered_at = 0.0
        self._speak: Speak | None = None
        self._tts_ms = 0.0
        self._pcm_bytes = 0
        self._customer: Any = None  # the last customer turn, until the reply starts
        self._bot: Any = None  # the robot turn being spoken
        self._endpoint_at = 0.0

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if isinstance(frame, StartFrame):
            self.answered_at = frame.at
        elif isinstance(frame, ParseResult):
            self._customer = self.add(
                speaker="customer", node=frame.node, text=frame.text, intent=frame.intent,
                confidence=round(frame.confidence, 3),
                asr_confidence=round(frame.asr_confidence, 3), asr_ms=round(frame.asr_ms, 1),
                nlu_ms=round(frame.nlu_ms, 2),
                offset_ms=round((frame.started_at - self.answered_at) * 1000, 1),
                duration_ms=round((frame.last_voiced_at - frame.started_at) * 1000, 1),
                confirmation=frame.confirmation, commits=frame.commits)
            self._endpoint_at = frame.endpoint_at
        elif isinstance(frame, Speak):
            self._speak, self._tts_ms, self._pcm_bytes = frame, 0.0, 0
        elif isinstance(frame, SpeechAudio):
            self._tts_ms += frame.tts_ms
            self._pcm_bytes += len(frame.pcm)
        elif isinstance(frame, BotStartedSpeaking) and self._speak is not None:
            speak, self._speak = self._speak, None
            customer, self._customer = self._customer, None
            if customer is not None and speak.reply_to_voiced_at is not None:
                customer.latency_ms = round((frame.at - speak.reply_to_voiced_at) * 1000, 1)
                customer.processing_ms = round((frame.at - self._endpoint_at) * 1000, 1)
                self.update(customer)
            self._bot = self.add(
                speaker="bot", node=speak.node, text=speak.text, tts_ms=round(self._tts_ms, 1),
                offset_ms=round((frame.at - self.answered_at) * 1000, 1),
                duration_ms=round(self._pcm_bytes / self.bytes_per_ms, 1))
        elif isinstance(frame, Interruption) and self._bot is not None:
            self._bot.interrupted = True
            self.update(self._bot)
        elif isinstance(frame, BotStoppedSpeaking) and not frame.interrupted:
            self._bot = None


class AudioSink(Protocol):
    """Where the robot's speech goes: the call's audio port (dialer.sip.AudioPipe)."""

    first_tx_at: float | None
    last_tx_at: float | None

    def play(self, pcm: bytes) -> None: ...

    def clear(self) -> int: ...

    @property
    def playing(self) -> bool: ...

    def reset_tx_marks(self) -> None: ...


class AudioOutput(FrameProcessor):
    """Queues speech on the call's audio port and reports, up the pipeline, when the
    first frame of it actually left and when the last did; an Interruption empties the
    port at once."""

    def __init__(self, sink: AudioSink, drain_ms: float = 60.0) -> None:
        super().__init__()
        self.sink = sink
        self.drain_ms = drain_ms  # the bridge's own buffering after our last frame
        self.speaking = False
        self._announced = False
        self._text = ""
        # Sentences of a reply that came after the one before had played out: the caller
        # heard a hole in the middle of the robot's reply.
        self.underruns = 0

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, SpeechAudio):
            if frame.continues and self.sink.first_tx_at is not None \
                    and not self.sink.playing:
                self.underruns += 1
            if not self.speaking:
                self.sink.reset_tx_marks()
                self.speaking, self._announced, self._text = True, False, frame.text
            self.sink.play(frame.pcm)
        elif isinstance(frame, Interruption):
            self.sink.clear()
            if self.speaking:
                self.speaking = False
                self.push(BotStoppedSpeaking(frame.at, interrupted=True), UP)
        elif isinstance(frame, InputAudio | Tick) and self.speaking:
            self._poll(frame.at)
        self.push(frame, direction)

    def _poll(self, now: float) -> None:
        first = self.sink.first_tx_at
        if not self._announced and first is not None:
            self._announced = True
            self.push(BotStartedSpeaking(first, self._text), UP)
        last = self.sink.last_tx_at
        if (self._announced and not self.sink.playing and last is not None
                and (now - last) * 1000 >= self.drain_ms):
            self.speaking = False
            self.push(BotStoppedSpeaking(last), UP)
