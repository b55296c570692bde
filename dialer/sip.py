"""SIP user agent on pjsua2: one Endpoint per process, calls whose audio flows as PCM frames.

pjsua2 calls back on its own threads; callbacks here never block: they put events on the
call's queue and copy audio frames, and the call's own thread does the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pjsua2 as pj

log = logging.getLogger(__name__)

CLOCK_RATE = 16000  # conference bridge and our ports; codecs are resampled to it
FRAME_MS = 20
FRAME_BYTES = CLOCK_RATE * FRAME_MS // 1000 * 2
RX_MAX = 3000  # received frames kept for a consumer that stalls (a minute)


class SipError(RuntimeError):
    """A call could not be placed for a reason the operator can fix or that may pass."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class TrunkConfig:
    """Where calls go and how we authenticate; defaults dial a loopback peer directly."""

    host: str = "127.0.0.1:5070"  # host[:port] put in the request URI: sip:<number>@host
    registrar: str | None = None  # e.g. "sip:pbx.example.com"; None = no REGISTER
    username: str | None = None
    password: str | None = None
    realm: str = "*"
    outbound_proxy: str | None = None  # e.g. "sip:proxy.example.com;lr"
    caller_id: str | None = None  # user part of From, e.g. "+8215880000"
    display_name: str | None = None
    transport: str = "udp"

    def dial_uri(self, number: str) -> str:
        if number.startswith("sip:"):
            return number
        params = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{number}@{self.host}{params}"

    def id_uri(self, local_host: str) -> str:
        user = self.caller_id or self.username or "robot"
        domain = self.registrar.removeprefix("sip:") if self.registrar else local_host
        uri = f"sip:{user}@{domain}"
        return f'"{self.display_name}" <{uri}>' if self.display_name else uri


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


def _vector_bytes_slow(vector: pj.ByteVector) -> bytes:
    return bytes(vector)  # SWIG walks the std::vector element by element: ~240 us a frame


def _vector_bytes_fast(vector: pj.ByteVector) -> bytes:
    """The bytes of a std::vector<unsigned char> read straight from its storage: the
    wrapped object starts with its begin and end pointers (libstdc++'s layout)."""
    addr = int(vector.this)
    begin = ctypes.c_void_p.from_address(addr).value
    end = ctypes.c_void_p.from_address(addr + ctypes.sizeof(ctypes.c_void_p)).value
    if not begin or not end:
        return b""
    return ctypes.string_at(begin, end - begin)


def _pick_vector_bytes() -> Callable[[pj.ByteVector], bytes]:
    """Use the fast reader only if it reads back exactly what the slow one does."""
    probe = bytes(range(256)) * 3
    try:
        if (_vector_bytes_fast(pj.ByteVector(probe)) == probe
                and _vector_bytes_fast(pj.ByteVector()) == b""):
            return _vector_bytes_fast
    except (TypeError, ValueError, OSError):
        pass
    log.warning("reading pjsua2 audio buffers the slow way (unexpected std::vector layout)")
    return _vector_bytes_slow


vector_bytes = _pick_vector_bytes()


_PJ_LOG_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}


