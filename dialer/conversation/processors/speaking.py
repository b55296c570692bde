"""The robot's side: what to say rendered sentence by sentence (TTS) and played out on
the call's audio port as it is ready.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Protocol

from dialer.conversation.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Frame,
    InputAudio,
    Interruption,
    Speak,
    SpeechAudio,
    Tick,
)
from dialer.conversation.pipeline import UP, Direction, FrameProcessor

_SENTENCE_END = re.compile(r"(?<=[.?!。？！])\s+")


def sentences(text: str) -> list[str]:
    """The pieces TtsProcessor renders one by one (and the prompt cache holds)."""
    return [s for s in _SENTENCE_END.split(text) if s]


class TtsProcessor(FrameProcessor):
    """Renders what the policy says, a sentence at a time, so the first sentence plays
    while the next one renders (a reprompt is an apology plus the question again)."""

    def __init__(self, render: Callable[[str], bytes]) -> None:
        super().__init__()
        self.render = render

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if not isinstance(frame, Speak):
            return
        for i, sentence in enumerate(sentences(frame.text)):
            t = time.perf_counter()
            pcm = self.render(sentence)
            self.push(SpeechAudio(pcm, sentence, frame.node, (time.perf_counter() - t) * 1000,
                                  frame.reply_to_voiced_at if i == 0 else None,
                                  continues=i > 0))


class AudioSink(Protocol):
    """Where the robot's speech goes: the call's audio port (dialer.telephony.media.AudioPipe)."""

    first_tx_at: float | None
    last_tx_at: float | None

    def play(self, pcm: bytes) -> None: ...

    def clear(self) -> int: ...

    @property
    def playing(self) -> bool: ...

    def reset_tx_marks(self) -> None: ...


class AudioOutput(FrameProcessor):
    """Queues speech on the call's audio port and reports, up the pipeline, when the
    first frame of it actually left and when the last did; an Interruption empties the
    port at once."""

    def __init__(self, sink: AudioSink, drain_ms: float = 60.0) -> None:
        super().__init__()
        self.sink = sink
        self.drain_ms = drain_ms  # the bridge's own buffering after our last frame
        self.speaking = False
        self._announced = False
        self._text = ""
        # Sentences of a reply that came after the one before had played out: the caller
        # heard a hole in the middle of the robot's reply.
        self.underruns = 0

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, SpeechAudio):
            if frame.continues and self.sink.first_tx_at is not None \
                    and not self.sink.playing:
                self.underruns += 1
            if not self.speaking:
                self.sink.reset_tx_marks()
                self.speaking, self._announced, self._text = True, False, frame.text
            self.sink.play(frame.pcm)
        elif isinstance(frame, Interruption):
            self.sink.clear()
            if self.speaking:
                self.speaking = False
                self.push(BotStoppedSpeaking(frame.at, interrupted=True), UP)
        elif isinstance(frame, InputAudio | Tick) and self.speaking:
            self._poll(frame.at)
        self.push(frame, direction)

    def _poll(self, now: float) -> None:
        first = self.sink.first_tx_at
        if not self._announced and first is not None:
            self._announced = True
            self.push(BotStartedSpeaking(first, self._text), UP)
        last = self.sink.last_tx_at
        if (self._announced and not self.sink.playing and last is not None
                and (now - last) * 1000 >= self.drain_ms):
            self.speaking = False
            self.push(BotStoppedSpeaking(last), UP)
