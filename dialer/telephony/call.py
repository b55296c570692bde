"""One SIP call over pjsua2 (SipCall): its state and events as a queue, its audio port,
bridging and transfers, and what its final response said.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pjsua2 as pj

if TYPE_CHECKING:
    from dialer.telephony.sip import SipAccount

log = logging.getLogger(__name__)


class SipError(RuntimeError):
    """A call could not be placed for a reason the operator can fix or that may pass."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class CallEvent:
    kind: str  # "state" | "media" | "dtmf"
    state: str = ""  # CALLING, EARLY, CONNECTING, CONFIRMED, DISCONNECTED
    status: int = 0
    reason: str = ""
    digit: str = ""
    at: float = field(default_factory=time.monotonic)


_STATE_NAMES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}


def _received(e: pj.SipEvent) -> bool:
    """The event is a SIP message that arrived from the network (not a timer of ours)."""
    return bool(e.type == pj.PJSIP_EVENT_TSX_STATE
                and e.body.tsxState.type == pj.PJSIP_EVENT_RX_MSG)


_RETRY_AFTER = re.compile(r"^Retry-After[ \t]*:[ \t]*(\d+)", re.IGNORECASE | re.MULTILINE)


def retry_after_s(message: str) -> int | None:
    """The seconds a response's Retry-After header asks for (RFC 3261 20.33: "Retry-After:
    120 (overloaded);duration=3600"), or None when it has none."""
    found = _RETRY_AFTER.search(message)
    return int(found.group(1)) if found else None


