"""A call's audio as 20 ms frames between pjsua2's conference bridge and Python: the port
(AudioPipe) that queues what is received and sends what is queued, and reading a
frame's bytes without SWIG's slow copy.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

import pjsua2 as pj

log = logging.getLogger(__name__)


CLOCK_RATE = 16000  # conference bridge and our ports; codecs are resampled to it


FRAME_MS = 20


FRAME_BYTES = CLOCK_RATE * FRAME_MS // 1000 * 2


RX_MAX = 3000  # received frames kept for a consumer that stalls (a minute)


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
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, CLOCK_RATE, 1, FRAME_MS * 1000, 16)
        self.createPort("robot", fmt)

    # -- pjsua2 media thread --------------------------------------------------------
    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
            self.received(vector_bytes(frame.buf))

    def received(self, pcm: bytes) -> None:
        """A frame from the far end (a simulated line overrides this to shape it)."""
        if self.rx.qsize() < RX_MAX:  # a stalled consumer must not eat the memory
            self.rx.put_nowait((time.monotonic(), pcm))

    def outgoing(self, data: bytes | None) -> bytes | None:
        """The frame about to be sent, None for silence (a simulated line overrides this
        to mix something in)."""
        return data

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
        data = self.outgoing(data)
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
