"""Frame processors and the pipeline that links them.

A processor handles the frame types it cares about and passes every other frame on
unchanged. `push` does not call the next processor directly: frames wait in the
pipeline's queue and are handled one at a time, in order, so a processor is never
re-entered while it is still handling a frame (barge-in makes the audio out answer up the
pipeline while the frame that caused it is still on its way down). Urgent frames
(interruptions, the end of the call: frames.UrgentFrame) jump the queue: they must act
before queued work, and are never dropped.

    pipeline = Pipeline([VadProcessor(...), AsrProcessor(...), ...], on_down=..., on_up=...)
    pipeline.push(InputAudio(pcm, at))

`run_test(processor, frames)` feeds frames to one processor and returns what came out of
each end, so processors are tested without a network.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Iterable

from dialer.conversation.frames import ErrorFrame, Frame, UrgentFrame

log = logging.getLogger(__name__)

class Direction(enum.Enum):
    DOWN = "down"  # from the customer's audio towards the robot's speech
    UP = "up"  # back towards the customer's audio (robot speaking, what to listen for)


DOWN, UP = Direction.DOWN, Direction.UP


class FrameProcessor:
    """One step of the call. Override `process`; call `push` for what goes on."""

    def __init__(self) -> None:
        self._pipeline: Pipeline | None = None
        self._index = -1

    @property
    def name(self) -> str:
        return type(self).__name__

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)

    def push(self, frame: Frame, direction: Direction = DOWN) -> None:
        if self._pipeline is None:
            raise RuntimeError(f"{self.name} is not in a pipeline")
        self._pipeline._enqueue(self._index + (1 if direction is DOWN else -1), frame,
                                direction)


class Pipeline:
    """Processors in order from the customer's audio to the robot's speech."""

    def __init__(self, processors: Iterable[FrameProcessor],
                 on_down: Callable[[Frame], None] | None = None,
                 on_up: Callable[[Frame], None] | None = None) -> None:
        self.processors = list(processors)
        for i, p in enumerate(self.processors):
            p._pipeline, p._index = self, i
        self.on_down = on_down or (lambda f: None)
        self.on_up = on_up or (lambda f: None)
        self._queue: deque[tuple[int, Frame, Direction]] = deque()
        self._running = False

    def push(self, frame: Frame, direction: Direction = DOWN) -> None:
        """Feed a frame in at the customer's end (DOWN) or the robot's end (UP) and handle
        everything it causes before returning."""
        start = 0 if direction is DOWN else len(self.processors) - 1
        self._enqueue(start, frame, direction)

    def _enqueue(self, index: int, frame: Frame, direction: Direction) -> None:
        item = (index, frame, direction)
        if isinstance(frame, UrgentFrame):
            self._queue.appendleft(item)
        else:
            self._queue.append(item)
        if not self._running:
            self._drain()

    def _drain(self) -> None:
        self._running = True
        try:
            while self._queue:
                index, frame, direction = self._queue.popleft()
                if index >= len(self.processors):
                    self.on_down(frame)
                elif index < 0:
                    self.on_up(frame)
                else:
                    processor = self.processors[index]
                    try:
                        processor.process(frame, direction)
                    except Exception as exc:
                        log.exception("%s failed on %s", processor.name, type(frame).__name__)
                        self._queue.append((index + 1, ErrorFrame(
                            f"{processor.name}: {type(exc).__name__}: {exc}"), DOWN))
        finally:
            self._running = False


def run_test(processor: FrameProcessor | list[FrameProcessor],
             frames: Iterable[Frame | tuple[Frame, Direction]]
             ) -> tuple[list[Frame], list[Frame]]:
    """Feed frames (DOWN unless paired with a direction) to the processor(s); return the
    frames that left the bottom end (down) and the top end (up)."""
    down: list[Frame] = []
    up: list[Frame] = []
    processors = processor if isinstance(processor, list) else [processor]
    pipeline = Pipeline(processors, on_down=down.append, on_up=up.append)
    for item in frames:
        frame, direction = item if isinstance(item, tuple) else (item, DOWN)
        pipeline.push(frame, direction)
    return down, up
