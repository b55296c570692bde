"""Settings of the telephony side: broker, SIP trunk, ports, call limits."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialer.telephony.trunk import TrunkConfig


class DialerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIALER_", extra="ignore")

    broker_url: str = "redis://127.0.0.1:6379/0"

    # The trunk. Defaults dial a loopback peer directly (the customer simulator).
    sip_trunk: str = "127.0.0.1:5070"  # host[:port] of the request URI sip:<number>@<trunk>
    sip_registrar: str | None = None  # e.g. sip:pbx.example.com — REGISTER when set
    sip_username: str | None = None
    sip_password: str | None = None
    sip_realm: str = "*"
    sip_outbound_proxy: str | None = None  # e.g. sip:proxy.example.com;lr
    sip_caller_id: str | None = None  # default caller ID; a campaign may override it
    sip_transport: str = "udp"
    sip_bind: str = "127.0.0.1"  # address SIP and RTP bind to; 0.0.0.0 for a real trunk
    sip_public_address: str | None = None  # address to advertise behind NAT
    sip_port: int = 0  # 0 = any free port; each call process needs its own
    # Priority order. Wideband G.722 first: the ASR model is trained on 16 kHz audio and
    # measured intent accuracy on narrowband (PCMU) synthetic speech is far lower. Trunks
    # that only speak PCMU/PCMA negotiate those; L16/44100 is available too.
    sip_codecs: str = "G722/16000,PCMU/8000,PCMA/8000"
    rtp_port_base: int = 40000
    rtp_ports_per_process: int = 200  # process i uses [base + i*n, base + (i+1)*n)
    pjsip_log_level: int = 1

    # A sandbox worker calls simulated customers only (a dry-run's private worker, the
    # demo's, the tests'): it claims and dials dry-run campaigns and nothing else, its
    # trunk must be on loopback without credentials, and a production worker (the
    # default) never claims or dials a dry-run. sandbox_campaign binds it to one.
    sandbox: bool = False
    sandbox_campaign: int | None = None

    # Calls.
    call_processes: int = 2  # Celery prefork children that place calls
    # Calls at once in each of them, on threads sharing its pjsua2 Endpoint (1-4: the
    # pjsua2 wheel holds at most 4 calls a process).
    calls_per_process: int = Field(default=4, ge=1, le=4)
    max_call_s: float = 300.0
    # An open call's lease: its process renews it every fifth of this; a call whose
    # process stopped is closed as `interrupted` once it runs out (campaigns.leases).
    call_lease_s: float = Field(default=15.0, ge=3.0, le=600.0)
    # How long a call keeps what it must store (turns, its outcome) while the database
    # is away, retrying; the call itself goes on regardless.
    db_outage_s: float = Field(default=120.0, ge=0.0, le=3600.0)
    # Trailing silence that ends the customer's turn: the floor under the robot's reply
    # latency. Shorter answers sooner but may cut a reply at a pause.
    vad_end_silence_ms: int = 300
    # Frames quieter than this are silence to the endpointer (raise it on noisy lines).
    vad_floor_dbfs: float = -50.0
    # What tells the caller's speech from the line's noise: silero (a neural model, holds
    # on street and babble noise) or webrtc (cheaper, takes much noise for speech).
    vad_engine: Literal["silero", "webrtc"] = "webrtc"
    # What decides that a pause ends the caller's reply. silence: any pause of
    # vad_end_silence_ms. words: the recogniser's early reading; a reply that stops on
    # a filler or a word that leads on ("음", "그게", "-는데") is waited for, up to
    # turn_max_pause_ms, and a finished one is answered after 200 ms. model: Smart Turn
    # on the audio (it could not tell the simulator's Korean apart; ~95 ms CPU a check).
    turn_end: Literal["silence", "words", "model"] = "silence"
    turn_max_pause_ms: int = Field(default=1200, ge=300, le=5000)
    # Without answering-machine detection: a silent callee is greeted after this long,
    # one who says "여보세요?" first once it is heard, never talked over (0: at once).
    opening_wait_s: float = Field(default=1.0, ge=0.0, le=5.0)
    # Trailing silence after which the reply is understood ahead of the endpoint (0: off).
    asr_early_final_ms: float = 150.0
    # Remove the robot's own voice coming back on the line before anything listens.
    echo_guard: bool = True
    # Speech over the robot longer than this interrupts it; shorter is a backchannel.
    barge_in_min_ms: float = 400.0

    # Handoff to people (dialer.handoff.acd, dialer.handoff.desk): the Redis that holds agents and
    # queues, shared by every worker and web host; unset: the broker's Redis.
    acd_url: str | None = None
    handoff_offer_s: float = 15.0  # an agent has this long to accept in the console
    handoff_ring_s: float = 20.0  # an agent's phone has this long to answer

    # Operations: GET /metrics (Prometheus) wants an admin's or supervisor's login, or
    # this token (a scraper cannot log in).
    metrics_token: str | None = Field(
        default=None, description="When set, GET /metrics also opens to the header "
                                  "`Authorization: Bearer <this token>`; without it, only "
                                  "to a logged-in admin or supervisor (401 otherwise).")

    @property
    def resolved_acd_url(self) -> str | None:
        """None when there is no Redis to share agents through (handoffs just end)."""
        url = self.acd_url or self.broker_url
        return url if url.startswith(("redis://", "rediss://", "unix://")) else None

    def trunk(self, caller_id: str | None = None) -> TrunkConfig:
        """The workers' own trunk (a campaign may name another: campaigns/trunks.py)."""
        return TrunkConfig(host=self.sip_trunk, registrar=self.sip_registrar,
                           username=self.sip_username, password=self.sip_password,
                           realm=self.sip_realm, outbound_proxy=self.sip_outbound_proxy,
                           caller_id=caller_id or self.sip_caller_id,
                           transport=self.sip_transport)

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox or self.sandbox_campaign is not None

    def sandbox_problem(self) -> str | None:
        """Why this sandbox worker must not start (its calls could leave the machine),
        or None: the trunk, and any registrar or outbound proxy, must be on loopback."""
        if not self.is_sandbox:
            return None
        for name in ("sip_trunk", "sip_registrar", "sip_outbound_proxy"):
            value = getattr(self, name)
            if value and not _on_loopback(value):
                return (f"a sandbox worker (DIALER_SANDBOX) dials simulated customers on "
                        f"this machine only, but DIALER_{name.upper()} is {value}; point "
                        "it at 127.0.0.1 (the simulator, or a test trunk there)")
        return None

    @property
    def codecs(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.sip_codecs.split(",") if c.strip())


def _on_loopback(target: str) -> bool:
    """Whether host[:port], [v6]:port or sip:host[:port][;params] names this machine."""
    host = target.split(";", 1)[0].removeprefix("sips:").removeprefix("sip:")
    host = host.rsplit("@", 1)[-1]
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
