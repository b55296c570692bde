"""Handing a live call to a person.

The moment the robot decides to hand off (the policy's Escalated frame, while it is still
saying "connecting you"), an AgentConnector starts on its own thread: it queues the call
at the ACD (Redis, shared by every host) with what the agent's screen pop shows, routes
it, takes the offer at once for agents on auto-accept or waits for the agent's click in
the console, and then rings the agent's SIP phone from this worker. When the agent
answers, the call's own thread bridges the customer leg and the agent leg in this
process's conference bridge: the two talk directly, while the recording and the
transcript of both sides go on (the customer's and the agent's audio are still
delivered to this process).

While nobody has answered, the customer hears hold music and, now and then, a hold
message. If no agent is on the line within the campaign's limit, the robot apologises,
names the time it will call back, the contact is scheduled for then, and the call counts
as abandoned.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from dialer.conversation.frames import EndFrame, FinalTranscript, Frame, InputAudio, Listen
from dialer.conversation.pipeline import Pipeline
from dialer.conversation.processors import AsrProcessor, VadProcessor
from dialer.handoff.acd import Acd, AcdError
from dialer.telephony.call import SipCall, SipError
from dialer.telephony.media import CLOCK_RATE, FRAME_MS
from dialer.telephony.sip import SipAccount, UserAgent
from voices.audio import silence, tone
from voices.recognizer import SpeechRecognizer
from voices.vad import VadConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandoffDesk:
    """What a call needs to reach a person; made by the worker for each call."""

    acd: Acd
    call_id: str  # the attempt's id
    queue: str  # e.g. "campaign-3"
    info: dict[str, Any]  # the screen pop: campaign, contact fields, phone
    # The callback time for a given moment (UTC, moved into the call window).
    plan_callback: Callable[[datetime], datetime]
    timezone: str = "UTC"  # the callee's: the callback is said in their local time
    prefer: str | None = None  # the agent who last spoke to this contact
    offer_s: float = 15.0  # an agent has this long to accept an offer in the console
    ring_s: float = 20.0  # an agent's phone has this long to answer


@dataclass
class HandoffResult:
    result: str = "waiting"  # connected | abandoned | failed
    agent: str | None = None
    decided_at: float = field(default_factory=time.time)  # wall clock, like the ACD's
    ringing_at: float | None = None  # the agent's phone rang (180)
    connected_at: float | None = None  # ... and answered
    reason: str = ""
    offers: int = 0

    @property
    def ringing_after_s(self) -> float | None:
        return None if self.ringing_at is None else round(self.ringing_at - self.decided_at, 3)


class AgentConnector:
    """From the escalation decision to an answered agent leg (or giving up), on its own
    thread; the call's thread waits on `finished` while the customer hears hold audio."""

    def __init__(self, desk: HandoffDesk, ua: UserAgent, account: SipAccount,
                 wait_s: float, skills: tuple[str, ...], reason: str,
                 transcript: list[dict[str, Any]], poll_s: float = 0.05,
                 transfer: str = "bridge") -> None:
        self.desk, self.ua, self.account = desk, ua, account
        # refer: the agent who took the call is not rung from here; the call's thread
        # asks the trunk to transfer the customer to `refer_uri` (result "refer").
        self.transfer = transfer
        self.refer_uri = ""
        self.wait_s, self.skills, self.reason = wait_s, skills, reason
        self.transcript = transcript
        self.poll_s = poll_s
        self.result = HandoffResult(reason=reason)
        self.agent_call: SipCall | None = None
        self.finished = threading.Event()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"handoff-{desk.call_id}",
                                        daemon=True)

    def start(self) -> AgentConnector:
        self._thread.start()
        return self

    def cancel(self) -> None:
        """The customer hung up: stop, the call leaves the queue as abandoned."""
        self._cancel.set()

    def wait(self, timeout: float) -> bool:
        return self.finished.wait(timeout)

    # -- its thread ------------------------------------------------------------------
    def _run(self) -> None:
        acd, call_id = self.desk.acd, self.desk.call_id
        try:
            self.ua.register_thread("handoff")
            if not acd.staffed(self.skills):
                self.result.result = "abandoned"
                self.result.reason = f"{self.reason}; no agent logged in"
                acd.publish("unstaffed", call=call_id, queue=self.desk.queue)
                return
            info = {**self.desk.info, "reason": self.reason, "transcript": self.transcript}
            acd.enqueue(call_id, self.desk.queue, skills=self.skills, prefer=self.desk.prefer,
                        info=info)
            for turn in self.transcript:
                acd.add_transcript(call_id, turn)
            acd.publish("queued", call=call_id, queue=self.desk.queue)
            if self._connect(time.monotonic() + self.wait_s):
                self.result.result = "refer" if self.refer_uri else "connected"
                return
            acd.abandon(call_id)
            self.result.result = "abandoned"
            self.result.reason = (f"{self.reason}; " + ("customer hung up waiting"
                                  if self._cancel.is_set() else
                                  f"no agent within {self.wait_s:.0f}s"))
            acd.publish("abandoned", call=call_id, waited_s=round(
                time.time() - self.result.decided_at, 1))
        except Exception as exc:  # Redis down: the customer still gets the apology
            log.exception("handoff of call %s failed", call_id)
            self.result.result = "failed"
            self.result.reason = f"{self.reason}; handoff failed: {exc}"
        finally:
            self.finished.set()

    def _connect(self, deadline: float) -> bool:
        acd, call_id = self.desk.acd, self.desk.call_id
        offered: tuple[str, float] | None = None
        while not self._cancel.is_set() and time.monotonic() < deadline:
            acd.route()
            call = acd.call(call_id)
            state, agent = call["state"], call.get("agent") or ""
            if state == "offered" and agent:
                if offered is None or offered[0] != agent:
                    offered = (agent, time.monotonic())
                    self.result.offers += 1
                if acd.r.hget(acd._agent(agent), "auto_accept"):
                    try:
                        acd.accept(agent, call_id)
                    except AcdError:  # they went not ready in between: route again
                        pass
                    continue
                if time.monotonic() - offered[1] > self.desk.offer_s:
                    acd.reject(agent, call_id, missed=True)
                    acd.publish("missed", call=call_id, agent=agent)
            elif state == "connected" and agent:
                uri = acd.agent(agent).get("sip_uri") or ""
                if self.transfer == "refer" and uri.startswith("sip:"):
                    self.refer_uri, self.result.agent = uri, agent
                    return True
                if self._ring(agent):
                    return True
                acd.connect_failed(agent, call_id)
                acd.publish("unreachable", call=call_id, agent=agent)
            elif state in ("abandoned", "ended"):
                return False
            self._cancel.wait(self.poll_s)
        return False

    def _ring(self, agent: str) -> bool:
        """Call the agent's phone; True once it answered with audio."""
        acd, call_id = self.desk.acd, self.desk.call_id
        uri = acd.agent(agent).get("sip_uri") or ""
        if not uri.startswith("sip:"):
            log.warning("agent %s has no SIP phone (%r)", agent, uri)
            return False
        try:
            leg = self.ua.make_call(self.account, uri)
        except SipError as exc:
            log.warning("cannot ring agent %s at %s: %s", agent, uri, exc)
            return False
        acd.publish("dialing", call=call_id, agent=agent, uri=uri)
        media = confirmed = False
        deadline = time.monotonic() + self.desk.ring_s
        while not self._cancel.is_set() and time.monotonic() < deadline:
            try:
                ev = leg.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if ev.kind == "state" and ev.state == "EARLY" and self.result.ringing_at is None:
                self.result.ringing_at = time.time()
                acd.publish("ringing", call=call_id, agent=agent)
            media |= ev.kind == "media"
            confirmed |= ev.kind == "state" and ev.state == "CONFIRMED"
            if ev.kind == "state" and ev.state == "DISCONNECTED":
                break
            if media and confirmed:
                now = time.time()
                self.result.ringing_at = self.result.ringing_at or now
                self.result.connected_at, self.result.agent = now, agent
                self.agent_call = leg
                acd.publish("connected", call=call_id, agent=agent)
                return True
        hang_up_leg(leg)
        return False


