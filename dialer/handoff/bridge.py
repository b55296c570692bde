"""A handed-off call after the robot's last words: the customer on hold until an agent
answers, then customer and agent bridged and both transcribed (a supervisor may listen,
whisper or barge in), or a blind transfer (REFER), or a callback promised when nobody
came."""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import RedisError

from dialer.conversation.outcomes import CallOutcome, Outcome, TurnRecord
from dialer.conversation.processors import sentences
from dialer.conversation.script import Script
from dialer.handoff.acd import AcdError
from dialer.handoff.desk import (
    AgentConnector,
    HandoffDesk,
    Transcriber,
    callback_phrase,
    hang_up_leg,
    hold_music,
    utc,
)
from dialer.telephony.call import SipCall, SipError
from dialer.telephony.media import CLOCK_RATE, FRAME_BYTES, FRAME_MS
from dialer.telephony.sip import SipAccount, UserAgent
from voices.recognizer import SpeechRecognizer
from voices.vad import VadConfig

log = logging.getLogger(__name__)


class AgentBridge:
    """Takes a call over from the robot once it decided to hand it off and said so."""

    def __init__(self, desk: HandoffDesk, conn: AgentConnector, ua: UserAgent,
                 account: SipAccount, asr: SpeechRecognizer, vad: VadConfig, script: Script,
                 speech: Callable[[str], bytes], add_turn: Callable[..., TurnRecord],
                 max_call_s: float) -> None:
        self.desk, self.conn, self.ua, self.account = desk, conn, ua, account
        self.asr, self.vad, self.script = asr, vad, script
        self.speech, self.add_turn, self.max_call_s = speech, add_turn, max_call_s

    def finish(self, call: SipCall, outcome: CallOutcome, answered_at: float) -> CallOutcome:
        """After the robot's last words of a handoff: hold, then the agent or a callback."""
        conn, desk = self.conn, self.desk
        outcome.handoff = True
        outcome.handoff_at = utc(conn.result.decided_at)

        def heard(speaker: str) -> Callable[[str, float, float], None]:
            def add(text: str, started: float, ended: float) -> None:
                self.add_turn(speaker=speaker, node="agent", text=text,
                               offset_ms=round((started - answered_at) * 1000, 1),
                               duration_ms=round((ended - started) * 1000, 1))
            return add

        customer = Transcriber(self.asr, heard("customer"), self.vad)
        try:
            if call.disconnected.is_set() or outcome.disposition != Outcome.HANDOFF:
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
                outcome.disposition = Outcome.HUNG_UP
                outcome.reason = res.reason
                return outcome
            self._promise_callback(call, outcome, res.reason, answered_at)
            return outcome
        finally:
            customer.close()

    def _refer(self, call: SipCall, outcome: CallOutcome, conn: AgentConnector) -> bool:
        """Blind transfer: the trunk calls the agent for the customer. True once the
        agent answered (NOTIFY 200) and our leg is hung up."""
        acd, call_id, res = self.desk.acd, self.desk.call_id, conn.result
        ok = False
        try:
            call.transfer(conn.refer_uri)
            acd.publish("referred", call=call_id, agent=res.agent, uri=conn.refer_uri)
            deadline = time.monotonic() + self.desk.ring_s + 5
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
                    pcm = self.speech(prompt)
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
        call.audio.clear()
        agent = Transcriber(self.asr, agent_heard, self.vad)
        monitor = SupervisorMonitor(self.ua, self.account, self.desk, call, agent_leg)
        try:
            call.bridge(agent_leg)
            while not (call.disconnected.is_set() or agent_leg.disconnected.is_set()):
                if time.monotonic() - answered_at > self.max_call_s:
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
            self._agent_done(self.conn.result.agent, by)

    def _agent_done(self, agent: str | None, by: str) -> None:
        acd = self.desk.acd
        try:
            if agent:
                acd.hang_up(agent)  # wrap-up: the console shows the disposition form
            acd.publish("ended", call=self.desk.call_id, agent=agent, by=by)
        except (AcdError, RedisError, OSError) as exc:
            log.warning("handoff %s: ACD not told the call ended: %s", self.desk.call_id, exc)

    def _promise_callback(self, call: SipCall, outcome: CallOutcome, reason: str,
                          answered_at: float) -> None:
        s, desk = self.script.settings, self.desk
        now = datetime.now(UTC)
        when = desk.plan_callback(now + timedelta(seconds=s.callback_delay_s))
        phrase = callback_phrase(when, now, self.script.language, desk.timezone)
        text = self.script.render_text(s.no_agent_prompt, {"callback": phrase})
        call.audio.clear()
        pcm = b"".join(self.speech(x) for x in sentences(text))
        started = time.monotonic()
        self.add_turn(speaker="bot", node="no_agent", text=text,
                       offset_ms=round((started - answered_at) * 1000, 1))
        call.audio.play(pcm)
        end = started + len(pcm) / (CLOCK_RATE * 2) + 5
        while call.audio.playing and not call.disconnected.is_set() and time.monotonic() < end:
            time.sleep(FRAME_MS / 1000)
        time.sleep(0.3)
        outcome.disposition = Outcome.CALLBACK
        outcome.callback_at = when
        outcome.reason = f"{reason}; callback promised for {when.isoformat(timespec='minutes')}"


class SupervisorMonitor:
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


def live_turn(t: TurnRecord) -> dict[str, Any]:
    d = asdict(t)
    return {k: d[k] for k in ("seq", "speaker", "node", "text", "intent", "confidence",
                              "offset_ms")}