class SipCall(pj.Call):
    """One call. Its owner (the thread that placed or answered it) gives the audio port
    back with `release()` when it is done with the call.

    Lifetime rule, learnt the hard way: pjsua2's C++ `Call::~Call()` clears the user data
    of, and hangs up, whatever call holds the slot id it remembers, and pjsua reuses slot
    ids. A Python call object freed late (by the GC, or when a variable is rebound) would
    detach or kill an unrelated newer call (bench/sip_churn.py showed answers failing
    with PJ_EINVALIDOP). So the C++ object is disowned and never deleted (a few hundred
    bytes per call; worker children are recycled), and the Python object is kept alive
    until its DISCONNECTED callback, after which pjsua resets the slot and no callback
    can reach it any more."""

    def __init__(self, account: SipAccount, call_id: int = pj.PJSUA_INVALID_ID,
                 recording: Path | None = None) -> None:
        super().__init__(account, call_id)
        self.thisown = False
        self.ua = account.ua
        self.ua.live_calls.add(self)
        self.events: queue.Queue[CallEvent] = queue.Queue()
        self.audio = self.ua.acquire_pipe()
        self.recording = recording
        self.record_sent = True  # False: the recording holds only what the far end sent
        self.uri = ""  # the request URI we dialed (outbound calls)
        self._recorder: pj.AudioMediaRecorder | None = None
        self._media: pj.AudioMedia | None = None
        self.state = "NULL"
        self.status = 0
        self.reason = ""
        self.connected_at: float | None = None
        self.disconnected = threading.Event()
        self.peer_responded = threading.Event()  # any SIP response (100 Trying on) came back
        self.retry_after_s: int | None = None  # the final error's Retry-After (a 503's)
        self.jitter: dict[str, float] = {}  # the receive jitter buffer's, when the call ended
        self.line_codec: str | None = None  # the codec negotiated, once media flowed
        # Who carries out a blind transfer (REFER) asked of this call: makes the new call
        # to the target (the simulator's customers do; None declines, as the robot does).
        self.on_transfer: Callable[[SipCall, str], SipCall | None] | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self.state = _STATE_NAMES.get(info.state, str(info.state))
        self.status, self.reason = info.lastStatusCode, info.lastReason
        if self.state == "CONFIRMED" and self.connected_at is None:
            self.connected_at = time.monotonic()
        if self.state == "DISCONNECTED":
            # A final error sent at once, without a 100 Trying first (allowed, and common
            # from trunks), ends the call before any transaction callback: the response
            # still came from the peer, unlike a timeout of our own.
            if _received(prm.e):
                self.peer_responded.set()
                self.retry_after_s = retry_after_s(prm.e.body.tsxState.src.rdata.wholeMsg)
            self._detach_media()
            self.disconnected.set()
        self.events.put(CallEvent("state", self.state, self.status, self.reason))
        if self.state == "DISCONNECTED":
            self.ua.live_calls.discard(self)  # the last callback this slot gives us

    def release(self) -> None:
        """The owner is done: the audio port goes back to the pool (after a cool-down,
        so late frames of this call cannot reach the next one)."""
        if self.audio is None:
            return
        if self.disconnected.is_set():
            self.ua.release_pipe(self.audio)
        else:  # still wired to a live stream: retire it rather than cross two calls
            log.warning("call %s did not disconnect; its audio port is retired", self.uri)
        self.audio = None  # type: ignore[assignment]

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        tsx = prm.e.body.tsxState.tsx
        if tsx.method == "INVITE" and tsx.statusCode >= 100:
            self.peer_responded.set()

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        for mi in info.media:
            if mi.type != pj.PJMEDIA_TYPE_AUDIO or mi.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            if self._media is not None:
                continue  # re-INVITE: bridge already wired
            media = self.getAudioMedia(mi.index)
            media.startTransmit(self.audio)
            self.audio.startTransmit(media)
            if self.recording is not None:
                self.recording.parent.mkdir(parents=True, exist_ok=True)
                rec = pj.AudioMediaRecorder()
                rec.createRecorder(str(self.recording))
                media.startTransmit(rec)  # the customer
                if self.record_sent:
                    self.audio.startTransmit(rec)  # the robot
                self._recorder = rec
            self._media = media
            self._media_index = mi.index
            self.events.put(CallEvent("media"))

    def bridge(self, other: SipCall) -> None:
        """Connect this call's audio and `other`'s directly in the conference bridge (a
        handed-off customer and the agent). Both audio ports keep receiving their side,
        so the two can still be transcribed; this call's recording takes the other side
        too. Call from a registered thread."""
        a, b = self._media, other._media
        if a is None or b is None:
            raise SipError("cannot bridge: a leg has no audio")
        a.startTransmit(b)
        b.startTransmit(a)
        if self._recorder is not None:
            b.startTransmit(self._recorder)

    def send_to(self, other: SipCall) -> None:
        """Let `other` hear this call's far end (one way: a supervisor listening in)."""
        if self._media is None or other._media is None:
            raise SipError("cannot connect: a leg has no audio")
        self._media.startTransmit(other._media)

    def rtp_packets_received(self) -> int | None:
        """RTP packets received on the audio stream so far (None before media is up or
        after the call ended). Call from a registered thread."""
        index = getattr(self, "_media_index", None)
        if index is None or self.disconnected.is_set():
            return None
        try:
            return int(self.getStreamStat(index).rtcp.rxStat.pkt)
        except pj.Error:
            return None

    def jitter_stats(self) -> dict[str, float]:
        """What the receive jitter buffer did so far: `empty` is how often the media clock
        asked for a frame and none had arrived in time (the listener hears a gap, or
        packet-loss concealment), `discard` frames thrown away to shrink the delay."""
        index = getattr(self, "_media_index", None)
        if index is None:
            return {}
        try:
            jb = self.getStreamStat(index).jbuf
        except pj.Error:
            return {}
        return {"empty": jb.empty, "discard": jb.discard, "lost": jb.lost,
                "avg_delay_ms": jb.avgDelayMsec, "max_delay_ms": jb.maxDelayMsec,
                "prefetch": jb.prefetch}

    def codec(self) -> str | None:
        """The audio codec negotiated for the call ("PCMU/8000"), None without media."""
        index = getattr(self, "_media_index", None)
        if index is None:
            return None
        try:
            info = self.getStreamInfo(index)
        except pj.Error:
            return None
        return f"{info.codecName}/{info.codecClockRate}"

    def transfer(self, uri: str) -> None:
        """Blind transfer: ask the far end (REFER) to call `uri` itself. Its progress comes
        as CallEvent("xfer", status=...) ending with state "final". Registered thread."""
        try:
            self.xfer(uri, pj.CallOpParam(True))
        except pj.Error as exc:
            raise SipError(f"cannot transfer the call (REFER): {exc.info()}") from exc

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:
        new = self.on_transfer(self, prm.dstUri) if self.on_transfer is not None else None
        if new is None:
            prm.statusCode = 603
        else:
            prm.newCall = new

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        self.events.put(CallEvent("xfer", "final" if prm.finalNotify else "",
                                  prm.statusCode, prm.reason))

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        self.events.put(CallEvent("dtmf", digit=prm.digit))

    def _detach_media(self) -> None:
        # Dropping the recorder closes the WAV file and writes its header.
        self._recorder = None
        self._media = None

    def hangup_quietly(self, code: int = 0) -> None:
        if self.disconnected.is_set():
            return
        prm = pj.CallOpParam()
        if code:
            prm.statusCode = code
        try:
            self.hangup(prm)
        except pj.Error as exc:  # already gone: the remote hung up at the same moment
            log.debug("hangup ignored: %s", exc.info())
