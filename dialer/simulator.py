"""Simulated customers: a pjsua2 user agent that answers calls as personas from YAML.

Used by the demo, the end-to-end tests and campaign dry-runs. A persona is picked by the
number dialed (the user part of the request URI):

    personas:
      - name: interested
        number: "+821011110001"
        answer: answer          # answer | busy | no_answer | decline
        ring_s: 1.0
        replies:                # one entry per robot prompt, in order
          - say: "네 관심 있어요"
          - silent              # let this prompt pass without a word
          - hangup
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pjsua2 as pj
import yaml

from dialer.sip import CLOCK_RATE, SipAccount, SipCall, TrunkConfig, UserAgent
from voices.audio import rms, silence
from voices.tts import TtsEngine

log = logging.getLogger(__name__)

ANSWER_MODES = {"answer", "busy", "no_answer", "decline"}


class PersonaError(ValueError):
    pass


@dataclass(frozen=True)
class Reply:
    kind: str  # say | silent | hangup
    text: str = ""


@dataclass(frozen=True)
class Persona:
    name: str
    number: str
    answer: str = "answer"
    ring_s: float = 1.0
    replies: tuple[Reply, ...] = field(default_factory=tuple)


def load_personas(path: Path | str) -> dict[str, Persona]:
    """Personas by number. Errors name the file and the persona."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PersonaError(f"{path}: cannot read personas ({exc})") from None
    items = (data or {}).get("personas") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise PersonaError(f"{path}: expected 'personas:' with a list of personas")
    out: dict[str, Persona] = {}
    for i, raw in enumerate(items, 1):
        name = str(raw.get("name", f"#{i}"))
        where = f"{path}: persona {name!r}"
        number = str(raw.get("number", "")).strip()
        if not number:
            raise PersonaError(f"{where}: 'number:' is required (the number the robot dials)")
        mode = raw.get("answer", "answer")
        if mode not in ANSWER_MODES:
            raise PersonaError(f"{where}: answer {mode!r} must be one of {sorted(ANSWER_MODES)}")
        replies = []
        for r in raw.get("replies") or []:
            if isinstance(r, dict) and "say" in r:
                replies.append(Reply("say", str(r["say"])))
            elif r in ("silent", "hangup"):
                replies.append(Reply(str(r)))
            else:
                raise PersonaError(f"{where}: reply {r!r} must be {{say: text}}, silent or hangup")
        out[number] = Persona(name=name, number=number, answer=mode,
                              ring_s=float(raw.get("ring_s", 1.0)), replies=tuple(replies))
    return out


def _dialed_user(uri: str) -> str:
    # '<sip:+8210...@127.0.0.1:5070>' or 'sip:+8210...@host;transport=udp'
    uri = uri.strip("<>").split("<")[-1].strip(">")
    return uri.removeprefix("sip:").split("@")[0]


