"""The SIP user agent: one pjsua2 Endpoint per process (made after any fork), its
transports, codecs and accounts (registration with digest credentials, an outbound
proxy), and calls placed through them. Calls are dialer/telephony/call.py, their audio
dialer/telephony/media.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import pjsua2 as pj

from dialer.telephony.call import SipCall, SipError
from dialer.telephony.media import CLOCK_RATE, FRAME_MS, AudioPipe
from dialer.telephony.trunk import TrunkConfig

log = logging.getLogger(__name__)


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


# Offered in this order: wideband first, then the G.711 every trunk has.
DEFAULT_CODECS = ("G722/16000", "PCMU/8000", "PCMA/8000")


class UserAgent:
    """One pjsua2 Endpoint. Create it in the process that uses it (after any fork)."""

    def __init__(self, sip_port: int = 0, rtp_port: int = 40000, rtp_range: int = 100,
                 bind: str = "127.0.0.1", public_address: str | None = None,
                 codecs: tuple[str, ...] = DEFAULT_CODECS, max_calls: int = 4,
                 log_level: int = 1, pipe_class: type[AudioPipe] = AudioPipe,
                 tx_drop_pct: int = 0) -> None:
        self._pipe_class = pipe_class  # the simulator's lines shape their audio (sandbox)
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
        # A simulated lossy network (the sandbox's lines): this share of the RTP packets
        # sent is dropped by pjmedia, so the far end's jitter buffer conceals them.
        cfg.medConfig.txDropPct = tx_drop_pct
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
            pipe = self._pipe_class()
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