class _PjLogWriter(pj.LogWriter):
    """pjsip's log lines go to Python logging (stderr), never to stdout, where they would
    corrupt `--json` output."""

    def write(self, entry: pj.LogEntry) -> None:
        log.log(_PJ_LOG_LEVELS.get(entry.level, logging.DEBUG), "pjsip: %s", entry.msg.rstrip())


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """pjlib prints its start-up lines to fd 1 inside libCreate(), before any log
    setting can apply; send that one burst to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class AudioPipe(pj.AudioMediaPort):
    """The call's audio as 20 ms frames: received frames go to a queue, and frames to
    send are taken from a buffer (silence when it is empty)."""

    def __init__(self) -> None:
        super().__init__()
        # C-implemented queue: put and get are a few hundred ns, no Python Condition at
        # 50 frames a second each way. Bounded by hand (RX_MAX) in onFrameReceived.
        self.rx: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
        self._tx: deque[bytes] = deque()
        self._tx_lock = threading.Lock()
        self._silence = pj.ByteVector(b"\x00" * FRAME_BYTES)
        self.first_tx_at: float | None = None  # when the first queued frame left
        self.last_tx_at: float | None = None
        # Speech frames the media clock asked for late (more than two frame times after
        # the one before): jitter the far end's buffer has to absorb. Counted for the
        # concurrency benchmark.
        self.late_frames = 0
        self._last_request = 0.0
        # What was sent, for the echo guard: (time, frame) of the last second, and
        # when speech last left (the guard does nothing once that is long past).
        self._sent: deque[tuple[float, bytes]] = deque(maxlen=1000 // FRAME_MS)
        self.last_speech_at = 0.0
        # A far end that echoes (the simulator's `echo:` persona): what it heard goes
        # back, `delay` frames later, scaled by `gain`, mixed into what it sends.
        self._echo: deque[np.ndarray] | None = None
        self._echo_gain = 0.0
        self._echo_delay = 0
        # A simulated caller who cannot hear (one-way audio): received frames are dropped.
        self.deaf = False
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, CLOCK_RATE, 1, FRAME_MS * 1000, 16)
        self.createPort("robot", fmt)

    # -- pjsua2 media thread --------------------------------------------------------
    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size and not self.deaf:
            pcm = vector_bytes(frame.buf)
            if self._echo is not None:
                self._echo.append(np.frombuffer(pcm, dtype="<i2") * self._echo_gain)
            if self.rx.qsize() < RX_MAX:  # a stalled consumer must not eat the memory
                self.rx.put_nowait((time.monotonic(), pcm))

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        now = time.monotonic()
        with self._tx_lock:
            data = self._tx.popleft() if self._tx else None
            self._sent.append((now, data or b""))
        previous, self._last_request = self._last_request, now
        if data is not None:
            self.last_speech_at = now
            if self.first_tx_at is None:
                self.first_tx_at = now
            elif now - previous > 2 * FRAME_MS / 1000:
                self.late_frames += 1
            self.last_tx_at = now
        if self._echo is not None and len(self._echo) > self._echo_delay:
            echo = self._echo.popleft()
            mixed = echo if data is None else np.frombuffer(data, dtype="<i2") + echo
            data = np.clip(mixed, -32768, 32767).astype("<i2").tobytes()
        frame.buf = self._silence if data is None else pj.ByteVector(data)
        frame.size = FRAME_BYTES

    # -- call thread ----------------------------------------------------------------
    def sent_before(self, at: float, nbytes: int) -> bytes:
        """The last `nbytes` of audio sent up to time `at` (silence as zeros); empty
        when no speech has left for a second, so the echo guard can rest."""
        if at - self.last_speech_at > 1.0:
            return b""
        with self._tx_lock:
            sent = list(self._sent)
        out: list[bytes] = []
        size = 0
        for when, pcm in reversed(sent):
            if when > at:
                continue
            out.append(pcm or bytes(FRAME_BYTES))
            size += FRAME_BYTES
            if size >= nbytes:
                break
        return b"".join(reversed(out))[-nbytes:]

    def echo(self, delay_ms: int, gain: float) -> None:
        """Send back what is received, `delay_ms` later (a multiple of the frame), scaled
        by `gain`: a far end with an echo (tests of the robot's echo guard)."""
        self._echo_delay = max(0, delay_ms // FRAME_MS)
        self._echo_gain = gain
        self._echo = deque()

    def play(self, pcm: bytes) -> None:
        """Queue PCM (16 kHz, 16-bit mono) for sending."""
        frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        if frames and len(frames[-1]) < FRAME_BYTES:
            frames[-1] += b"\x00" * (FRAME_BYTES - len(frames[-1]))
        with self._tx_lock:
            self._tx.extend(frames)

    def clear(self) -> int:
        """Drop queued speech (barge-in); returns how many frames were dropped."""
        with self._tx_lock:
            n = len(self._tx)
            self._tx.clear()
        return n

    @property
    def playing(self) -> bool:
        return bool(self._tx)

    @property
    def queued_ms(self) -> int:
        """Audio queued and not yet sent."""
        return len(self._tx) * FRAME_MS

    def reset_tx_marks(self) -> None:
        self.first_tx_at = self.last_tx_at = None

    def reset(self) -> None:
        """Forget everything of the previous call (the port is reused, never destroyed)."""
        self.clear()
        self._echo = None
        self.deaf = False
        with self._tx_lock:
            self._sent.clear()
        self.last_speech_at = 0.0
        while True:
            try:
                self.rx.get_nowait()
            except queue.Empty:
                break
        self.reset_tx_marks()
        self.late_frames = 0


def _received(e: pj.SipEvent) -> bool:
    """The event is a SIP message that arrived from the network (not a timer of ours)."""
    return bool(e.type == pj.PJSIP_EVENT_TSX_STATE
                and e.body.tsxState.type == pj.PJSIP_EVENT_RX_MSG)


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
        self.jitter: dict[str, float] = {}  # the receive jitter buffer's, when the call ended
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


class SipAccount(pj.Account):
    def __init__(self, ua: UserAgent) -> None:
        super().__init__()
        self.ua = ua
        self.reg_events: queue.Queue[tuple[int, str]] = queue.Queue()
        # Set by answering agents (the simulator); None declines incoming calls.
        self.on_incoming: Callable[[int], None] | None = None

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.reg_events.put((prm.code, prm.reason))

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        if self.on_incoming is not None:
            self.on_incoming(prm.callId)
        else:
            call = pj.Call(self, prm.callId)
            op = pj.CallOpParam()
            op.statusCode = 603
            call.hangup(op)


class UserAgent:
    """One pjsua2 Endpoint. Create it in the process that uses it (after any fork)."""

    def __init__(self, sip_port: int = 0, rtp_port: int = 40000, rtp_range: int = 100,
                 bind: str = "127.0.0.1", public_address: str | None = None,
                 codecs: tuple[str, ...] = ("G722/16000", "PCMU/8000", "PCMA/8000"), max_calls: int = 4,
                 log_level: int = 1) -> None:
        self.ep = pj.Endpoint()
        if log_level < 4:
            with _quiet_stdout():
                self.ep.libCreate()
        else:
            self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.maxCalls = max_calls
        cfg.uaConfig.userAgent = "dialer-robot"
        cfg.logConfig.level = log_level
        cfg.logConfig.consoleLevel = log_level
        self._log_writer = _PjLogWriter()  # pjsua2 keeps a pointer: keep the object alive
        cfg.logConfig.writer = self._log_writer
        cfg.medConfig.clockRate = CLOCK_RATE
        cfg.medConfig.sndClockRate = CLOCK_RATE
        cfg.medConfig.audioFramePtime = FRAME_MS
        cfg.medConfig.ecTailLen = 0  # no echo canceller: there is no loudspeaker
        cfg.medConfig.noVad = True  # keep RTP flowing; silence suppression breaks VAD timing
        self.ep.libInit(cfg)
        self.ep.audDevManager().setNullDev()
        tcfg = pj.TransportConfig()
        tcfg.port = sip_port
        tcfg.boundAddress = bind
        if public_address:
            tcfg.publicAddress = public_address
        self.transport_id = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.ep.libStart()
        self._set_codecs(codecs)
        self.bind = bind
        self.sip_port = self.ep.transportGetInfo(self.transport_id).localName.split(":")[-1]
        self.rtp_port, self.rtp_range = rtp_port, rtp_range
        self.accounts: list[SipAccount] = []
        self.live_calls: set[SipCall] = set()  # until their DISCONNECTED callback
        # Audio ports are reused, never destroyed while the library runs: in pjsip 2.15
        # removing a port from the conference bridge is asynchronous, and an
        # AudioMediaPort freed right after its removal is read by the bridge's clock
        # thread afterwards (pjproject #4200, fixed after the 2.15.1 our wheel carries).
        self._pipes: deque[tuple[float, AudioPipe]] = deque()
        self._all_pipes: list[AudioPipe] = []
        self._pipes_lock = threading.Lock()

    PIPE_COOL_DOWN_S = 1.0

    def acquire_pipe(self) -> AudioPipe:
        with self._pipes_lock:
            if self._pipes and time.monotonic() - self._pipes[0][0] >= self.PIPE_COOL_DOWN_S:
                pipe = self._pipes.popleft()[1]
                pipe.reset()
                return pipe
            pipe = AudioPipe()
            # Referenced here for the Endpoint's life, and disowned so that Python never
            # destroys it, not even after libDestroy() (pjmedia asserts on that).
            pipe.thisown = False
            self._all_pipes.append(pipe)
            return pipe

    def release_pipe(self, pipe: AudioPipe) -> None:
        pipe.clear()
        with self._pipes_lock:
            self._pipes.append((time.monotonic(), pipe))

    @property
    def audio_ports(self) -> int:
        """Ports made so far: stays at the peak number of simultaneous calls."""
        return len(self._all_pipes)

    def _set_codecs(self, wanted: tuple[str, ...]) -> None:
        available = {c.codecId: c for c in self.ep.codecEnum2()}
        chosen = 0
        for cid in available:
            match = next((i for i, w in enumerate(wanted) if cid.startswith(w + "/")), None)
            prio = 0 if match is None else 250 - match
            self.ep.codecSetPriority(cid, prio)
            chosen += match is not None
        if not chosen:
            raise SipError(f"none of the codecs {wanted} is available; have {sorted(available)}")

    def register_thread(self, name: str = "dialer") -> None:
        if not self.ep.libIsThreadRegistered():
            self.ep.libRegisterThread(name)

    def account(self, trunk: TrunkConfig, register_timeout_s: float = 10.0) -> SipAccount:
        acfg = pj.AccountConfig()
        acfg.idUri = trunk.id_uri(f"{self.bind}:{self.sip_port}")
        acfg.mediaConfig.transportConfig.port = self.rtp_port
        acfg.mediaConfig.transportConfig.portRange = self.rtp_range
        acfg.mediaConfig.transportConfig.boundAddress = self.bind
        if trunk.outbound_proxy:
            acfg.sipConfig.proxies.append(trunk.outbound_proxy)
        if trunk.username:
            acfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", trunk.realm, trunk.username, 0, trunk.password or "")
            )
        if trunk.registrar:
            acfg.regConfig.registrarUri = trunk.registrar
            acfg.regConfig.timeoutSec = 300
        else:
            acfg.regConfig.registerOnAdd = False
        acc = SipAccount(self)
        acc.create(acfg, True)
        self.accounts.append(acc)
        if trunk.registrar:
            deadline = time.monotonic() + register_timeout_s
            while True:
                try:
                    code, reason = acc.reg_events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise SipError(f"no answer from registrar {trunk.registrar} within "
                                   f"{register_timeout_s:.0f}s; check DIALER_SIP_REGISTRAR",
                                   retryable=True) from None
                if 200 <= code < 300:
                    break
                if code >= 300 or code == 0 or time.monotonic() > deadline:
                    raise SipError(f"registration at {trunk.registrar} failed: {code} {reason}; "
                                   "check DIALER_SIP_USERNAME / DIALER_SIP_PASSWORD",
                                   retryable=code in (0, 408, 503))
        return acc

    def make_call(self, account: SipAccount, uri: str, recording: Path | None = None) -> SipCall:
        call = SipCall(account, recording=recording)
        call.uri = uri
        prm = pj.CallOpParam(True)
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:
            raise SipError(f"cannot place the call: {exc.info()}",
                           retryable="TOOMANY" in exc.info().upper()) from exc
        return call

    def shutdown(self) -> None:
        try:
            self.ep.hangupAllCalls()
            time.sleep(0.2)
        except pj.Error:
            pass
        for acc in self.accounts:
            acc.shutdown()
        self.accounts.clear()
        self.ep.libDestroy()
