"""One outbound call from INVITE to BYE: speak, listen, understand, decide, repeat.

Runs on the thread that placed the call (a Celery task or the CLI); pjsua2 only hands it
events and audio frames through queues.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from campaigns.refusals import Phrase
from dialer.call.books import Bookkeeper
from dialer.call.failures import not_connected
from dialer.call.transport import SipInput, sip_output
from dialer.conversation.amd import AmdConfig, AmdKeywords, AmdProcessor
from dialer.conversation.echo import EchoGuard
from dialer.conversation.frames import (
    CallerHungUp,
    EndFrame,
    ErrorFrame,
    Escalated,
    Frame,
    Hangup,
    LineDead,
    StartFrame,
    TurnSaid,
    TurnUpdated,
)
from dialer.conversation.outcomes import CallOutcome, Outcome, TurnRecord
from dialer.conversation.pipeline import Pipeline
from dialer.conversation.policy import DialoguePolicy, ResilientParser
from dialer.conversation.processors import (
    AsrProcessor,
    AudioOutput,
    BargeInProcessor,
    NluProcessor,
    PolicyProcessor,
    TtsProcessor,
    TurnRecorder,
    VadProcessor,
)
from dialer.conversation.script import Script
from dialer.conversation.turn_end import ReplyCompleteness, hesitation_phrases
from dialer.conversation.voice import PromptAudio
from dialer.handoff.bridge import AgentBridge, live_turn
from dialer.handoff.desk import AgentConnector, HandoffDesk
from dialer.telephony.call import SipCall, SipError
from dialer.telephony.media import CLOCK_RATE, FRAME_MS
from dialer.telephony.sip import SipAccount, UserAgent
from voices.recognizer import SpeechRecognizer
from voices.tts import TtsEngine
from voices.turn import TurnModel
from voices.vad import VadConfig

log = logging.getLogger(__name__)


class IntentParser(Protocol):
    def parse(self, text: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SessionConfig:
    ring_timeout_s: float = 25.0
    # pjsip retransmits an unanswered INVITE at 0.5, 1, 2 and 4 s; a target that has sent
    # not even "100 Trying" by then is down or the address is wrong, not a person ringing.
    no_response_s: float = 6.0
    max_call_s: float = 300.0
    vad: VadConfig = field(default_factory=VadConfig)
    # What ends the caller's reply: `silence` (vad.end_silence_ms of it), `words` (the
    # recogniser's early reading: a reply that stops on a filler or a word that leads
    # on is waited for, up to vad.max_pause_ms; dialer.conversation.turn_end) or
    # `model` (Smart Turn on the audio, voices/turn.py).
    turn_end: str = "silence"
    # Without answering-machine detection, a silent callee is greeted after this long;
    # one who says hello first is greeted once it is heard (0: greet at once).
    opening_wait_s: float = 1.0
    # Speech over the robot shorter than this is a backchannel ("네", "음") and is ignored;
    # longer stops the robot.
    barge_in_min_ms: float = 400.0
    # Trailing silence after which the recogniser's final pass and the NLU run ahead of
    # the endpoint (None: only at the endpoint).
    asr_early_final_ms: float | None = 150.0
    # Take the robot's own voice out of what it hears (dialer.conversation.echo), so that a line
    # that echoes never makes it interrupt itself or answer itself.
    echo_guard: bool = True
    # An answered call from which no RTP arrives for this long is dead air (one-way audio,
    # a line that went dead): it ends with its own disposition instead of being talked at.
    no_rtp_s: float = 8.0
    # Storage jobs (turns, the answer time) wait out a database outage this long.
    db_outage_s: float = 120.0

    @property
    def no_response_wait_s(self) -> float:
        return min(self.no_response_s, self.ring_timeout_s)


class CallSession:
    def __init__(self, ua: UserAgent, account: SipAccount, asr: SpeechRecognizer, nlu: IntentParser,
                 tts: TtsEngine, script: Script, grammar_phrases: Callable[[str], list[str]],
                 config: SessionConfig | None = None,
                 on_turn: Callable[[TurnRecord], None] | None = None,
                 on_answer: Callable[[], None] | None = None,
                 handoff: HandoffDesk | None = None) -> None:
        self.ua, self.account, self.asr, self.nlu, self.tts = ua, account, asr, nlu, tts
        # Where a handed-off call finds a person; None: the call just ends as "handoff".
        self.handoff = handoff
        self._connector: AgentConnector | None = None
        self.script = script
        self.grammar_phrases = grammar_phrases  # intent -> example phrases
        self.cfg = config or SessionConfig()
        self.on_turn = on_turn or (lambda t: None)
        self.on_answer = on_answer or (lambda: None)
        self._turns: list[TurnRecord] = []
        self._voice = PromptAudio(tts, CLOCK_RATE)
        self._nlu = ResilientParser(nlu)

    # -- the transcript ---------------------------------------------------------
    def _add_turn(self, **kw: Any) -> TurnRecord:
        return self._said(TurnRecord(seq=0, **kw))

    def _said(self, t: TurnRecord) -> TurnRecord:
        """A turn of this call (from the pipeline's TurnRecorder, or said to an agent
        after a handoff): numbered, stored, and shown live on the agent's screen."""
        t.seq = len(self._turns) + 1
        self._turns.append(t)
        self._books.submit(self.on_turn, t)
        if self._connector is not None and self.handoff is not None:
            # The agent's screen pop follows the call live.
            self._books.submit(self.handoff.acd.add_transcript, self.handoff.call_id,
                               live_turn(t))
        return t

    # -- the call ------------------------------------------------------------------
    def run(self, uri: str, fields: dict[str, Any], recording: Path | None = None) -> CallOutcome:
        self.ua.register_thread()
        self._voice.prerender(self.script, fields, handoff=self.handoff is not None)
        self._books = Bookkeeper(self.cfg.db_outage_s)
        try:
            call = self.ua.make_call(self.account, uri, recording=recording)
            try:
                return self._run(call, fields, recording)
            finally:
                call.hangup_quietly()
                call.disconnected.wait(5)
                call.release()
        finally:
            self._books.close()  # every turn is stored before the outcome is

    def _wait_answer(self, call: SipCall) -> bool:
        start = time.monotonic()
        deadline = start + self.cfg.ring_timeout_s
        silent_deadline = start + self.cfg.no_response_wait_s
        media = confirmed = False
        while not (media and confirmed):
            now = time.monotonic()
            wait_until = deadline if call.peer_responded.is_set() else silent_deadline
            try:
                ev = call.events.get(timeout=max(0.01, min(0.25, wait_until - now)))
            except queue.Empty:
                ev = None
            if ev is not None:
                media |= ev.kind == "media"
                confirmed |= ev.kind == "state" and ev.state == "CONFIRMED"
                if ev.kind == "state" and ev.state == "DISCONNECTED":
                    return False
            if time.monotonic() >= wait_until and not (media and confirmed):
                call.hangup_quietly()  # CANCEL while ringing -> 487
                call.disconnected.wait(5)
                return False
        return True

    def _run(self, call: SipCall, fields: dict[str, Any], recording: Path | None) -> CallOutcome:
        if not self._wait_answer(call):
            return not_connected(call, self.cfg.no_response_wait_s)
        self._books.submit(self.on_answer)
        answered_at = time.monotonic()
        line_codec(call)  # asked while the stream is up: it is gone once the call ends
        policy = DialoguePolicy(self.script, fields)
        ended: list[Frame] = []
        pipeline, audio_out, echo = self._pipeline(call, policy, ended)
        pipeline.push(StartFrame(answered_at))
        outcome = self._converse(call, pipeline, policy, ended, answered_at)
        if self._connector is not None:
            outcome = self._with_agent(call, outcome, answered_at)
        if outcome.disposition != Outcome.HUNG_UP:
            time.sleep(0.06)  # let the last frames leave the jitter of the bridge
        outcome.answered = True
        outcome.sip_status = 200
        outcome.sip_reason = "OK"
        outcome.duration_s = round(time.monotonic() - answered_at, 2)
        outcome.turns = list(self._turns)
        outcome.recording = str(recording) if recording else None
        if echo is not None and echo.canceller.searches:
            _log_echo(echo)
        outcome.underruns = audio_out.underruns
        outcome.late_frames = call.audio.late_frames
        # Frames of the customer's audio the jitter buffer had nothing for: concealed or
        # silent gaps the recogniser heard instead of speech.
        jitter = call.jitter_stats()
        outcome.heard_gaps = int(jitter.get("empty", 0))
        log.info("receive jitter buffer: %s", jitter)
        outcome.codec = line_codec(call)
        outcome.slots = dict(policy.slots)
        return outcome

    def _pipeline(self, call: SipCall, policy: DialoguePolicy, ended: list[Frame]
                  ) -> tuple[Pipeline, AudioOutput, EchoGuard | None]:
        """The call's processors, in the order a frame from the line meets them; frames
        that end the conversation or hand it off are collected in `ended`."""
        am = self.script.answering_machine
        amd = [AmdProcessor(AmdConfig(max_human_speech_s=am.max_human_speech_s,
                                      initial_silence_s=am.initial_silence_s),
                            CLOCK_RATE, FRAME_MS)] if am is not None else []
        echo = EchoGuard(call.audio.sent_before, CLOCK_RATE, FRAME_MS) \
            if self.cfg.echo_guard else None
        words = ReplyCompleteness(self.script.language) if self.cfg.turn_end == "words" \
            else None
        turn = words if words is not None else TurnModel() \
            if self.cfg.turn_end == "model" else None
        pipeline = Pipeline([
            *([echo] if echo is not None else []),
            VadProcessor(CLOCK_RATE, FRAME_MS, self.cfg.vad, turn),
            *amd,
            BargeInProcessor(self.cfg.barge_in_min_ms, FRAME_MS),
            AsrProcessor(self.asr, early_final_ms=self.cfg.asr_early_final_ms,
                         narrowband=lambda: narrowband(call)),
            *([words] if words is not None else []),
            *([AmdKeywords(am.machine_words(self.script.language))] if am else []),
            NluProcessor(self._nlu.parse),
            PolicyProcessor(policy, self.grammar_phrases,
                            self.script.settings.no_input_timeout_s,
                            detect_machines=am is not None,
                            hesitations=hesitation_phrases(self.script.language)
                            if words is not None else (),
                            opening_wait_s=self.cfg.opening_wait_s),
            TtsProcessor(self._voice.render),
            TurnRecorder(CLOCK_RATE * 2 / 1000),
            audio_out := sip_output(call),
        ], on_down=lambda f: self._down(f, ended))
        return pipeline, audio_out, echo

    def _down(self, frame: Frame, ended: list[Frame]) -> None:
        """A frame that left the pipeline: the transcript is kept and stored at once;
        what ends the conversation or hands it off waits in `ended` for the loop."""
        if isinstance(frame, TurnSaid):
            self._said(frame.turn)
        elif isinstance(frame, TurnUpdated):
            self._books.submit(self.on_turn, frame.turn)  # stored again, new figures
        elif isinstance(frame, Hangup | ErrorFrame | Escalated):
            ended.append(frame)

    def _converse(self, call: SipCall, pipeline: Pipeline, policy: DialoguePolicy,
                  ended: list[Frame], answered_at: float) -> CallOutcome:
        """Feed the line into the pipeline, frame by frame, until the call ends: the
        customer hangs up, the line goes dead, the script ends, an agent answers or the
        call runs too long."""
        line = SipInput(call, self.cfg.no_rtp_s, answered_at)
        while True:
            for frame in line.read():
                pipeline.push(frame)
                if isinstance(frame, LineDead):
                    return CallOutcome(
                        disposition=Outcome.DEAD_AIR, end_node=policy.node,
                        reason=Phrase("no audio (RTP) from the callee for {seconds:.0f}s: "
                                      "one-way audio or a dead line", seconds=frame.silent_s))
                if isinstance(frame, CallerHungUp):
                    return CallOutcome(disposition=Outcome.HUNG_UP, end_node=policy.node,
                                       reason=Phrase("customer hung up"))
            outcome = self._ended(ended)
            conn = self._connector
            if outcome is None and conn is not None and conn.finished.is_set() \
                    and conn.result.result == "connected":
                # The agent answered while the robot still said "connecting you": the
                # robot stops there, the customer hears the agent at once.
                pipeline.push(EndFrame(time.monotonic(), "agent answered"))
                return CallOutcome(disposition=Outcome.HANDOFF, handoff=True,
                                   reason=conn.reason, end_node=policy.node)
            if outcome is None and time.monotonic() - answered_at > self.cfg.max_call_s:
                outcome = CallOutcome(disposition=Outcome.FAILED, end_node=policy.node,
                                      reason=Phrase("call longer than {seconds:.0f}s",
                                                    seconds=self.cfg.max_call_s))
            if outcome is not None:
                return outcome

    def _ended(self, ended: list[Frame]) -> CallOutcome | None:
        """What the frames the pipeline sent down this round say: a handoff begun, the
        conversation over, or an error logged."""
        outcome = None
        for frame in ended:
            if isinstance(frame, Escalated):
                self._escalate(frame)
            elif isinstance(frame, Hangup):
                outcome = CallOutcome(disposition=frame.disposition, reason=frame.reason,
                                      handoff=frame.handoff, end_node=frame.node)
            else:
                log.error("call pipeline: %s", frame)
        ended.clear()
        return outcome

    # -- handoff ---------------------------------------------------------------------
    def _escalate(self, frame: Escalated) -> None:
        """At the decision (the robot is still saying it connects): seek an agent now."""
        if self.handoff is None or self._connector is not None:
            return
        s = self.script.settings
        self._connector = AgentConnector(
            self.handoff, self.ua, self.account, s.handoff_wait_s, s.handoff_skills,
            frame.reason, [live_turn(t) for t in self._turns],
            transfer=s.handoff_transfer).start()


    def _with_agent(self, call: SipCall, outcome: CallOutcome,
                    answered_at: float) -> CallOutcome:
        """After the robot's last words of a handoff: hold, then the agent or a callback
        (dialer.handoff.bridge)."""
        assert self._connector is not None and self.handoff is not None
        return AgentBridge(self.handoff, self._connector, self.ua, self.account, self.asr,
                           self.cfg.vad, self.script, self._voice.render, self._add_turn,
                           self.cfg.max_call_s).finish(call, outcome, answered_at)


