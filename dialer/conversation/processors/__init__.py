"""The processors of a live call, customer's audio first:

    VadProcessor -> BargeInProcessor -> AsrProcessor -> NluProcessor -> PolicyProcessor
    -> TtsProcessor -> TurnRecorder -> AudioOutput

Each handles its own frame types and passes every other frame on unchanged.
"""

from dialer.conversation.processors.hearing import AsrProcessor, BargeInProcessor, VadProcessor
from dialer.conversation.processors.recording import TurnRecorder
from dialer.conversation.processors.speaking import AudioOutput, AudioSink, TtsProcessor, sentences
from dialer.conversation.processors.understanding import NluProcessor, PolicyProcessor

__all__ = ["AsrProcessor", "AudioOutput", "AudioSink", "BargeInProcessor", "NluProcessor",
           "PolicyProcessor", "TtsProcessor", "TurnRecorder", "VadProcessor", "sentences"]
