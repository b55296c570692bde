"""The robot must never hear itself: its own speech coming back on the line (a handset
on speaker, a hybrid's line echo) would otherwise open utterances and interrupt it.

`EchoCanceller` is a line echo canceller. The last 100 ms of what is received is
compared with the robot's own audio of the last `max_delay_ms` (normalised
cross-correlation through the FFT, at every lag); when one lag explains it, that is an
echo path (delay and gain). Along it, the robot's audio is subtracted from every frame
(the linear part), and a frame the echo explains almost wholly is muted (the non-linear
part: codec noise is left over from the subtraction). A customer who talks over the echo
leaves far more than that, so their voice passes: barge-in still works.

A real line's path is not one fixed delay: a jitter buffer that grows, shrinks or
drops a frame moves it, and on a loaded machine it moves back and forth (seen: 183 and
193 ms in turn, every second or so). So the paths found in a call are kept (the last
few), and each half frame is cancelled along whichever of them explains it best: a move
back to a known path costs no frame of echo, only a new one waits for its confirmation.

`EchoGuard` is the processor: it sits first in the pipeline and replaces the audio of
each received frame with what is left after cancellation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from dialer.conversation.frames import Frame, InputAudio
from dialer.conversation.pipeline import Direction, FrameProcessor


@dataclass(frozen=True)
class EchoConfig:
    max_delay_ms: int = 400  # round trip of the far end's echo we look for
    block_ms: int = 100  # received audio compared at once (one 20 ms frame is too short:
    #                      chance likeness with some lag of our speech is too high)
    lock_corr: float = 0.8  # a block this like our own speech at one lag: echo path found
    # A frame whose leftover after subtraction is this small next to the echo estimate
    # held only our voice: it is muted (codec noise is what is left). A customer talking
    # over the echo leaves far more: their voice passes.
    mute_ratio: float = 0.15
    min_ref_dbfs: float = -45.0  # the robot said something in the window worth looking for
    # A received block quieter than this is left alone: the VAD hears it as silence
    # anyway, so there is no echo in it worth a search (most of a call: the customer is
    # quiet while the robot talks, the robot is quiet while they talk).
    min_rx_dbfs: float = -50.0
    search_every: int = 5  # once locked, the path is searched again every this many frames
    search_every_unlocked: int = 2  # before: blocks overlap, every other one is enough
    # A path is taken only when two blocks this far apart (no overlap) agree on it: one
    # block can be like our speech by chance (same synthetic voice on both sides: seen
    # at 0.84), a real echo path repeats through everything the robot says.
    confirm_ms: int = 100
    # A path already known is learnt again (its gain) only from a block this like our
    # voice: while the customer talks over the echo, a block can still pass `lock_corr`
    # at the path's lag, but the gain measured on it is theirs as much as ours (seen:
    # the echo left whole after such a re-learning).
    relearn_corr: float = 0.9
    known_paths: int = 4  # paths found in this call that are tried on every frame
    # ... and the current one moved by these many ms either way: the steps a jitter
    # buffer moves in (10 ms codec frames as G.722's, 20 ms as G.711's), tried at once
    # rather than after a search confirms them.
    steps_ms: tuple[int, ...] = (10, 20)


class EchoCanceller:
    """Finds the echo path (delay and gain) on blocks where our voice comes back alone,
    keeps it, and removes our voice along it from every frame, also while the customer
    talks (double talk: the path is not re-learnt then, their voice stays)."""

    def __init__(self, sample_rate: int, frame_ms: int = 20,
                 config: EchoConfig | None = None) -> None:
        self.cfg = config or EchoConfig()
        self.sample_rate = sample_rate
        self.n = sample_rate * frame_ms // 1000
        self.block = max(self.n, sample_rate * self.cfg.block_ms // 1000)
        self.window = sample_rate * self.cfg.max_delay_ms // 1000 + self.block
        size = 1
        while size < self.window + self.block:
            size *= 2
        self.fft_size = size
        self._min_ref_energy = self.n * (32768.0 * 10 ** (self.cfg.min_ref_dbfs / 20)) ** 2
        self._min_rx_energy = self.block * (32768.0 * 10 ** (self.cfg.min_rx_dbfs / 20)) ** 2
        self._rx = np.zeros(self.block)
        self._rx_energy: deque[float] = deque([0.0] * (self.block // self.n),
                                              maxlen=self.block // self.n)
        self.searches = 0
        self._since_search = 0
        self._suspect = False
        self._frame_no = 0
        self._seen: list[tuple[int, int, float]] = []  # (frame no, delay, gain) candidates
        self.frames_cancelled = 0
        self.frames_muted = 0
        self.paths: list[tuple[int, int]] = []  # (frame no, delay) each time a path was taken
        # (delay in samples, gain) of the paths found, the one in use first
        self.known: list[tuple[int, float]] = []
        self._steps = [sample_rate * ms // 1000 for ms in self.cfg.steps_ms]

    @property
    def delay(self) -> int | None:
        """The path in use (samples), once one is found."""
        return self.known[0][0] if self.known else None

    @property
    def gain(self) -> float:
        return self.known[0][1] if self.known else 0.0

    @property
    def last_delay_ms(self) -> float | None:
        return None if self.delay is None else self.delay * 1000 / self.sample_rate

    def _search(self, ref: np.ndarray) -> None:
        """Lock the echo path if the last block of received audio is our own voice."""
        b = self.block
        rx_energy = sum(self._rx_energy)
        if rx_energy < self._min_rx_energy:
            return
        ref_sq = np.concatenate(([0.0], np.cumsum(ref * ref)))
        seg_energy = ref_sq[b:] - ref_sq[:-b]
        if float(seg_energy.max()) <= self._min_ref_energy:
            return  # no lag would qualify: we were quiet, nothing of ours can come back
        self.searches += 1
        spec = np.fft.rfft(ref, self.fft_size) * np.conj(np.fft.rfft(self._rx, self.fft_size))
        dots = np.fft.irfft(spec, self.fft_size)[:len(seg_energy)]
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = np.where(seg_energy > self._min_ref_energy,
                            np.abs(dots) / np.sqrt(seg_energy * rx_energy), 0.0)
        lag = int(np.argmax(corr))  # a hybrid may invert the echo: the gain's sign follows
        if corr[lag] < self.cfg.lock_corr:
            return
        delay, gain = len(ref) - lag - b, float(dots[lag] / seg_energy[lag])
        span = self.cfg.confirm_ms * self.sample_rate // 1000 // self.n  # in frames
        now = self._frame_no
        self._seen = [c for c in self._seen if now - c[0] <= 4 * span]
        self._seen.append((now, delay, gain))
        agree = [c for c in self._seen if abs(c[1] - delay) <= 2]
        # A jitter buffer that grows or shrinks moves a known path by a few frames: a
        # move that small is followed at once (two blocks in a row agree), a new path
        # far from it must be confirmed by blocks `confirm_ms` apart.
        near = self.delay is not None and abs(delay - self.delay) <= 4 * self.n
        if (near and len(agree) >= 2) or (len(agree) >= 2 and now - agree[0][0] >= span):
            if corr[lag] < self.cfg.relearn_corr and any(
                    abs(d - delay) <= 2 for d, _ in self.known):
                return  # a path we have, in a block with more than our voice in it
            self._use(delay, gain, now)

    def process(self, rx_pcm: bytes, ref_pcm: bytes) -> bytes:
        """`ref_pcm`: the robot's audio that ends when `rx_pcm` arrived (the last
        `window` samples of it); returns the frame with the echo removed."""
        rx = np.frombuffer(rx_pcm, dtype="<i2").astype(np.float64)
        if len(rx) != self.n:
            return rx_pcm
        self._rx = np.concatenate((self._rx[self.n:], rx))
        self._rx_energy.append(float(rx @ rx))
        self._frame_no += 1
        ref = np.frombuffer(ref_pcm, dtype="<i2").astype(np.float64)[-self.window:]
        if len(ref) < self.window:
            ref = np.concatenate((np.zeros(self.window - len(ref)), ref))
        self._since_search += 1
        every = self.cfg.search_every if self.delay is not None \
            else self.cfg.search_every_unlocked
        if self._since_search >= every or self._suspect:
            self._since_search = 0
            self._search(ref)
        if self.delay is None:
            return rx_pcm
        return self._cancel(rx, rx_pcm, ref)

    def _use(self, delay: int, gain: float, frame_no: int) -> None:
        """Cancel along this path from now on; it joins (or leads) the known ones."""
        if self.delay is None or abs(self.delay - delay) > 2:
            self.paths.append((frame_no, delay))
        others = [p for p in self.known if abs(p[0] - delay) > 2]
        self.known = [(delay, gain), *others][:self.cfg.known_paths]

    def _cancel(self, rx: np.ndarray, rx_pcm: bytes, ref: np.ndarray) -> bytes:
        """Subtract our voice along the known path that explains each half frame best
        (a move between two known paths may fall inside a frame); a frame the echo
        explains almost wholly is muted. When no known path explains it, the current
        one moved by a jitter buffer's step is tried, and taken if it does."""
        delay, gain = self.known[0]
        echoes = self._echoes(ref, self.known)
        if not echoes:
            return rx_pcm  # what comes back now is from a moment the robot was quiet
        self.frames_cancelled += 1
        out, explained, use = self._subtract(rx, echoes)
        if not explained:
            near = [(delay + sign * step, gain)
                    for step in self._steps for sign in (-1, 1)]
            moved = self._echoes(ref, [p for p in near
                                       if all(abs(p[0] - d) > 2 for d, _ in self.known)])
            if moved:
                out2, explained2, use2 = self._subtract(rx, echoes + moved)
                if explained2:
                    out, explained, use = out2, explained2, use2
        if use[0] != delay:  # the line moved: to a path it had before, or a step
            self._use(use[0], use[1], self._frame_no)
        # Much left over: the customer talks, or the path moved; search on every frame.
        self._suspect = not explained
        if explained:
            self.frames_muted += 1
            return b"\x00" * len(rx_pcm)
        return np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes()

    def _echoes(self, ref: np.ndarray, paths: list[tuple[int, float]]
                ) -> list[tuple[int, float, np.ndarray]]:
        """(delay, gain, our voice coming back along it now) of each path; none when
        nothing of ours comes back along any of them (we were quiet then). A path
        along which we were quiet stays a candidate while another is not: at the onset
        of a word the true path may still be silent while a wrong one is not, and
        subtracting the wrong one would put our voice into what the robot hears."""
        n, found, loud = self.n, [], False
        for delay, gain in paths:
            end = len(ref) - delay
            if delay < 0 or end - n < 0:
                continue
            segment = ref[end - n:end]
            loud = loud or float(segment @ segment) >= self._min_ref_energy
            found.append((delay, gain, gain * segment))
        return found if loud else []

    def _subtract(self, rx: np.ndarray, echoes: list[tuple[int, float, np.ndarray]]
                  ) -> tuple[np.ndarray, bool, tuple[int, float, np.ndarray]]:
        """rx less the echo along the best path for each half; whether that leaves
        hardly anything (the frame was our voice), and the path of the last half."""
        h = self.n // 2
        out = np.empty(self.n)
        left_energy = echo_energy = 0.0
        use = echoes[0]
        for lo in (0, h):
            part = rx[lo:lo + h]
            use = min(echoes, key=lambda e: float(np.sum((part - e[2][lo:lo + h]) ** 2)))
            echo = use[2][lo:lo + h]
            out[lo:lo + h] = left = part - echo
            left_energy += float(left @ left)
            echo_energy += float(echo @ echo)
        return out, left_energy <= self.cfg.mute_ratio * echo_energy, use


class EchoGuard(FrameProcessor):
    """Takes the robot's own voice out of what it hears (see the module's doc)."""

    def __init__(self, reference: Callable[[float, int], bytes], sample_rate: int,
                 frame_ms: int = 20, config: EchoConfig | None = None) -> None:
        super().__init__()
        self.canceller = EchoCanceller(sample_rate, frame_ms, config)
        # reference(at, nbytes): the robot's sent audio up to time `at`, its last nbytes
        self.reference = reference
        self._ref_bytes = self.canceller.window * 2

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, InputAudio):
            ref = self.reference(frame.at, self._ref_bytes)
            if ref:
                pcm = self.canceller.process(frame.pcm, ref)
                if pcm is not frame.pcm:
                    frame = replace(frame, pcm=pcm)
        self.push(frame, direction)
