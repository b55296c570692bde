"""Everything that flows through a live call, as small frozen dataclasses.

Frames travel down the pipeline (customer audio -> VAD -> ASR -> NLU -> policy -> TTS ->
the call's audio out) or up it (the audio out telling everyone that the robot started or
stopped speaking; the policy telling the recogniser what to listen for). Times (`at`) are
`time.monotonic()` seconds, the clock the SIP audio port stamps its frames with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dialer.conversation.outcomes import TurnRecord


@dataclass(frozen=True)
class Frame:
    """Base of every frame."""


@dataclass(frozen=True)
class UrgentFrame(Frame):
    """A frame that jumps the pipeline's queue: it must act before queued work, and is
    never dropped (dialer.conversation.pipeline)."""


# -- lifecycle -----------------------------------------------------------------------
@dataclass(frozen=True)
class StartFrame(Frame):
    """The call was answered; processors start their work."""

    at: float


@dataclass(frozen=True)
class EndFrame(UrgentFrame):
    """The call is over (hung up by either side); processors drop what they hold."""

    at: float
    reason: str = ""


@dataclass(frozen=True)
class Tick(Frame):
    """The clock, pushed when no audio arrived for a while (timers must still fire)."""

    at: float


# -- audio ---------------------------------------------------------------------------
@dataclass(frozen=True)
class InputAudio(Frame):
    """20 ms of the customer's audio (16-bit mono PCM), stamped when it arrived."""

    pcm: bytes
    at: float
    voiced: bool | None = None  # set by the VAD


@dataclass(frozen=True)
class UserStartedSpeaking(Frame):
    at: float
    preroll: tuple[bytes, ...] = ()  # audio from just before the start, for the recogniser


@dataclass(frozen=True)
class UserStoppedSpeaking(Frame):
    at: float  # when the endpoint was decided
    started_at: float
    last_voiced_at: float  # end of speech: turn latency counts from here
    truncated: bool = False  # closed by the maximum utterance length


@dataclass(frozen=True)
class BotStartedSpeaking(Frame):
    at: float  # when the first frame of the reply left
    text: str = ""


@dataclass(frozen=True)
class BotStoppedSpeaking(Frame):
    at: float
    interrupted: bool = False


@dataclass(frozen=True)
class Interruption(UrgentFrame):
    """Barge-in: drop queued speech and listen. Never dropped itself."""

    at: float
    spoken_ms: float = 0.0  # how long the customer had spoken over the robot


# -- understanding -------------------------------------------------------------------
@dataclass(frozen=True)
class Listen(Frame):
    """What the customer is expected to say now: grammar phrases for the recogniser."""

    phrases: tuple[str, ...]
    node: str | None = None


@dataclass(frozen=True)
class InterimTranscript(Frame):
    text: str
    at: float


@dataclass(frozen=True)
class TentativeTranscript(Frame):
    """The recogniser's final readings taken early, in the customer's trailing silence,
    so that understanding them is done by the time the endpoint comes. The same
    `readings` object follows in the FinalTranscript unless the customer spoke on."""

    readings: tuple[Any, ...]
    at: float
    phrases: frozenset[str] = frozenset()  # the grammar, as in FinalTranscript


@dataclass(frozen=True)
class FinalTranscript(Frame):
    readings: tuple[Any, ...]  # voices.asr.AsrResult: the best first, then alternatives
    started_at: float
    last_voiced_at: float
    asr_ms: float
    at: float
    # The grammar the recogniser was restricted to (empty: none, or unknown): a grammar
    # reading that is none of these phrases whole was forced (dialer.conversation.confirm).
    phrases: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ParseResult(Frame):
    """The reading the robot both heard and understood best, with its intent."""

    text: str
    intent: str
    confidence: float  # NLU
    asr_confidence: float
    entities: tuple[dict[str, Any], ...] = ()
    started_at: float = 0.0
    last_voiced_at: float = 0.0
    asr_ms: float = 0.0
    nlu_ms: float = 0.0
    node: str | None = None  # the script node it answered (set by the policy)
    endpoint_at: float = 0.0  # when the VAD decided the customer had finished
    heard: str = "grammar"  # how the reading was obtained (dialer.conversation.confirm.HEARD)
    weakest_word: float = 1.0  # ASR confidence of the reading's least sure word
    # No reading of the utterance, in the grammar or the open vocabulary, holds a word:
    # a noise the VAD let through, not a reply that was not understood.
    noise: bool = False
    # Set by the policy: a confirmation asked on this reply or its answer, and the
    # irreversible action taken on it (TurnRecord.confirmation / .commits).
    confirmation: str | None = None
    commits: str | None = None


@dataclass(frozen=True)
class Dtmf(Frame):
    digit: str
    at: float


# -- the robot's side ----------------------------------------------------------------
@dataclass(frozen=True)
class Speak(Frame):
    """Say `text` (as the script's node `node`); `then_end` closes the call after it."""

    text: str
    node: str | None = None
    kind: str = "node"  # node | fallback | no_input | no_match
    reply_to_voiced_at: float | None = None  # end of the customer speech it answers


@dataclass(frozen=True)
class SpeechAudio(Frame):
    """Rendered speech for the audio out."""

    pcm: bytes
    text: str
    node: str | None = None
    tts_ms: float = 0.0
    reply_to_voiced_at: float | None = None
    continues: bool = False  # a later sentence of the same reply: must follow without a gap


@dataclass(frozen=True)
class Handoff(Frame):
    reason: str
    node: str | None = None


@dataclass(frozen=True)
class Hangup(Frame):
    """The robot ends the call with this disposition once it has finished speaking."""

    disposition: str
    reason: str | None = None
    node: str | None = None
    handoff: bool = False


@dataclass(frozen=True)
class Escalated(Frame):
    """The robot decided to hand the call to a person (sent at the decision, while it is
    still saying so, so that an agent is sought at once)."""

    reason: str
    node: str | None
    at: float


@dataclass(frozen=True)
class ErrorFrame(Frame):
    message: str
    retryable: bool = False
    details: dict[str, Any] = field(default_factory=dict)


# -- answering machines ----------------------------------------------------------------
@dataclass(frozen=True)
class AmdResult(Frame):
    """Who answered: "human", "machine", "screener" (a phone-screening assistant,
    greeted as a person) or "unknown" (silence: treated as a person)."""

    kind: str
    reason: str
    at: float


@dataclass(frozen=True)
class AmdHint(Frame):
    """Sent up by the recogniser's side: what was said before the verdict sounds like a
    machine ("메시지를 남겨 주세요")."""

    kind: str
    reason: str
    at: float


@dataclass(frozen=True)
class MachineReady(Frame):
    """The answering machine is recording now: its beep ended (or its greeting did)."""

    at: float
    beep: bool


# -- the line ------------------------------------------------------------------------
@dataclass(frozen=True)
class CallerHungUp(EndFrame):
    """The callee hung up."""


@dataclass(frozen=True)
class LineDead(EndFrame):
    """No audio arrives from the callee any more (one-way audio, a line gone dead)."""

    silent_s: float = 0.0


# -- the transcript ------------------------------------------------------------------
@dataclass(frozen=True)
class TurnSaid(Frame):
    """A turn of the conversation, written down as it happened (TurnRecorder): for the
    call's transcript and its storage."""

    turn: TurnRecord


@dataclass(frozen=True)
class TurnUpdated(Frame):
    """A turn already written down got new figures (its latency, an interruption)."""

    turn: TurnRecord
