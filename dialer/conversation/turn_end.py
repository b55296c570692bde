"""Has the caller finished their reply, or are they pausing mid-thought? Read from words.

A silence of 300 ms ends most replies, but people think aloud: "음… 그게… 얼마라고요?",
"네 근데… 다음 주에…". Cut there, the robot answers half a reply. An acoustic turn
model (voices/turn.py, Smart Turn) could not tell the simulator's Korean apart (it scored
the filler "음" alone 0.97 complete), so this judge reads the words instead: the
recogniser's early reading of the utterance (taken 150 ms into the silence, see
AsrProcessor) is looked at when the endpointer asks, 200 ms into it. A reading that is
nothing, only fillers, or that stops on a word that leads on ("그게", "근데", "그러니까",
a verb in a connective form such as "-는데", "-고", "-서") is unfinished: the endpointer
waits up to `max_pause_ms` for more. Anything else is finished and answered at once.
"""

from __future__ import annotations

import re
from typing import Any

from dialer.conversation.frames import (
    EndFrame,
    Frame,
    TentativeTranscript,
    UserStartedSpeaking,
)
from dialer.conversation.pipeline import Direction, FrameProcessor

# Words that stand for thinking, and words after which a thought surely goes on.
FILLERS: dict[str, frozenset[str]] = {
    "ko": frozenset(["음", "으음", "어", "어어", "아", "에", "저", "저기", "저기요요", "그", "그게", "그거", "그러니까", "근데", "그런데", "그래서", "그리고", "그럼", "뭐", "뭐지", "혹시", "있잖아요", "있잖아", "제가", "지금", "막", "약간", "좀", "이제"]),
    "en": frozenset(["um", "umm", "uh", "uhh", "er", "erm", "hmm", "well", "so", "and", "but", "or", "because", "like", "the", "a", "an", "my", "i", "i'm", "it's", "its", "to", "of", "for", "with", "if", "when", "that"]),
    "zh": frozenset(["嗯", "呃", "啊", "那个", "这个", "就是", "然后", "但是", "所以", "因为", "我", "我的", "如果", "还有", "其实"]),
}
# The sounds of thinking that are said on their own, before a reply: always in the
# grammar, so that a lone "음…" is read as itself and not forced into the nearest phrase
# ("네", a yes). Only long, distinct ones: with the short ones too ("어", "저", "그"),
# vosk fitted them into whole replies ("담당자 연결 해 주세요" read "너무 어어 여보세요
# 지워 주세요").
THINKING: dict[str, tuple[str, ...]] = {"ko": ("음", "으음"), "en": ("um", "umm", "hmm"),
                                        "zh": ("嗯",)}
WEAK = 0.6  # a grammar reading below this confidence is not trusted for its words
# Korean verb and adjective endings that join a clause to the next one.
_KO_LEADING_ON = re.compile(r"(?:데|고|구|서|면|으면|지만|니까|으니까|려고|"
                            r"거나|든지|면서|다가|도록|게)$")
# ... except where they are the end of a finished sentence or a common whole reply.
_KO_FINISHED = re.compile(r"(?:요|다|죠|까|네|니다|세요|어요|아요|해요|예요|에요)$")


def hesitation_phrases(language: str) -> tuple[str, ...]:
    """Phrases the recogniser should be able to hear besides the script's, so that a
    filler is read as itself and not forced into the nearest phrase ("음" as "네")."""
    return tuple(sorted(FILLERS.get(language.split("-")[0].lower(), ())))


def thinking_phrases(language: str) -> tuple[str, ...]:
    return THINKING.get(language.split("-")[0].lower(), ())


def still_thinking(text: str, language: str) -> bool:
    """Does this reading stop on a sound of thinking ("음", "네 음")? Such an utterance
    is no reply yet: the caller is still making it up."""
    words = text.split()
    sounds = THINKING.get(language.split("-")[0].lower(), ())
    return bool(words) and words[-1].lower() in sounds


def unfinished(text: str, language: str) -> bool:
    """Does this reading stop where a thought is still going on?"""
    lang = language.split("-")[0].lower()
    words = [w for w in re.split(r"[\s,.!?…·]+", text.strip().lower()) if w]
    fillers = FILLERS.get(lang, frozenset())
    if not words or all(w in fillers for w in words):
        return True
    last = words[-1]
    if last in fillers:
        return True
    if lang == "ko" and len(words) > 1 and not _KO_FINISHED.search(last):
        return bool(_KO_LEADING_ON.search(last))
    return False


class ReplyCompleteness(FrameProcessor):
    """Sits after the recogniser; `complete_probability` is the endpointer's turn hook
    (voices.vad.TurnCompletion). Before any early reading it says "finished", which
    leaves the silence endpoint as it was."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language
        self.reading: str | None = None
        self.asked = 0
        self.waited = 0  # times it told the endpointer to wait

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, TentativeTranscript):
            self.reading = _text(frame.readings)
        elif isinstance(frame, UserStartedSpeaking | EndFrame):
            self.reading = None
        self.push(frame, direction)

    def complete_probability(self, pcm: bytes, sample_rate: int = 16000) -> float:
        self.asked += 1
        if self.reading is None:
            return 1.0
        if unfinished(self.reading, self.language):
            self.waited += 1
            return 0.0
        return 1.0


def _text(readings: tuple[Any, ...]) -> str:
    """The reading to judge: the first (the grammar's); when it is weak, the open
    vocabulary's, which is not forced into the script's phrases (a hesitant "음…" is
    read as the grammar's nearest phrase, "네")."""
    if not readings:
        return ""
    first = readings[0]
    if getattr(first, "confidence", 1.0) < WEAK:
        free = [r for r in readings[1:] if not getattr(r, "grammar", True)]
        if free:
            return str(getattr(free[-1], "text", ""))
    return str(getattr(first, "text", ""))