def place(ua: UserAgent, account: SipAccount, uri: str, session: CallSession,
          fields: dict[str, Any], recording: Path | None) -> CallOutcome:
    """Run one call; SIP errors that happen before any INVITE become a failed outcome."""
    try:
        return session.run(uri, fields, recording)
    except SipError as exc:
        return CallOutcome(disposition=Outcome.FAILED, reason=str(exc))


def _log_echo(echo: EchoGuard) -> None:
    ec = echo.canceller
    log.info("echo guard: echo paths %s ms (gain %.2f); %d frames cancelled, %d muted; "
             "%d moves, the first at frames %s", [round(d * 1000 / CLOCK_RATE)
                                                  for d, _ in ec.known],
             ec.gain, ec.frames_cancelled, ec.frames_muted, len(ec.paths),
             [n for n, _ in ec.paths[:5]])


def line_codec(call: SipCall) -> str | None:
    """The codec the call's line negotiated ("PCMU/8000"), kept once known; None before
    media flowed. From a registered thread (the call's)."""
    if call.line_codec is None:
        call.line_codec = call.codec()
    return call.line_codec


def narrowband(call: SipCall) -> bool:
    """Whether the call's codec carries only the telephone band (G.711 at 8 kHz); kept
    once known (asked at each utterance, from the call's thread)."""
    codec = line_codec(call)
    return codec is not None and codec.endswith("/8000")
