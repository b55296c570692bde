"""A reply understood (the NLU over every reading of the utterance) and answered (the
script's policy: the next prompt, a confirmation, a handoff or the end of the call).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dialer.conversation.confirm import KEY, heard_as, weakest_word
from dialer.conversation.frames import (
    AmdResult,
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Dtmf,
    EndFrame,
    Escalated,
    FinalTranscript,
    Frame,
    Hangup,
    InputAudio,
    Interruption,
    Listen,
    MachineReady,
    ParseResult,
    Speak,
    StartFrame,
    TentativeTranscript,
    Tick,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from dialer.conversation.outcomes import Outcome
from dialer.conversation.pipeline import UP, Direction, FrameProcessor
from dialer.conversation.policy import Action, DialoguePolicy, Understanding
from dialer.conversation.readings import FALLBACK, understand
from dialer.conversation.script import ANSWER_PHRASES
from dialer.conversation.turn_end import still_thinking, thinking_phrases
from nlu.phrase import Phrase


class NluProcessor(FrameProcessor):
    """Picks the reading both heard and understood best (ASR x NLU) and its intent.

    Tentative readings (taken in the customer's trailing silence) are understood at once
    and kept; when the same readings come back final, the answer is ready."""

    def __init__(self, parse: Callable[[str], dict[str, Any]]) -> None:
        super().__init__()
        self.parse = parse
        self._ready: tuple[tuple[Any, ...], tuple[Any, str, float, tuple[Any, ...], float]] \
            | None = None

    def _understand(self, readings: tuple[Any, ...], phrases: frozenset[str]
                    ) -> tuple[Any, str, float, tuple[Any, ...], float]:
        t = time.perf_counter()
        parsed: dict[str, dict[str, Any]] = {}

        def parse(text: str) -> dict[str, Any]:
            parsed[text] = self.parse(text)
            return parsed[text]

        reading, intent, confidence = understand(readings, parse, phrases)
        entities = tuple(parsed.get(reading.text, {}).get("entities", ()))
        return reading, intent, confidence, entities, (time.perf_counter() - t) * 1000

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, TentativeTranscript):
            self._ready = (frame.readings, self._understand(frame.readings, frame.phrases))
            return  # nothing is decided on it until the endpoint
        self.push(frame, direction)
        if not isinstance(frame, FinalTranscript):
            return
        if self._ready is not None and self._ready[0] is frame.readings:
            understood = self._ready[1]
        else:
            understood = self._understand(frame.readings, frame.phrases)
        self._ready = None
        reading, intent, confidence, entities, nlu_ms = understood
        self.push(ParseResult(reading.text, intent, confidence, reading.confidence, entities,
                              frame.started_at, frame.last_voiced_at, frame.asr_ms, nlu_ms,
                              endpoint_at=frame.at,
                              heard=heard_as(reading, frame.readings, frame.phrases),
                              weakest_word=weakest_word(reading),
                              noise=not any(str(getattr(r, "text", "")).strip()
                                            for r in frame.readings)))


# A reply that stops on "음" ("네 음…") is answered after this much quiet: the caller may
# go on, and a recogniser can hear a breath at the end of a reply as "음".
HOLD_S = 1.2
HELLO_MAX_S = 4.0  # someone talking on at the answer is greeted after this anyway


class PolicyProcessor(FrameProcessor):
    """The script: what to say first, what to say to each reply, when to reprompt after
    silence, when to end. Tells the recogniser which phrases to expect (Listen, up)."""

    def __init__(self, policy: DialoguePolicy, phrases: Callable[[str], list[str]],
                 no_input_timeout_s: float, detect_machines: bool = False,
                 hesitations: tuple[str, ...] = (), opening_wait_s: float = 0.0) -> None:
        super().__init__()
        # Without answering-machine detection: how long a silent callee is given to say
        # hello before the greeting (0: greet at once).
        self.opening_wait_s = opening_wait_s
        self.answered_at: float | None = None  # waiting for their hello since
        self.heard_hello = False
        self.policy = policy
        # Fillers ("음", "그게") the recogniser may read as themselves, not forced into a
        # phrase: the words judge of the turn's end needs to see them.
        self.hesitations = hesitations
        # With answering-machine detection the greeting waits for the verdict.
        self.detect_machines = detect_machines
        am, lang = policy.script.answering_machine, policy.script.language.split("-")[0]
        self.answer_phrases = ANSWER_PHRASES.get(lang, ())
        self.amd_phrases: tuple[str, ...] = () if am is None else (
            *am.machine_words(policy.script.language), *self.answer_phrases)
        self.started = False
        self.machine = False
        self.phrases = phrases
        self.no_input_timeout_s = no_input_timeout_s
        self.bot_speaking = False
        self.user_speaking = False
        self.listening_since: float | None = None
        self.ending: Action | None = None
        self.last_words_started = False  # the ending's prompt has begun to play
        self.ended = False
        self.machine_reason = ""
        self.noise_readings = 0  # utterances in which nothing was read
        self.thinking = 0  # utterances that stopped on "음"
        self.held: ParseResult | None = None  # a reply that stopped on "음", not yet answered
        self.held_at = 0.0

    def process(self, frame: Frame, direction: Direction) -> None:
        if isinstance(frame, ParseResult):
            self._reply(frame)
            return
        if isinstance(frame, EndFrame):
            self._drop_held()
        self.push(frame, direction)
        if isinstance(frame, StartFrame):
            if not self.detect_machines:
                self._open(frame.at)
            elif self.amd_phrases:  # what a machine or a person says on answering
                self.push(Listen(self.amd_phrases), UP)
        elif self.answered_at is not None:
            self._await_hello(frame)
        elif isinstance(frame, AmdResult) and not self.started and not self.machine:
            self._amd(frame)
        elif isinstance(frame, MachineReady) and self.machine and not self.ended:
            self._leave_message()
        elif not self.started:
            return  # nothing is acted on before the greeting (e.g. the callee's "여보세요")
        elif isinstance(frame, BotStartedSpeaking):
            self.last_words_started = self.ending is not None
        elif isinstance(frame, BotStoppedSpeaking):
            self.bot_speaking = False
            # The last words, whole or cut short, end the call; a prompt that a key press
            # cut before them (its stop comes first) does not.
            if self.ending is not None and (self.last_words_started or not frame.interrupted):
                self._hang_up(self.ending)
            else:
                self.listening_since = frame.at
        elif isinstance(frame, UserStartedSpeaking):
            self.user_speaking = True
        elif isinstance(frame, UserStoppedSpeaking):
            self.user_speaking = False
        elif isinstance(frame, Dtmf) and not (self.ended or self.machine or self.ending):
            self._key(frame)
        elif (isinstance(frame, InputAudio | Tick) and self.held is not None
              and not (self.user_speaking or self.ended or self.ending)
              and frame.at - self.held_at >= HOLD_S):
            held, self.held = self.held, None
            self._answer(held)
        elif (isinstance(frame, InputAudio | Tick) and self.listening_since is not None
              and not (self.user_speaking or self.bot_speaking or self.ended)
              and frame.at - self.listening_since >= self.no_input_timeout_s):
            self.listening_since = None
            self._act(self.policy.on_no_input(), None)

    def _reply(self, frame: ParseResult) -> None:
        """A reply goes down (to the turn record) with where it was said and what the
        policy made of it (a confirmation, an irreversible action), then the answer."""
        node = self.policy.node
        if self.answered_at is not None:  # their "여보세요?": now the greeting
            self.push(replace(frame, node=node))
            self._start()
            return
        if not self.started or self.ended or self.machine or self.ending is not None:
            # Kept in the transcript, never acted on: the callee's "여보세요" before the
            # greeting, and whatever is heard over the last words (the outcome is
            # decided: an opt-out stays one, whatever noise follows it).
            self.push(replace(frame, node=node))
            return
        if frame.noise:
            # Nothing in it a recogniser could read: a noise the VAD let through (a car
            # passing, a door, a cough), not a reply the robot failed to understand. It
            # neither counts as misunderstood nor restarts the wait for a reply.
            self.noise_readings += 1
            return
        if still_thinking(frame.text, self.policy.script.language):
            # "음…", "네 음…": the caller is making up their reply, and their time to
            # reply starts again. A reading understood before the "음" is held: answered
            # if nothing follows within HOLD_S, replaced by what they say next.
            self.thinking += 1
            self.held_at = frame.endpoint_at
            if self.listening_since is not None:
                self.listening_since = max(self.listening_since, frame.endpoint_at)
            if frame.intent == FALLBACK:
                self.push(replace(frame, node=node))
            else:
                self._drop_held()
                self.held = frame
            return
        self._drop_held()
        self._answer(frame)

    def _drop_held(self) -> None:
        """A held reply that was not answered goes to the transcript as it is."""
        if self.held is not None:
            self.push(replace(self.held, node=self.policy.node))
            self.held = None

    def _answer(self, frame: ParseResult) -> None:
        node = self.policy.node
        self.listening_since = None
        self.policy.fill_slots(frame.entities)
        action = self.policy.on_reply(Understanding(
            frame.text, frame.intent, frame.confidence, frame.asr_confidence, frame.heard,
            frame.weakest_word))
        self.push(replace(frame, node=node, confirmation=action.confirmation,
                          commits=action.commits))
        self._act(action, frame.last_voiced_at)

    def _open(self, at: float) -> None:
        """The call is answered: greet at once, or first give the callee the chance to
        say hello, and never talk over it."""
        if self.opening_wait_s <= 0:
            self._start()
        else:
            self.answered_at = at
            self.push(Listen(self.answer_phrases), UP)

    def _await_hello(self, frame: Frame) -> None:
        """Before the greeting: it comes once what they said on answering is read (the
        ParseResult, in `_reply`), after `opening_wait_s` of silence from the answer, or
        after HELLO_MAX_S of someone talking on."""
        assert self.answered_at is not None
        if isinstance(frame, UserStartedSpeaking):
            self.user_speaking = self.heard_hello = True
        elif isinstance(frame, UserStoppedSpeaking):
            self.user_speaking = False
        elif isinstance(frame, InputAudio | Tick):
            waited = frame.at - self.answered_at
            if (waited >= self.opening_wait_s and not self.heard_hello) \
                    or waited >= HELLO_MAX_S:
                self._start()

    def _start(self) -> None:
        self.answered_at = None
        self.started = True
        self._act(self.policy.start(), None)

    def _amd(self, frame: AmdResult) -> None:
        if frame.kind != "machine":
            self._start()
            return
        self.machine = True
        self.machine_reason = frame.reason
        am = self.policy.script.answering_machine
        if am is None or am.on_machine == "hangup":
            self._hang_up(Action(node="", text="", end=Outcome.MACHINE,
                                 reason=Phrase("answering machine ({why}); hung up",
                                               why=frame.reason)))

    def _leave_message(self) -> None:
        am = self.policy.script.answering_machine
        assert am is not None
        self.started = True  # the robot speaks now; its last words end the call
        action = Action(node="voicemail", text=self.policy.script.render_text(
            am.voicemail, self.policy.values), end=Outcome.MACHINE,
            reason=Phrase("answering machine ({why}); message left", why=self.machine_reason),
            kind="voicemail")
        self._act(action, None)

    def _key(self, frame: Dtmf) -> None:
        """A key press is a reply the robot is sure of: it stops talking and acts on it."""
        intent = self.policy.key_intent(frame.digit)
        if intent is None:
            return  # a key this node does not use: ignored, as a phone menu would
        if self.bot_speaking:
            self.push(Interruption(frame.at))
        self.listening_since = None
        text, node = f"DTMF {frame.digit}", self.policy.node
        action = self.policy.on_reply(Understanding(text, intent, 1.0, 1.0, KEY))
        self.push(ParseResult(text, intent, 1.0, 1.0, started_at=frame.at,
                              last_voiced_at=frame.at, node=node, endpoint_at=frame.at,
                              heard=KEY, confirmation=action.confirmation,
                              commits=action.commits))
        self._act(action, frame.at)

    def _act(self, action: Action, reply_to: float | None) -> None:
        self.ending = action if action.end else None
        self.last_words_started = False
        if action.handoff:
            self.push(Escalated(action.reason or Phrase("handoff"), action.node or None,
                                time.monotonic()))
        if action.text:
            self.bot_speaking = True
            self.push(Speak(action.text, action.node, action.kind, reply_to))
            if not action.end:
                phrases: list[str] = []
                for intent in self.policy.grammar_intents():
                    phrases += self.phrases(intent)
                phrases += self.policy.grammar_phrases()
                phrases += self.hesitations or thinking_phrases(self.policy.script.language)
                self.push(Listen(tuple(phrases), action.node), UP)
        elif action.end:
            self._hang_up(action)

    def _hang_up(self, action: Action) -> None:
        self.ended = True
        self.push(Hangup(str(action.end), action.reason, action.node or None, action.handoff))
