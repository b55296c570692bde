"""Simulated customers: a pjsua2 user agent that answers calls as personas from YAML.

Used by the demo, the end-to-end tests and campaign dry-runs. A persona is picked by the
number dialed (the user part of the request URI):

    personas:
      - name: interested
        number: "+821011110001"
        answer: answer          # answer | busy | no_answer | decline | machine
        hello: "여보세요"        # optional: said as soon as it answers
        greeting: "..."         # answer: machine -- played before its beep
        beep: false             # answer: machine -- one that records without a beep
        echo: {ms: 120, gain: 0.5}  # the line sends the robot's voice back to it
        hears: false            # one-way audio: the robot's voice never reaches it
        ring_s: 1.0
        replies:                # one entry per robot prompt, in order
          - say: "네 관심 있어요"
          - {say: "네", over: 0.8}  # said over the robot, 0.8 s into its prompt
          - {dtmf: "9"}         # key presses (RFC 4733), also with over:
          - {say: "여보세요", after: 2}  # 2 s after its last words (or the answer),
          #                       whatever the robot does (all a deaf persona can do)
          - silent              # let this prompt pass without a word
          - hangup
        expect: {disposition: interested, node: close_interested}  # what a dry-run checks

After each reply it says, the simulator logs a `latency` event: the milliseconds from the
end of its speech to the first audio frame of the robot's answer, as a caller hears it.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pjsua2 as pj

from dialer.sandbox.caller_voice import render, segments, with_pauses
from dialer.sandbox.line import SimulatedLine
from dialer.sandbox.listening import LOUD, Listening
from dialer.sandbox.noise import NoiseBeds, active_rms
from dialer.sandbox.personas import Persona
from dialer.sandbox.phone_lines import LineSpec
from dialer.telephony.call import SipCall
from dialer.telephony.media import CLOCK_RATE, FRAME_BYTES, FRAME_MS
from dialer.telephony.sip import DEFAULT_CODECS, SipAccount, UserAgent
from dialer.telephony.trunk import TrunkConfig
from voices.audio import rms, silence, tone
from voices.tts import TtsEngine

log = logging.getLogger(__name__)



def _dialed_user(uri: str) -> str:
    # '<sip:+8210...@127.0.0.1:5070>' or 'sip:+8210...@host;transport=udp'
    uri = uri.strip("<>").split("<")[-1].strip(">")
    return uri.removeprefix("sip:").split("@")[0]


class CustomerSimulator(Listening):
    def __init__(self, personas: dict[str, Persona], tts: TtsEngine, port: int = 5070,
                 rtp_port: int = 46000, bind: str = "127.0.0.1",
                 prompt_end_silence_ms: int = 900, give_up_s: float = 30.0,
                 trunk: TrunkConfig | None = None, record_dir: Path | None = None,
                 line: LineSpec | None = None) -> None:
        self.personas, self.tts = personas, tts
        self.cache_dir = getattr(tts, "cache_dir", None)
        # The line every call is on (codec, loss; noise unless a persona brings its own).
        self.line = line or LineSpec()
        # What each simulated person heard (only that), as call-<n>-<number>.wav.
        self.record_dir = record_dir
        self.prompt_end_silence_ms = prompt_end_silence_ms
        self.give_up_s = give_up_s
        self.ua = UserAgent(sip_port=port, rtp_port=rtp_port, bind=bind,
                            pipe_class=SimulatedLine, tx_drop_pct=int(self.line.loss_pct),
                            codecs=self.line.codecs() or DEFAULT_CODECS)
        self.account: SipAccount = self.ua.account(trunk or TrunkConfig(caller_id="customer"))
        self.account.on_incoming = self._incoming
        self._calls: queue.Queue[tuple[SipCall, Persona | None]] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self.handled = 0
        self._print_lock = threading.Lock()
        self._numbers = itertools.count(1)
        # Render every reply now: the first call should not wait for the synthesizer.
        said = [self._speech(p, r.text) for p in personas.values()
                for r in p.replies if r.kind == "say"]
        # Noise levels are set against how loud the personas speak.
        self.noise = NoiseBeds(active_rms(b"".join(said), FRAME_BYTES) or 3000.0, CLOCK_RATE,
                               self._babble_speech)

    def _babble_speech(self) -> list[np.ndarray]:
        """Sentences for a room's babble: background remarks in the simulator's voice."""
        from nlu.background import LANGUAGES, remarks

        voice = str(getattr(self.tts, "voice", "ko"))[:2]
        lines = remarks(voice if voice in LANGUAGES else "en")
        return [np.frombuffer(self.tts.synthesize(t, CLOCK_RATE), dtype="<i2").astype(float)
                for t in lines[::max(1, len(lines) // 12)][:12]]

    def _line_noise(self, persona: Persona, no: int) -> tuple[np.ndarray | None, int]:
        kind, snr = persona.noise if persona.noise is not None else (self.line.noise,
                                                                     self.line.snr_db)
        return self.noise.for_call(kind, snr), no * 7919 * FRAME_BYTES

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
            self._event(persona, "ringing", call=no, mode=persona.answer,
                        caller=call.getInfo().remoteUri)
            if persona.answer in ("busy", "decline"):
                time.sleep(min(persona.ring_s, 2.0))
                call.hangup_quietly(486 if persona.answer == "busy" else 603)
                return
            if persona.answer == "no_answer":
                call.disconnected.wait(self.give_up_s)  # ring until the robot cancels
                return
            time.sleep(persona.ring_s)
            if self.record_dir is not None:
                call.recording = self.record_dir / f"call-{no}-{persona.number}.wav"
                call.record_sent = False
            line = call.audio
            assert isinstance(line, SimulatedLine)  # this user agent's ports are lines
            line.shape(persona.echo_ms, persona.echo_gain, persona.hears,
                       *self._line_noise(persona, no))
            call.on_transfer = lambda old, dst: self._transferred(persona, no, dst)
            prm = pj.CallOpParam()
            prm.statusCode = 200
            call.answer(prm)
            if persona.answer == "machine":
                self._machine(call, persona, no)
            elif persona.answer == "agent":
                self._agent(call, persona, no)
            else:
                self._converse(call, persona, no)
        finally:
            if not call.disconnected.is_set():
                call.jitter = call.jitter_stats()
            call.hangup_quietly()
            call.disconnected.wait(5)
            call.release()
            self.handled += 1
            # How the robot's audio reached this caller: `empty` counts the frames its
            # jitter buffer had nothing for (a gap the caller hears, or concealment).
            self._event(persona, "ended", call=no, status=call.status, jitter=call.jitter,
                        codec=call.line_codec)

    def _converse(self, call: SipCall, persona: Persona, no: int) -> None:
        replies = list(persona.replies)
        spoke_until = 0.0  # end of our last speech; the robot's answer is timed from it
        if persona.hello:
            time.sleep(0.3)
            self._event(persona, "hello", call=no, text=persona.hello)
            spoke_until = self._say(call, persona.hello, persona)
        answered = time.monotonic()
        while not call.disconnected.is_set():
            after = replies[0].after_s if replies else None
            if after is not None:  # on a timer: nothing the robot does is waited for
                reply = replies.pop(0)
                due = (spoke_until or answered) + after
                if call.disconnected.wait(max(0.0, due - time.monotonic())):
                    return
                self._event(persona, reply.kind, call=no, text=reply.text, after=after)
                if reply.kind == "dtmf":
                    call.dialDtmf(reply.text)
                    spoke_until = time.monotonic()
                else:
                    spoke_until = self._say(call, reply.text, persona)
                continue
            if not persona.hears:  # said everything: stay until the robot hangs up
                call.disconnected.wait(self.give_up_s)
                return
            over = replies[0].over_s if replies else None
            if over is not None:
                reply = replies.pop(0)
                started = self._wait_robot_audio(call, spoke_until)
                if started is None:
                    return
                time.sleep(max(0.0, started + over - time.monotonic()))
                if reply.kind == "dtmf":
                    self._event(persona, "dtmf over", call=no, text=reply.text)
                    call.dialDtmf(reply.text)
                    continue
                self._event(persona, "say over", call=no, text=reply.text)
                spoke_until = self._say(call, reply.text, persona)
                began = call.audio.first_tx_at or spoke_until
                quiet = self._robot_went_quiet(call, began)
                self._event(persona, "robot quiet", call=no,
                            ms=round((quiet - began) * 1000, 1) if quiet else None)
                continue
            # A real person hangs up on a line that stays silent; so does the simulator.
            started = self._wait_prompt_end(call, time.monotonic() + self.give_up_s,
                                            spoke_until)
            if started is None:
                return
            if spoke_until:
                self._event(persona, "latency", call=no,
                            ms=round((started - spoke_until) * 1000, 1))
                spoke_until = 0.0
            if not replies:
                continue  # nothing more to say: stay on the line until the robot ends
            reply = replies.pop(0)
            self._event(persona, reply.kind, call=no, text=reply.text)
            if reply.kind == "hangup":
                return
            if reply.kind == "say":
                time.sleep(0.25)  # a person draws breath before answering
                spoke_until = self._say(call, reply.text, persona)
            elif reply.kind == "dtmf":
                call.dialDtmf(reply.text)

    def _transferred(self, persona: Persona, no: int, dst: str) -> SipCall:
        """The robot asked us (REFER) to call `dst`, an agent: the new call, on its own
        thread. pjsua2 thread: never block here."""
        new = SipCall(self.account)
        new.uri = dst
        if self.record_dir is not None:
            new.recording = self.record_dir / f"call-{no}-{persona.number}-transferred.wav"
            new.record_sent = False
        self._event(persona, "transferred", call=no, to=dst)
        t = threading.Thread(target=self._talk_after_transfer, args=(new, persona, no),
                             daemon=True)
        t.start()
        self._threads.append(t)
        return new

    def _talk_after_transfer(self, call: SipCall, persona: Persona, no: int) -> None:
        """Talk to the agent we were transferred to: listen to their greeting, say our
        last line again, stay until they hang up; log how much we heard of them."""
        self.ua.register_thread("sim-transfer")
        try:
            deadline = time.monotonic() + self.give_up_s
            while call.state != "CONFIRMED" and not call.disconnected.is_set():
                if time.monotonic() > deadline:
                    self._event(persona, "transfer unanswered", call=no)
                    return
                time.sleep(0.05)
            if call.disconnected.is_set():
                self._event(persona, "transfer failed", call=no, status=call.status)
                return
            answered = time.monotonic()
            self._event(persona, "transfer answered", call=no)
            heard_ms = 0
            said = False
            last = next((r.text for r in reversed(persona.replies) if r.kind == "say"), "")
            for item in self._frames_since(call, answered, answered + self.give_up_s * 4):
                if item is not None and rms(item[1]) > LOUD:
                    heard_ms += FRAME_MS
                if not said and last and time.monotonic() - answered > 3.0:
                    said = True
                    self._say(call, last)
            self._event(persona, "transfer heard", call=no, heard_ms=heard_ms)
        finally:
            call.hangup_quietly()
            call.disconnected.wait(5)
            call.release()

    def _agent(self, call: SipCall, persona: Persona, no: int) -> None:
        """A live agent's phone, auto-answering: says its greeting, then listens until
        the other side hangs up, and logs how much speech it heard (audio both ways)."""
        answered = time.monotonic()
        self._event(persona, "agent answered", call=no)
        self._say(call, persona.greeting)
        heard_ms = 0
        until = answered + (persona.talk_s or self.give_up_s * 4)
        for item in self._frames_since(call, answered, until):
            if item is not None and rms(item[1]) > LOUD:
                heard_ms += FRAME_MS
        self._event(persona, "agent heard", call=no, heard_ms=heard_ms)

    def _machine(self, call: SipCall, persona: Persona, no: int) -> None:
        """An answering machine: greeting, beep, then it records whatever comes. Logs how
        much the robot said over the greeting and how much it left after the beep."""
        answered = time.monotonic()
        beep = tone(1000, 500, CLOCK_RATE) if persona.beep else b""
        greeting = self.tts.synthesize(persona.greeting, CLOCK_RATE) + silence(300, CLOCK_RATE)
        call.audio.reset_tx_marks()
        call.audio.play(greeting + beep)
        while call.audio.playing and not call.disconnected.is_set():
            time.sleep(0.02)
        first = call.audio.first_tx_at or answered
        beep_end = first + (len(greeting) + len(beep)) / (CLOCK_RATE * 2)
        over_ms = message_ms = 0
        message_at: float | None = None
        for item in self._frames_since(call, answered, beep_end + self.give_up_s):
            if item is None:
                continue
            at, frame = item
            if rms(frame) <= LOUD:
                continue
            if at <= beep_end + 0.1:  # the bridge delivers a frame or two late
                over_ms += FRAME_MS
            else:
                message_at = message_at or at
                message_ms += FRAME_MS
        self._event(persona, "machine", call=no, robot_over_greeting_ms=over_ms,
                    message_ms=message_ms,
                    message_after_beep_ms=round((message_at - beep_end) * 1000, 1)
                    if message_at else None)

    def _speech(self, persona: Persona | None, text: str) -> bytes:
        """What the persona sounds like saying `text`: its voice, its pauses."""
        voice = persona.voice if persona is not None else None
        if voice is not None:  # in one breath: pauses keep the voice of someone not done
            return render(voice, text, CLOCK_RATE, self.cache_dir,
                          persona.pause_ms if persona else None)
        parts = [self.tts.synthesize(part, CLOCK_RATE) for part in segments(text)]
        return with_pauses(parts, persona.pause_ms if persona else 0, CLOCK_RATE)

    def _say(self, call: SipCall, text: str, persona: Persona | None = None) -> float:
        """Speak and wait until it has been sent; returns when the voiced part ended."""
        pcm = self._speech(persona, text)
        frames = [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
        voiced = max((i for i, f in enumerate(frames) if rms(f) > LOUD), default=0) + 1
        call.audio.reset_tx_marks()
        call.audio.play(pcm + silence(100, CLOCK_RATE))
        while call.audio.playing and not call.disconnected.is_set():
            time.sleep(0.02)
        first = call.audio.first_tx_at or time.monotonic()
        return first + voiced * FRAME_MS / 1000
