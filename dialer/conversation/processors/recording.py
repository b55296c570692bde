"""The conversation written down as it happens: each turn, the customer's and the
robot's, with its timings.
"""

from __future__ import annotations

from typing import Any

from dialer.conversation.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Frame,
    Interruption,
    ParseResult,
    Speak,
    SpeechAudio,
    StartFrame,
    TurnSaid,
    TurnUpdated,
)
from dialer.conversation.outcomes import TurnRecord
from dialer.conversation.pipeline import Direction, FrameProcessor


class TurnRecorder(FrameProcessor):
    """Writes the transcript as turns, with the metrics of each: for a customer turn the
    recogniser's and the NLU's time and the latency from the end of their speech to the
    first frame of the robot's reply; for a robot turn the TTS time and whether the
    customer interrupted it. Each turn goes down the pipeline as a TurnSaid frame, and
    again as TurnUpdated when its figures change; whoever runs the call numbers and
    stores them (`seq` is 0 until then)."""

    def __init__(self, bytes_per_ms: float = 32.0) -> None:
        super().__init__()
        self.bytes_per_ms = bytes_per_ms  # of the speech PCM (16 kHz x 2 bytes: 32)
        self.answered_at = 0.0
        self._speak: Speak | None = None
        self._tts_ms = 0.0
        self._pcm_bytes = 0
        self._customer: TurnRecord | None = None  # the last one, until the reply starts
        self._bot: TurnRecord | None = None  # the robot turn being spoken
        self._endpoint_at = 0.0

    def process(self, frame: Frame, direction: Direction) -> None:
        self.push(frame, direction)
        if isinstance(frame, StartFrame):
            self.answered_at = frame.at
        elif isinstance(frame, ParseResult):
            self._customer = self._said(
                speaker="customer", node=frame.node, text=frame.text, intent=frame.intent,
                confidence=round(frame.confidence, 3),
                asr_confidence=round(frame.asr_confidence, 3), asr_ms=round(frame.asr_ms, 1),
                nlu_ms=round(frame.nlu_ms, 2),
                offset_ms=round((frame.started_at - self.answered_at) * 1000, 1),
                duration_ms=round((frame.last_voiced_at - frame.started_at) * 1000, 1),
                confirmation=frame.confirmation, commits=frame.commits)
            self._endpoint_at = frame.endpoint_at
        elif isinstance(frame, Speak):
            self._speak, self._tts_ms, self._pcm_bytes = frame, 0.0, 0
        elif isinstance(frame, SpeechAudio):
            self._tts_ms += frame.tts_ms
            self._pcm_bytes += len(frame.pcm)
        elif isinstance(frame, BotStartedSpeaking) and self._speak is not None:
            speak, self._speak = self._speak, None
            customer, self._customer = self._customer, None
            if customer is not None and speak.reply_to_voiced_at is not None:
                customer.latency_ms = round((frame.at - speak.reply_to_voiced_at) * 1000, 1)
                customer.processing_ms = round((frame.at - self._endpoint_at) * 1000, 1)
                self.push(TurnUpdated(customer))
            self._bot = self._said(
                speaker="bot", node=speak.node, text=speak.text, tts_ms=round(self._tts_ms, 1),
                offset_ms=round((frame.at - self.answered_at) * 1000, 1),
                duration_ms=round(self._pcm_bytes / self.bytes_per_ms, 1))
        elif isinstance(frame, Interruption) and self._bot is not None:
            self._bot.interrupted = True
            self.push(TurnUpdated(self._bot))
        elif isinstance(frame, BotStoppedSpeaking) and not frame.interrupted:
            self._bot = None

    def _said(self, **kw: Any) -> TurnRecord:
        turn = TurnRecord(seq=0, **kw)
        self.push(TurnSaid(turn))
        return turn
