"""One outbound call from INVITE to BYE: speak, listen, understand, decide, repeat.

Runs on the thread that placed the call (a Celery task or the CLI); pjsua2 only hands it
events and audio frames through queues.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from redis import RedisError

from campaigns.db import retry_outage
from campaigns.models import Disposition
from dialer.acd import AcdError
from dialer.amd import AmdConfig, AmdKeywords, AmdProcessor
from dialer.echo import EchoGuard
from dialer.frames import (
    Dtmf,
    EndFrame,
    ErrorFrame,
    Escalated,
    Frame,
    Hangup,
    InputAudio,
    StartFrame,
    Tick,
)
from dialer.handoff import (
    AgentConnector,
    HandoffDesk,
    Transcriber,
    callback_phrase,
    hang_up_leg,
    hold_music,
    utc,
)
from dialer.pipeline import Pipeline
from dialer.policy import DialoguePolicy, scoped_parser
from dialer.processors import (
    AsrProcessor,
    AudioOutput,
    BargeInProcessor,
    NluProcessor,
    PolicyProcessor,
    TtsProcessor,
    TurnRecorder,
    VadProcessor,
    sentences,
)
from dialer.script import Script
from dialer.sip import CLOCK_RATE, FRAME_BYTES, FRAME_MS, SipAccount, SipCall, SipError, UserAgent
from voices.asr import VoskAsr
from voices.tts import TtsEngine
from voices.vad import VadConfig

log = logging.getLogger(__name__)


class IntentParser(Protocol):
    def parse(self, text: str) -> dict[str, Any]: ...


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


def trunk_host(uri: str) -> str:
    """The host[:port] a call went to, without its user part (the callee's number)."""
    return uri.rsplit("@", 1)[-1].split(";", 1)[0].removeprefix("sip:").removeprefix("sips:")


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
    slots: dict[str, str] = field(default_factory=dict)  # entities the script keeps
    # Handoff to a person (dialer.handoff): connected | abandoned | failed, the agent,
    # and when (wall clock, UTC) the robot decided, the agent phone rang and answered;
    # a callback promised when no agent came.
    handoff_result: str | None = None
    agent: str | None = None
    handoff_at: datetime | None = None
    agent_ringing_at: datetime | None = None
    agent_connected_at: datetime | None = None
    callback_at: datetime | None = None


@dataclass(frozen=True)
class SessionConfig:
    ring_timeout_s: float = 25.0
    # pjsip retransmits an unanswered INVITE at 0.5, 1, 2 and 4 s; a target that has sent
    # not even "100 Trying" by then is down or the address is wrong, not a person ringing.
    no_response_s: float = 6.0
    max_call_s: float = 300.0
    vad: VadConfig = field(default_factory=VadConfig)
    # Speech over the robot shorter than this is a backchannel ("네", "음") and is ignored;
    # longer stops the robot.
    barge_in_min_ms: float = 400.0
    # Trailing silence after which the recogniser's final pass and the NLU run ahead of
    # the endpoint (None: only at the endpoint).
    asr_early_final_ms: float | None = 150.0
    # Take the robot's own voice out of what it hears (dialer.echo), so that a line
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


def disposition_for_failure(status: int) -> str:
    """SIP final status of a call that never connected -> disposition (and so whether
    the campaign calls again: campaigns.models.RETRYABLE_DISPOSITIONS)."""
    if status in (486, 600):
        return Disposition.BUSY
    if status == 603:
        return Disposition.DECLINED
    if status in (408, 480, 487):
        return Disposition.NO_ANSWER
    if status in (404, 410, 484, 604):
        return Disposition.INVALID_NUMBER
    return Disposition.FAILED


# What a final status from the peer means for the people reading the report (the
# status and the peer's own words are stored beside it).
_FAILURE_REASONS = {
    403: "the trunk refused the call: check its credentials and the caller ID",
    404: "the number does not exist: it is not called again",
    410: "the number is no longer in service: it is not called again",
    484: "the number is incomplete: it is not called again",
    604: "the number does not exist anywhere: it is not called again",
    480: "the callee is not reachable now: called again later",
    486: "busy: called again later",
    488: "no codec in common with the far end (the robot offers G.722, PCMU, PCMA): check "
         "the trunk's codecs",
    606: "the far end accepts none of the robot's media (G.722, PCMU, PCMA)",
    503: "the trunk or the far end is overloaded or down: called again later",
    603: "the callee declined the call: it is not called again",
}


def failure_reason(status: int, reason: str) -> str | None:
    """A sentence for the report on why a call that never connected ended."""
    why = _FAILURE_REASONS.get(status)
    if why is None and status >= 500:
        why = "the trunk or the far end failed: called again later"
    return f"{status} {reason or ''}".strip() + f": {why}" if why else None


class _Bookkeeper:
    """Runs storage callbacks (turns, answer time) in order on their own thread, so a slow
    database never holds up the conversation; `close()` waits until all are done."""

    def __init__(self, outage_s: float = 120.0) -> None:
        self._outage_s = outage_s
        self._jobs: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = \
            queue.Queue()
        self._thread = threading.Thread(target=self._work, name="call-bookkeeping",
                                         daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._jobs.put((fn, args))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args = job
            what = getattr(fn, "__name__", str(fn))
            try:
                # In order: a job waits out a database outage before the next one runs.
                retry_outage(fn, *args, deadline_s=self._outage_s, what=f"call's {what}")
            except Exception:  # storage trouble must not kill a live call
                # Which turn, never its words (logs are not for customers' speech).
                log.exception("call bookkeeping failed (%s); what it stored is lost: %s",
                              what, ", ".join(f"turn {a.seq}" if hasattr(a, "seq")
                                              else type(a).__name__ for a in args) or "-")

    def close(self, timeout: float | None = None) -> None:
        self._jobs.put(None)
        self._thread.join(self._outage_s + 30 if timeout is None else timeout)


class CallSession:
    def __init__(self, ua: UserAgent, account: SipAccount, asr: VoskAsr, nlu: IntentParser,
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
        self._pcm: dict[str, bytes] = {}

    # -- helpers -------------------------------------------------------------------
    def _speech(self, text: str) -> bytes:
        if text not in self._pcm:
            self._pcm[text] = self.tts.synthesize(text, CLOCK_RATE)
        return self._pcm[text]

    def _prerender(self, fields: dict[str, Any]) -> None:
        # Every prompt this contact can hear is ready before the phone rings, in the
        # sentence pieces the TTS processor plays.
        s = self.script
        texts = [s.render(name, fields) for name in s.nodes]
        texts += [s.render_text(p, fields) for p in (s.settings.fallback_prompt,
                                                      s.settings.no_input_prompt)]
        texts += [s.render_text(text, fields) for _, text in s.confirm_texts()]
        if self.handoff is not None:
            texts.append(s.render_text(s.settings.hold_prompt, fields))
        if s.answering_machine is not None and s.answering_machine.voicemail:
            texts.append(s.render_text(s.answering_machine.voicemail, fields))
        for text in texts:
            for sentence in sentences(text):
                self._speech(sentence)

    def _add_turn(self, **kw: Any) -> TurnRecord:
        t = TurnRecord(seq=len(self._turns) + 1, **kw)
        self._turns.append(t)
        self._books.submit(self.on_turn, t)
        if self._connector is not None and self.handoff is not None:
            # The agent's screen pop follows the call live.
            self._books.submit(self.handoff.acd.add_transcript, self.handoff.call_id,
                               _live_turn(t))
        return t

    def _update_turn(self, turn: TurnRecord) -> None:
        self._books.submit(self.on_turn, turn)  # stored again with its new figures

    # After an NLU failure (an external server down) it is not asked again for this long:
    # a turn parses several readings, and each would otherwise wait out the timeout.
    NLU_RETRY_AFTER_S = 10.0
    _nlu_down_until = 0.0

    def _parse(self, text: str) -> dict[str, Any]:
        """The NLU's answer; when the NLU fails, "not understood": the policy asks again
        and, as the campaign's rule says, hands the call to a person; the call goes on."""
        not_understood = {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.0}}
        if time.monotonic() < self._nlu_down_until:
            return not_understood
        try:
            return scoped_parser(self.nlu)(text)
        except Exception as exc:  # noqa: BLE001  (an NLU server down mid-call)
            self._nlu_down_until = time.monotonic() + self.NLU_RETRY_AFTER_S
            log.error("NLU failed on %r: %s", text, exc)
            return not_understood

    # -- the call ------------------------------------------------------------------
    def run(self, uri: str, fields: dict[str, Any], recording: Path | None = None) -> CallOutcome:
        self.ua.register_thread()
        self._prerender(fields)
        self._books = _Bookkeeper(self.cfg.db_outage_s)
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
            if not call.peer_responded.is_set():
                return CallOutcome(
                    disposition=Disposition.FAILED, sip_status=408, sip_reason="No response",
                    # The trunk's host, never the callee's number (analysts read it).
                    reason=f"no SIP response from {trunk_host(call.uri)} within "
                           f"{self.cfg.no_response_wait_s:.0f}s; check "
                           "that the trunk is up and DIALER_SIP_TRUNK (host:port) is right")
            status = call.status or 408
            return CallOutcome(disposition=disposition_for_failure(status), sip_status=status,
                               sip_reason=call.reason, reason=failure_reason(status, call.reason))
        self._books.submit(self.on_answer)
        answered_at = time.monotonic()
        policy = DialoguePolicy(self.script, fields)
        ended: list[Frame] = []
        am = self.script.answering_machine
        amd = [AmdProcessor(AmdConfig(max_human_speech_s=am.max_human_speech_s,
                                      initial_silence_s=am.initial_silence_s),
                            CLOCK_RATE, FRAME_MS)] if am is not None else []
        echo = [EchoGuard(call.audio.sent_before, CLOCK_RATE, FRAME_MS)] \
            if self.cfg.echo_guard else []
        pipeline = Pipeline([
            *echo,
            VadProcessor(CLOCK_RATE, FRAME_MS, self.cfg.vad),
            *amd,
            BargeInProcessor(self.cfg.barge_in_min_ms, FRAME_MS),
            AsrProcessor(self.asr, early_final_ms=self.cfg.asr_early_final_ms),
            *([AmdKeywords(am.machine_words(self.script.language))] if am else []),
            NluProcessor(self._parse),
            PolicyProcessor(policy, self.grammar_phrases,
                            self.script.settings.no_input_timeout_s,
                            detect_machines=am is not None),
            TtsProcessor(self._speech),
            TurnRecorder(self._add_turn, self._update_turn, CLOCK_RATE * 2 / 1000),
            audio_out := AudioOutput(call.audio),
        ], on_down=lambda f: ended.append(f) if isinstance(f, Hangup | ErrorFrame | Escalated)
            else None)
        outcome: CallOutcome | None = None
        pipeline.push(StartFrame(answered_at))
        rx = call.audio.rx
        rtp_seen, rtp_at, rtp_checked = -1, answered_at, 0.0
        while outcome is None:
            now = time.monotonic()
            if now - rtp_checked >= 1.0:
                rtp_checked = now
                packets = call.rtp_packets_received()
                if packets is not None and packets != rtp_seen:
                    rtp_seen, rtp_at = packets, now
                elif now - rtp_at >= self.cfg.no_rtp_s:
                    pipeline.push(EndFrame(now, "no RTP"))
                    outcome = CallOutcome(
                        disposition=Disposition.DEAD_AIR, end_node=policy.node,
                        reason=f"no audio (RTP) from the callee for {self.cfg.no_rtp_s:.0f}s: "
                               "one-way audio or a dead line")
                    break
            if call.disconnected.is_set():
                pipeline.push(EndFrame(time.monotonic(), "customer hung up"))
                outcome = CallOutcome(disposition=Disposition.HUNG_UP, end_node=policy.node,
                                      reason="customer hung up")
                break
            while not call.events.empty():
                ev = call.events.get_nowait()
                if ev.kind == "dtmf":
                    pipeline.push(Dtmf(str(ev.digit), ev.at))
            try:
                at, pcm = rx.get(timeout=FRAME_MS / 1000)
                pipeline.push(InputAudio(pcm, at))
            except queue.Empty:  # no RTP: the timers still run
                pipeline.push(Tick(time.monotonic()))
            for frame in ended:
                if isinstance(frame, Escalated):
                    self._escalate(frame)
                elif isinstance(frame, Hangup):
                    outcome = CallOutcome(disposition=frame.disposition, reason=frame.reason,
                                          handoff=frame.handoff, end_node=frame.node)
                else:
                    log.error("call pipeline: %s", frame)
            ended.clear()
            conn = self._connector
            if outcome is None and conn is not None and conn.finished.is_set() \
                    and conn.result.result == "connected":
                # The agent answered while the robot still said "connecting you": the
                # robot stops there, the customer hears the agent at once.
                pipeline.push(EndFrame(time.monotonic(), "agent answered"))
                outcome = CallOutcome(disposition=Disposition.HANDOFF, handoff=True,
                                      reason=conn.reason, end_node=policy.node)
                break
            if outcome is None and time.monotonic() - answered_at > self.cfg.max_call_s:
                outcome = CallOutcome(disposition=Disposition.FAILED, end_node=policy.node,
                                      reason=f"call longer than {self.cfg.max_call_s:.0f}s")
        if self._connector is not None:
            outcome = self._with_agent(call, outcome, answered_at)
        if outcome.disposition != Disposition.HUNG_UP:
            time.sleep(0.06)  # let the last frames leave the jitter of the bridge
        outcome.answered = True
        outcome.sip_status = 200
        outcome.sip_reason = "OK"
        outcome.duration_s = round(time.monotonic() - answered_at, 2)
        outcome.turns = list(self._turns)
        outcome.recording = str(recording) if recording else None
        if echo and echo[0].canceller.searches:
            ec = echo[0].canceller
            log.info("echo guard: echo paths %s ms (gain %.2f); %d frames cancelled, %d muted; "
                     "%d moves, the first at frames %s", [round(d * 1000 / CLOCK_RATE)
                                                          for d, _ in ec.known],
                     ec.gain, ec.frames_cancelled, ec.frames_muted, len(ec.paths),
                     [n for n, _ in ec.paths[:5]])
        outcome.underruns = audio_out.underruns
        outcome.late_frames = call.audio.late_frames
        outcome.slots = dict(policy.slots)
        return outcome


    # -- handoff ---------------------------------------------------------------------
    def _escalate(self, frame: Escalated) -> None:
        """At the decision (the robot is still saying it connects): seek an agent now."""
        if self.handoff is None or self._connector is not None:
            return
        s = self.script.settings
        self._connector = AgentConnector(
            self.handoff, self.ua, self.account, s.handoff_wait_s, s.handoff_skills,
            frame.reason, [_live_turn(t) for t in self._turns],
            transfer=s.handoff_transfer).start()

    def _with_agent(self, call: SipCall, outcome: CallOutcome,
                    answered_at: float) -> CallOutcome:
        """After the robot's last words of a handoff: hold, then the agent or a callback."""
        conn, desk = self._connector, self.handoff
        assert conn is not None and desk is not None
        outcome.handoff = True
        outcome.handoff_at = utc(conn.result.decided_at)

        def heard(speaker: str) -> Callable[[str, float, float], None]:
            def add(text: str, started: float, ended: float) -> None:
                self._add_turn(speaker=speaker, node="agent", text=text,
                               offset_ms=round((started - answered_at) * 1000, 1),
                               duration_ms=round((ended - started) * 1000, 1))
            return add

        customer = Transcriber(self.asr, heard("customer"), self.cfg.vad)
        try:
            if call.disconnected.is_set() or outcome.disposition != Disposition.HANDOFF:
                conn.cancel()  # hung up while the robot was still talking
                conn.wait(10)
            else:
                self._hold(call, conn, customer)
            res = conn.result
            outcome.agent_ringing_at = utc(res.ringing_at)
            if res.ringing_after_s is not None:
                log.info("handoff %s: agent %s phone ringing %.3f s after the decision",
                         desk.call_id, res.agent, res.ringing_after_s)
            if res.result == "connected" and conn.agent_call is not None:
                if call.disconnected.is_set():
                    hang_up_leg(conn.agent_call)
                    self._agent_done(res.agent, "customer")
                    outcome.handoff_result = "abandoned"
                    return outcome
                outcome.agent, outcome.agent_connected_at = res.agent, utc(res.connected_at)
                outcome.handoff_result = "connected"
                self._talk(call, conn.agent_call, customer, heard("agent"), answered_at)
                return outcome
            if res.result == "refer" and not call.disconnected.is_set():
                if self._refer(call, outcome, conn):
                    return outcome
                res = conn.result
            outcome.handoff_result = "abandoned" if res.result == "abandoned" else "failed"
            if call.disconnected.is_set():
                outcome.disposition = Disposition.HUNG_UP
                outcome.reason = res.reason
                return outcome
            self._promise_callback(call, outcome, res.reason, answered_at)
            return outcome
        finally:
            customer.close()

    def _refer(self, call: SipCall, outcome: CallOutcome, conn: AgentConnector) -> bool:
        """Blind transfer: the trunk calls the agent for the customer. True once the
        agent answered (NOTIFY 200) and our leg is hung up."""
        assert self.handoff is not None
        acd, call_id, res = self.handoff.acd, self.handoff.call_id, conn.result
        ok = False
        try:
            call.transfer(conn.refer_uri)
            acd.publish("referred", call=call_id, agent=res.agent, uri=conn.refer_uri)
            deadline = time.monotonic() + self.handoff.ring_s + 5
            while time.monotonic() < deadline and not call.disconnected.is_set():
                try:
                    ev = call.events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if ev.kind != "xfer":
                    continue
                if 180 <= ev.status < 200 and res.ringing_at is None:
                    res.ringing_at = time.time()
                    acd.publish("ringing", call=call_id, agent=res.agent)
                if ev.state == "final":
                    ok = 200 <= ev.status < 300
                    break
        except SipError as exc:
            log.warning("handoff %s: REFER failed: %s", call_id, exc)
        except (RedisError, OSError) as exc:
            log.warning("handoff %s: ACD not told of the transfer: %s", call_id, exc)
        if not ok:
            res.result, res.reason = "failed", f"{res.reason}; the transfer (REFER) failed"
            try:
                if res.agent:
                    acd.connect_failed(res.agent, call_id)
            except (RedisError, OSError):
                pass
            return False
        res.connected_at = time.time()
        res.ringing_at = res.ringing_at or res.connected_at
        outcome.handoff_result, outcome.agent = "transferred", res.agent
        outcome.agent_ringing_at = utc(res.ringing_at)
        outcome.agent_connected_at = utc(res.connected_at)
        call.hangup_quietly()  # our part ends: the customer and the agent talk directly
        try:
            acd.hang_up(res.agent or "")  # wrap-up: the form; we no longer hear the call
            acd.publish("transferred", call=call_id, agent=res.agent)
        except (AcdError, RedisError, OSError) as exc:
            log.warning("handoff %s: ACD not told of the transfer: %s", call_id, exc)
        return True

    def _hold(self, call: SipCall, conn: AgentConnector, customer: Transcriber) -> None:
        s = self.script.settings
        music, pos = hold_music(), 0
        chunk = FRAME_BYTES * 25  # half a second at a time: gone fast when an agent answers
        prompt = self.script.render_text(s.hold_prompt, {})
        next_prompt = time.monotonic() + s.hold_prompt_every_s
        while not conn.finished.is_set():
            if call.disconnected.is_set():
                conn.cancel()
                conn.wait(10)
                return
            if call.audio.queued_ms < 300:
                if time.monotonic() >= next_prompt:
                    pcm = self._speech(prompt)
                    call.audio.play(pcm)
                    next_prompt = time.monotonic() + len(pcm) / (CLOCK_RATE * 2) \
                        + s.hold_prompt_every_s
                else:
                    call.audio.play(music[pos:pos + chunk])
                    pos = (pos + chunk) % len(music)
            self._drain(call, customer)
            conn.finished.wait(FRAME_MS / 1000)

    @staticmethod
    def _drain(call: SipCall, into: Transcriber) -> None:
        rx = call.audio.rx
        while True:
            try:
                at, pcm = rx.get_nowait()
            except queue.Empty:
                return
            into.feed(pcm, at)

    def _talk(self, call: SipCall, agent_leg: SipCall, customer: Transcriber,
              agent_heard: Callable[[str, float, float], None], answered_at: float) -> None:
        """Customer and agent bridged; both sides transcribed until one hangs up."""
        assert self.handoff is not None
        call.audio.clear()
        agent = Transcriber(self.asr, agent_heard, self.cfg.vad)
        monitor = _Monitor(self.ua, self.account, self.handoff, call, agent_leg)
        try:
            call.bridge(agent_leg)
            while not (call.disconnected.is_set() or agent_leg.disconnected.is_set()):
                if time.monotonic() - answered_at > self.cfg.max_call_s:
                    break
                self._drain(call, customer)
                self._drain(agent_leg, agent)
                monitor.poll()
                time.sleep(FRAME_MS / 1000)
        finally:
            by = "customer" if call.disconnected.is_set() else "agent"
            monitor.close()
            hang_up_leg(agent_leg)
            call.hangup_quietly()
            agent.close()
            self._agent_done(self._connector.result.agent if self._connector else None, by)

    def _agent_done(self, agent: str | None, by: str) -> None:
        assert self.handoff is not None
        acd = self.handoff.acd
        try:
            if agent:
                acd.hang_up(agent)  # wrap-up: the console shows the disposition form
            acd.publish("ended", call=self.handoff.call_id, agent=agent, by=by)
        except (AcdError, RedisError, OSError) as exc:
            log.warning("handoff %s: ACD not told the call ended: %s", self.handoff.call_id, exc)

    def _promise_callback(self, call: SipCall, outcome: CallOutcome, reason: str,
                          answered_at: float) -> None:
        assert self.handoff is not None
        s, desk = self.script.settings, self.handoff
        now = datetime.now(UTC)
        when = desk.plan_callback(now + timedelta(seconds=s.callback_delay_s))
        phrase = callback_phrase(when, now, self.script.language, desk.timezone)
        text = self.script.render_text(s.no_agent_prompt, {"callback": phrase})
        call.audio.clear()
        pcm = b"".join(self._speech(x) for x in sentences(text))
        started = time.monotonic()
        self._add_turn(speaker="bot", node="no_agent", text=text,
                       offset_ms=round((started - answered_at) * 1000, 1))
        call.audio.play(pcm)
        end = started + len(pcm) / (CLOCK_RATE * 2) + 5
        while call.audio.playing and not call.disconnected.is_set() and time.monotonic() < end:
            time.sleep(FRAME_MS / 1000)
        time.sleep(0.3)
        outcome.disposition = Disposition.CALLBACK
        outcome.callback_at = when
        outcome.reason = f"{reason}; callback promised for {when.isoformat(timespec='minutes')}"


class _Monitor:
    """A supervisor's phone joined to a live agent call on command (Acd.command): listen
    hears customer and agent; whisper also speaks to the agent only; barge speaks to
    both. Dialed without holding up the call's loop; one at a time (a new command
    replaces the leg)."""

    CHECK_EVERY_S = 0.5

    def __init__(self, ua: UserAgent, account: SipAccount, desk: HandoffDesk,
                 customer: SipCall, agent: SipCall) -> None:
        self.ua, self.account, self.desk = ua, account, desk
        self.customer, self.agent = customer, agent
        self.leg: SipCall | None = None
        self.mode = ""
        self.wired = False
        self._next_check = 0.0
        self._deadline = 0.0

    def poll(self) -> None:
        now = time.monotonic()
        if self.leg is not None and not self.wired:
            self._progress(now)
        if now < self._next_check:
            return
        self._next_check = now + self.CHECK_EVERY_S
        if self.leg is not None and self.leg.audio is not None:
            self.leg.audio.clear()
            while not self.leg.audio.rx.empty():  # nobody transcribes the supervisor
                self.leg.audio.rx.get_nowait()
        try:
            cmd = self.desk.acd.next_command(self.desk.call_id)
        except (RedisError, OSError) as exc:
            log.warning("handoff %s: no supervisor commands: %s", self.desk.call_id, exc)
            return
        if cmd and cmd.get("monitor") in ("listen", "whisper", "barge") and cmd.get("uri"):
            self.close()
            try:
                self.leg = self.ua.make_call(self.account, str(cmd["uri"]))
            except SipError as exc:
                self._tell("monitor_failed", mode=cmd["monitor"], error=str(exc))
                return
            self.mode, self.wired, self._deadline = str(cmd["monitor"]), False, now + 20

    def _progress(self, now: float) -> None:
        leg = self.leg
        assert leg is not None
        if leg.disconnected.is_set() or now > self._deadline:
            self._tell("monitor_failed", mode=self.mode, error="the supervisor's phone did "
                       "not answer" if not leg.disconnected.is_set() else
                       f"{leg.status} {leg.reason}")
            self.close()
            return
        if leg.state != "CONFIRMED" or getattr(leg, "_media", None) is None:
            return
        self.customer.send_to(leg)
        self.agent.send_to(leg)
        if self.mode in ("whisper", "barge"):
            leg.send_to(self.agent)
        if self.mode == "barge":
            leg.send_to(self.customer)
        self.wired = True
        self._tell("monitoring", mode=self.mode)

    def _tell(self, kind: str, **data: Any) -> None:
        try:
            self.desk.acd.publish(kind, call=self.desk.call_id, **data)
        except (RedisError, OSError):
            pass

    def close(self) -> None:
        if self.leg is not None:
            hang_up_leg(self.leg)
            self.leg = None


def _live_turn(t: TurnRecord) -> dict[str, Any]:
    d = asdict(t)
    return {k: d[k] for k in ("seq", "speaker", "node", "text", "intent", "confidence",
                              "offset_ms")}


def place(ua: UserAgent, account: SipAccount, uri: str, session: CallSession,
          fields: dict[str, Any], recording: Path | None) -> CallOutcome:
    """Run one call; SIP errors that happen before any INVITE become a failed outcome."""
    try:
        return session.run(uri, fields, recording)
    except SipError as exc:
        return CallOutcome(disposition=Disposition.FAILED, reason=str(exc))
