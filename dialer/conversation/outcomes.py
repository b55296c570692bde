"""How a call ends, in the conversation's own words: what a script's `end:` may say and
what a call reports (its turns and its outcome, as plain records). The campaign database keeps its own vocabulary
(campaigns.models.Disposition), which maps each of these to a disposition of the same
name and adds the dispatcher's own (blocked, interrupted)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Outcome(enum.StrEnum):
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    CALLBACK = "callback"
    HANDOFF = "handoff"  # given to a live agent
    OPT_OUT = "opt_out"
    NO_INPUT = "no_input"
    HUNG_UP = "hung_up"
    DEAD_AIR = "dead_air"  # answered, but no audio came back (one-way audio, a dead line)
    MACHINE = "machine"  # an answering machine took the call (message left or not)
    # Never answered; from the SIP status (dialer/call/session.py maps them).
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    DECLINED = "declined"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"  # the network says it does not exist (404, 484, 604)


@dataclass
class TurnRecord:
    seq: int
    speaker: str  # "bot" | "customer"
    node: str | None
    text: str
    intent: str | None = None
    confidence: float | None = None
    asr_confidence: float | None = None
    latency_ms: float | None = None
    asr_ms: float | None = None
    nlu_ms: float | None = None
    offset_ms: float | None = None
    duration_ms: float | None = None
    # Customer turns: from the endpoint decision to the reply's first frame (the latency
    # minus the trailing silence the endpoint waited for).
    processing_ms: float | None = None
    tts_ms: float | None = None  # bot turns: rendering time (0 when cached)
    interrupted: bool = False  # bot turns: the customer barged in
    # Customer turns: "asked" when the robot asked them to confirm the irreversible
    # action this reply would take, "yes" / "no" / "unclear" on their answer; `commits`:
    # the action taken on this reply ("opt_out": the number goes on the DNC list).
    confirmation: str | None = None
    commits: str | None = None


@dataclass
class CallOutcome:
    disposition: str
    sip_status: int | None = None
    sip_reason: str = ""
    reason: str | None = None
    handoff: bool = False
    end_node: str | None = None
    answered: bool = False
    duration_s: float = 0.0
    turns: list[TurnRecord] = field(default_factory=list)
    recording: str | None = None
    # Gaps inside a reply: a sentence's audio was not ready when the one before it had
    # played out (the robot's own playback buffer ran dry).
    underruns: int = 0
    late_frames: int = 0  # robot speech frames the media clock took late (jitter)
    # Frames of the customer's audio that had not arrived when the media clock took them
    # (the receive jitter buffer was empty): concealed or silent holes in what was heard.
    heard_gaps: int = 0
    # The audio codec the line negotiated ("PCMU/8000", "G722/16000"); None when no media
    # flowed. The recogniser understands less over G.711's 8 kHz than over G.722.
    codec: str | None = None
    slots: dict[str, str] = field(default_factory=dict)  # entities the script keeps
    # Handoff to a person (dialer.handoff.desk): connected | abandoned | failed, the agent,
    # and when (wall clock, UTC) the robot decided, the agent phone rang and answered;
    # a callback promised when no agent came.
    handoff_result: str | None = None
    agent: str | None = None
    handoff_at: datetime | None = None
    agent_ringing_at: datetime | None = None
    agent_connected_at: datetime | None = None
    callback_at: datetime | None = None
