"""How a simulated caller listens to the robot: frames as they arrive, when the robot
starts speaking, goes quiet or ends a prompt (the customer simulator's ears)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

from dialer.telephony.call import SipCall
from voices.audio import rms

LOUD = 300  # RMS of a 20 ms frame above which it is speech, not line silence


class Listening:
    give_up_s: float
    prompt_end_silence_ms: int

    def _frames_since(self, call: SipCall, since: float, deadline: float
                      ) -> Iterator[tuple[float, bytes] | None]:
        """Received frames that arrived after `since` (older ones are dropped); None every
        0.2 s of nothing, so callers can check the call; ends at the deadline."""
        rx = call.audio.rx
        stats_at = 0.0
        while time.monotonic() < deadline and not call.disconnected.is_set():
            if time.monotonic() - stats_at >= 0.5:  # gone with the stream once it ends
                stats_at = time.monotonic()
                call.jitter = call.jitter_stats() or call.jitter
                call.line_codec = call.line_codec or call.codec()
            try:
                at, frame = rx.get(timeout=0.2)
            except queue.Empty:
                yield None
                continue
            if at > since:
                yield at, frame

    def _robot_went_quiet(self, call: SipCall, since: float) -> float | None:
        """After we started speaking over the robot at `since`: when its last loud frame
        before a 300 ms pause arrived (None if it never paused within 3 s)."""
        last = since
        for item in self._frames_since(call, since, since + 3.0):
            if item is None:
                continue
            at, frame = item
            if rms(frame) > LOUD:
                last = at
            elif at - last >= 0.3:
                return last
        return None

    def _wait_robot_audio(self, call: SipCall, since: float) -> float | None:
        """When the robot's next speech started (its first loud frame); None if it never
        did or the call ended."""
        for item in self._frames_since(call, since, time.monotonic() + self.give_up_s):
            if item is not None and rms(item[1]) > LOUD:
                return item[0]
        return None

    def _wait_prompt_end(self, call: SipCall, deadline: float, since: float) -> float | None:
        """Block until the robot has spoken and gone quiet; returns when its speech began,
        None if the call ended or the line stayed silent."""
        spoke_ms = quiet_ms = 0
        began: float | None = None
        for item in self._frames_since(call, since, deadline):
            if item is None:
                continue
            at, frame = item
            if rms(frame) > LOUD:
                began = began or at
                spoke_ms += 20
                quiet_ms = 0
            else:
                quiet_ms += 20
            if spoke_ms >= 200 and quiet_ms >= self.prompt_end_silence_ms:
                return began
        return None
