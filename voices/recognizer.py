"""What the conversation needs of a speech recogniser, without naming one: a result, a
recogniser that reads one utterance at a time (`SpeechRecognizer`) and the utterance's
stream (`RecognizerStream`). voices/asr.py implements them with vosk; the call's
processors (dialer/conversation/processors.py) take any implementation."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class AsrResult:
    text: str
    confidence: float  # mean word confidence, 0 when nothing was recognised
    words: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    grammar: bool = False  # decoded with the restricted grammar
    ms: float = 0.0  # decoder time spent on this utterance
    # Other readings of the same audio when this grammar reading was weak (the grammar
    # from later starts, and the open-vocabulary pass). Their confidences are not
    # comparable with this one's, so the caller decides with the NLU
    # (dialer.conversation.readings.understand) which reading it understands best.
    alternatives: tuple[AsrResult, ...] = ()

    def hypotheses(self) -> list[AsrResult]:
        return [self, *self.alternatives]


def phrase_sequence(text: str, phrases: Collection[str]) -> bool:
    """`text` is one or more of the grammar's `phrases` whole, one after another ("네" +
    "담당자 연결 해 주세요"), rather than words of several phrases stitched together over
    speech the grammar does not cover ("지워 아요 번호 해요"). A one-letter word at either
    end that is no phrase is a clipped syllable, not a word stitched in: "에 연락 하지
    마세요" for "이제 연락하지 마세요". Phrases are compared with single spaces between
    words.

    A last word that is no phrase but ends as the word before it does is that word's
    ending heard twice, not a word stitched in: over G.711, bandwidth-extended, espeak's
    "번호 지워 주세요" is read "번호 지워 주세요 계세요" every time (bench/asr_replies.py
    --codec pcmu)."""
    words = text.split()
    while words and len(words[0]) == 1 and words[0] not in phrases:
        words = words[1:]
    while words and len(words[-1]) == 1 and words[-1] not in phrases:
        words = words[:-1]
    if len(words) > 2 and words[-1] not in phrases and _echo(words[-2], words[-1]):
        words = words[:-1]
    if not words:
        return False
    ends = [True] + [False] * len(words)  # ends[j]: words[:j] is a sequence of phrases
    for j in range(1, len(words) + 1):
        ends[j] = any(ends[i] and " ".join(words[i:j]) in phrases for i in range(j))
    return ends[-1]


def _echo(word: str, after: str) -> bool:
    """`after` repeats the last two syllables of `word` ("주세요", "계세요")."""
    return len(word) >= 2 and len(after) >= 2 and word[-2:] == after[-2:]


class RecognizerStream(Protocol):
    """One utterance: fed while the customer speaks, finished at the endpoint."""

    def feed(self, pcm: bytes) -> None:
        """Decode more audio (16-bit mono at the recogniser's sample rate)."""

    def keep(self, pcm: bytes) -> None:
        """Buffer audio without decoding it (after an early finish)."""

    def reopen(self) -> RecognizerStream:
        """A new stream that has decoded all the audio of this one."""

    def partial(self) -> str:
        """What was heard so far."""

    def finish(self) -> AsrResult:
        """The utterance's reading, with other readings as alternatives when it is weak."""

    def close(self) -> None:
        """Done with the stream; idempotent."""


class SpeechRecognizer(Protocol):
    sample_rate: int

    def grammar(self, phrases: Iterable[str]) -> list[str]:
        """The phrases this recogniser can be restricted to."""

    def stream(self, grammar: list[str] | None) -> RecognizerStream:
        """A stream for one utterance, restricted to `grammar` when one is given."""