class CustomerSimulator:
    def __init__(self, personas: dict[str, Persona], tts: TtsEngine, port: int = 5070,
                 rtp_port: int = 46000, bind: str = "127.0.0.1",
                 prompt_end_silence_ms: int = 900, give_up_s: float = 30.0,
                 trunk: TrunkConfig | None = None) -> None:
        self.personas, self.tts = personas, tts
        self.prompt_end_silence_ms = prompt_end_silence_ms
        self.give_up_s = give_up_s
        self.ua = UserAgent(sip_port=port, rtp_port=rtp_port, bind=bind)
        self.account: SipAccount = self.ua.account(trunk or TrunkConfig(caller_id="customer"))
        self.account.on_incoming = self._incoming
        self._calls: queue.Queue[tuple[SipCall, Persona | None]] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self.handled = 0
        self._print_lock = threading.Lock()
        self._numbers = itertools.count(1)
        # Render every reply now: the first call should not wait for the synthesizer.
        for p in personas.values():
            for r in p.replies:
                if r.kind == "say":
                    tts.synthesize(r.text, CLOCK_RATE)

    def _incoming(self, call_id: int) -> None:  # pjsua2 thread: never block here
        call = SipCall(self.account, call_id)
        persona = self.personas.get(_dialed_user(call.getInfo().localUri))
        prm = pj.CallOpParam()
        prm.statusCode = 180 if persona else 404
        call.answer(prm)
        self._calls.put((call, persona))

    def serve(self, duration_s: float | None = None) -> None:
        """Answer calls until stop() or duration_s; each call runs on its own thread."""
        self.ua.register_thread("simulator")
        end = time.monotonic() + duration_s if duration_s else None
        while not self.stopping.is_set() and (end is None or time.monotonic() < end):
            try:
                call, persona = self._calls.get(timeout=0.2)
            except queue.Empty:
                continue
            t = threading.Thread(target=self._handle, args=(call, persona), daemon=True)
            t.start()
            self._threads.append(t)
        for t in self._threads:
            t.join(timeout=5)

    def stop(self) -> None:
        self.stopping.set()

    def shutdown(self) -> None:
        self.ua.shutdown()

    def _event(self, persona: Persona | None, what: str, **kw: object) -> None:
        # One whole line per write: threads of concurrent calls share stdout.
        line = json.dumps({"t": datetime.now().isoformat(timespec="milliseconds"),
                           "sim": persona.name if persona else None, "event": what, **kw},
                          ensure_ascii=False)
        with self._print_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def _handle(self, call: SipCall, persona: Persona | None) -> None:
        self.ua.register_thread("sim-call")
        no = next(self._numbers)
        try:
            if persona is None:
                self._event(None, "unknown number", call=no, uri=call.getInfo().localUri)
                return
            self._event(persona, "ringing", call=no, mode=persona.answer)
            if persona.answer in ("busy", "decline"):
                time.sleep(min(persona.ring_s, 2.0))
                call.hangup_quietly(486 if persona.answer == "busy" else 603)
                return
            if persona.answer == "no_answer":
                call.disconnected.wait(self.give_up_s)  # ring until the robot cancels
                return
            time.sleep(persona.ring_s)
            prm = pj.CallOpParam()
            prm.statusCode = 200
            call.answer(prm)
            self._converse(call, persona, no)
        finally:
            call.hangup_quietly()
            call.disconnected.wait(5)
            call.release()
            self.handled += 1
            self._event(persona, "ended", call=no, status=call.status)

    def _converse(self, call: SipCall, persona: Persona, no: int) -> None:
        replies = list(persona.replies)
        while not call.disconnected.is_set():
            # A real person hangs up on a line that stays silent; so does the simulator.
            if not self._wait_prompt_end(call, time.monotonic() + self.give_up_s):
                return
            if not replies:
                continue  # nothing more to say: stay on the line until the robot ends
            reply = replies.pop(0)
            self._event(persona, reply.kind, call=no, text=reply.text)
            if reply.kind == "hangup":
                return
            if reply.kind == "say":
                time.sleep(0.25)  # a person draws breath before answering
                call.audio.play(self.tts.synthesize(reply.text, CLOCK_RATE)
                                + silence(100, CLOCK_RATE))
                while call.audio.playing and not call.disconnected.is_set():
                    time.sleep(0.02)

    def _wait_prompt_end(self, call: SipCall, deadline: float) -> bool:
        """Block until the robot has spoken and gone quiet; False if the call ended."""
        rx = call.audio.rx
        while not rx.empty():
            rx.get_nowait()
        spoke_ms = quiet_ms = 0
        while time.monotonic() < deadline:
            if call.disconnected.is_set():
                return False
            try:
                _, frame = rx.get(timeout=0.2)
            except queue.Empty:
                continue
            if rms(frame) > 300:
                spoke_ms += 20
                quiet_ms = 0
            else:
                quiet_ms += 20
            if spoke_ms >= 200 and quiet_ms >= self.prompt_end_silence_ms:
                return True
        return False