def hang_up_leg(leg: SipCall) -> None:
    leg.hangup_quietly()
    leg.disconnected.wait(5)
    leg.release()


@cache
def hold_music() -> bytes:
    """Eight seconds of a soft, slow arpeggio: the customer knows the line is alive."""
    notes = (523.25, 659.25, 783.99, 659.25)  # C5 E5 G5 E5
    bar = b"".join(tone(f, 380, CLOCK_RATE, amplitude=0.08) + silence(120, CLOCK_RATE)
                   for f in notes)
    return bar * 4


class Transcriber:
    """One side of the agent conversation to text: endpointing and the open-vocabulary
    recogniser, each utterance handed to `on_text(text, started_at, ended_at)`."""

    def __init__(self, asr: SpeechRecognizer, on_text: Callable[[str, float, float], None],
                 vad: VadConfig | None = None, phrases: tuple[str, ...] = ()) -> None:
        self.on_text = on_text
        self.pipeline = Pipeline([VadProcessor(CLOCK_RATE, FRAME_MS, vad or VadConfig()),
                                  AsrProcessor(asr, interim_every_ms=0, early_final_ms=None)],
                                 on_down=self._down)
        if phrases:  # only these (and [unk]): for checking what a line carried
            self.pipeline.push(Listen(phrases))

    def feed(self, pcm: bytes, at: float) -> None:
        self.pipeline.push(InputAudio(pcm, at))

    def close(self) -> None:
        self.pipeline.push(EndFrame(time.monotonic(), "call ended"))

    def _down(self, frame: Frame) -> None:
        if isinstance(frame, FinalTranscript) and frame.readings and frame.readings[0].text:
            self.on_text(frame.readings[0].text, frame.started_at, frame.last_voiced_at)


# How the robot says when it will call back, in the callee's words and local time:
# today/tomorrow/the day after, a later date, morning/afternoon, minutes, the sentence.
_SPOKEN_TIME = {
    "ko": (("오늘", "내일", "모레"), "{m}월 {d}일", ("오전", "오후"), " {min}분",
           "{day} {half} {hour}시{minute}에"),
    "zh": (("今天", "明天", "后天"), "{m}月{d}日", ("上午", "下午"), "{min}分",
           "{day}{half}{hour}点{minute}"),
}


def callback_phrase(when: datetime, now: datetime, language: str, tz: str = "UTC") -> str:
    zone = ZoneInfo(tz)
    local, today = when.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    spoken = _SPOKEN_TIME.get(language.split("-")[0])
    if spoken is None:  # English, and any language without its own words here
        day = {0: "today", 1: "tomorrow"}.get(
            days, local.strftime("on %A %B %d").replace(" 0", " "))
        clock = local.strftime("%I:%M %p").lstrip("0").replace(":00 ", " ")
        return f"{day} at {clock}"
    near, date_fmt, halves, minute_fmt, sentence = spoken
    day = near[days] if 0 <= days < len(near) else date_fmt.format(m=local.month,
                                                                    d=local.day)
    return sentence.format(day=day, half=halves[local.hour >= 12],
                           hour=local.hour % 12 or 12,
                           minute=minute_fmt.format(min=local.minute) if local.minute else "")


def utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)
