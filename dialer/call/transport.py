"""The SIP call as the pipeline's two ends, the way a transport pairs an input and an
output: SipInput turns the line into frames (the callee's audio, key presses, the line
going dead or the callee hanging up), and the pipeline's last processor plays the
robot's speech on the same call (dialer.conversation.processors.AudioOutput)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

from dialer.conversation.frames import (
    CallerHungUp,
    Dtmf,
    Frame,
    InputAudio,
    LineDead,
    Tick,
)
from dialer.conversation.processors import AudioOutput
from dialer.telephony.call import SipCall
from dialer.telephony.media import FRAME_MS


class SipInput:
    """Reads the call one frame time at a time. A round yields the key presses that came,
    then one audio frame (or a Tick when none came within a frame time, so the
    pipeline's timers still run); or, alone, the end of the line: the callee hung up, or
    no RTP arrived for `no_rtp_s` (checked once a second)."""

    def __init__(self, call: SipCall, no_rtp_s: float, started_at: float) -> None:
        self.call, self.no_rtp_s = call, no_rtp_s
        self._rtp_seen, self._rtp_at, self._rtp_checked = -1, started_at, 0.0

    def read(self) -> Iterator[Frame]:
        call = self.call
        now = time.monotonic()
        if now - self._rtp_checked >= 1.0:
            self._rtp_checked = now
            packets = call.rtp_packets_received()
            if packets is not None and packets != self._rtp_seen:
                self._rtp_seen, self._rtp_at = packets, now
            elif now - self._rtp_at >= self.no_rtp_s:
                yield LineDead(now, "no RTP", silent_s=self.no_rtp_s)
                return
        if call.disconnected.is_set():
            yield CallerHungUp(time.monotonic(), "customer hung up")
            return
        while not call.events.empty():
            ev = call.events.get_nowait()
            if ev.kind == "dtmf":
                yield Dtmf(str(ev.digit), ev.at)
        try:
            at, pcm = call.audio.rx.get(timeout=FRAME_MS / 1000)
        except queue.Empty:  # no RTP: the timers still run
            yield Tick(time.monotonic())
        else:
            yield InputAudio(pcm, at)


def sip_output(call: SipCall) -> AudioOutput:
    """The pipeline's output end on this call's audio port."""
    return AudioOutput(call.audio)
