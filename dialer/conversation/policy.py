"""The dialogue policy: given what the customer said (or did not), what the robot does next.

Pure and synchronous, so every branch of a script is tested without audio or network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dialer.conversation import confirm
from dialer.conversation.readings import FALLBACK
from dialer.conversation.script import Script
from nlu.phrase import Phrase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Understanding:
    text: str
    intent: str
    confidence: float  # NLU
    asr_confidence: float
    heard: str = confirm.GRAMMAR  # how the reading was obtained (dialer.conversation.confirm.HEARD)
    weakest_word: float = 1.0  # ASR confidence of its least sure word


def scoped_parser(nlu: Any) -> Callable[[str], dict[str, Any]]:
    """The NLU's parse, with our own NLU's in-scope score added as "in_scope" (what
    `understand` ranks readings by); an external Rasa server's answer as it comes."""
    if not hasattr(nlu, "parse_with_scope"):
        return nlu.parse  # type: ignore[no-any-return]

    def parse(text: str) -> dict[str, Any]:
        parsed, in_scope = nlu.parse_with_scope(text)
        return {**parsed, "in_scope": in_scope}

    return parse


class ResilientParser:
    """The NLU's parse for a live call (scoped_parser); when the NLU fails (an external
    server down mid-call), "not understood": the policy asks again and, as the campaign's
    rule says, hands the call to a person; the call goes on. After a failure the NLU is
    not asked again for `retry_after_s`: a turn parses several readings, and each would
    otherwise wait out the timeout."""

    def __init__(self, nlu: Any, retry_after_s: float = 10.0) -> None:
        self._parse = scoped_parser(nlu)
        self.retry_after_s = retry_after_s
        self.down_until = 0.0

    def parse(self, text: str) -> dict[str, Any]:
        not_understood = {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.0}}
        if time.monotonic() < self.down_until:
            return not_understood
        try:
            return self._parse(text)
        except Exception as exc:  # noqa: BLE001  (an NLU server down mid-call)
            self.down_until = time.monotonic() + self.retry_after_s
            log.error("NLU failed on %r: %s", text, exc)
            return not_understood


@dataclass(frozen=True)
class Action:
    """Say `text` at `node`; then listen, or end the call when `end` is set."""

    node: str
    text: str
    end: str | None = None  # disposition
    handoff: bool = False
    reason: str | None = None
    kind: str = "node"  # node | fallback | no_input | no_match | confirm | declined
    # Of the customer reply this answers: "asked" when the robot asks to confirm what it
    # would do, then "yes" / "no" / "unclear" on the reply to the question; `commits`:
    # the irreversible action taken on it ("opt_out": the number goes on the DNC list).
    confirmation: str | None = None
    commits: str | None = None


@dataclass
class Pending:
    """An irreversible action the robot asked the customer to confirm."""

    target: str  # the node it would enter
    intent: str  # what the reply was understood as
    text: str  # the reply, as heard
    why: str  # why the reading was too weak to act on
    fallbacks_before: int = 0  # misunderstood replies in a row before this one
    asked: int = 1


class DialoguePolicy:
    def __init__(self, script: Script, fields: dict[str, object],
                 min_asr_confidence: float = 0.5) -> None:
        self.script = script
        self.fields = fields
        self.min_asr_confidence = min_asr_confidence
        self.node = script.start
        self.fallbacks_in_row = 0
        self.no_inputs = 0
        self.last_intent: str | None = None
        self.slots: dict[str, str] = {}
        self.pending: Pending | None = None  # a confirmation question awaits its answer

    def fill_slots(self, entities: Sequence[dict[str, Any]]) -> None:
        """Keep the entities the script declares as slots (the latest value wins)."""
        for e in entities:
            if e.get("entity") in self.script.slots and e.get("value") not in (None, ""):
                self.slots[str(e["entity"])] = str(e["value"])

    @property
    def values(self) -> dict[str, object]:
        """What prompts are rendered with: the contact's fields, then the slots."""
        return {**self.fields, **self.slots}

    def start(self) -> Action:
        return self._goto(self.script.start)

    def _goto(self, node_name: str, reason: str | None = None) -> Action:
        self.node = node_name
        node = self.script.nodes[node_name]
        return Action(node=node_name, text=self.script.render(node_name, self.values),
                      end=node.end, handoff=node.handoff,
                      reason=reason or node.reason or self._default_reason(node.end))

    def _default_reason(self, end: str | None) -> str | None:
        # Record why a customer declined: their last understood intent says it best.
        if end == "not_interested" and self.last_intent:
            return self.last_intent
        return None

    def negative_word(self, text: str) -> str | None:
        """The first anger or complaint word the reply holds, if any."""
        folded = text.casefold()
        return next((w for w in self.script.settings.negative(self.script.language)
                     if w.casefold() in folded), None)

    def key_intent(self, digit: str) -> str | None:
        """What a key press means now: while a confirmation waits, 1 is yes and 2 no."""
        if self.pending is not None and digit in confirm.CONFIRM_KEYS:
            return confirm.CONFIRM_KEYS[digit]
        return self.script.dtmf_intent(self.node, digit)

    def on_reply(self, u: Understanding) -> Action:
        self.no_inputs = 0
        if self.pending is not None:
            return self._answer(u)
        return self._reply(u)

    def _reply(self, u: Understanding) -> Action:
        settings = self.script.settings
        word = self.negative_word(u.text) if u.text else None
        if word is not None:  # an angry customer gets a person, not another question
            return self._goto(settings.negative_node or settings.fallback_node,
                              reason=Phrase("negative wording: {word!r}", word=word))
        combined = u.asr_confidence * u.confidence
        low = settings.min_confidence > 0 and combined < settings.min_confidence
        unsure = (u.intent == FALLBACK or not u.text
                  or u.asr_confidence < self.min_asr_confidence or low)
        if unsure:
            self.fallbacks_in_row += 1
            if self.fallbacks_in_row >= settings.max_fallbacks_in_row:
                n = self.fallbacks_in_row
                why = Phrase("robot unsure: {n} misunderstood replies in a row (last: ASR x "
                             "NLU confidence {combined:.2f} < {bar:.2f})", n=n,
                             combined=combined, bar=settings.min_confidence) if low else \
                    Phrase("robot unsure: {n} misunderstood replies in a row", n=n)
                return self._goto(settings.fallback_node, reason=why)
            return self._reprompt(settings.fallback_prompt, "fallback")
        misread_before, self.fallbacks_in_row = self.fallbacks_in_row, 0
        self.last_intent = u.intent
        node = self.script.nodes[self.node]
        if u.intent in node.expect:
            return self._enter(node.expect[u.intent], u, misread_before)
        if u.intent in self.script.global_intents:
            target = self.script.global_intents[u.intent]
            reason = Phrase("customer intent {intent}", intent=u.intent) \
                if self.script.nodes[target].handoff else None
            return self._enter(target, u, misread_before, reason)
        if node.no_match:
            return self._enter(node.no_match, u, misread_before)
        return self._reprompt(self.script.settings.fallback_prompt, "no_match")

    # -- irreversible actions (dialer.conversation.confirm) -------------------------------------------
    def _enter(self, target: str, u: Understanding, misread_before: int,
               reason: str | None = None) -> Action:
        """Go to `target` on this reply; an irreversible node heard weakly is asked about
        first. Ordinary nodes cost one lookup here: the voice loop is real time."""
        commits = self.script.commits(target)
        if commits is None:
            return self._goto(target, reason=reason)
        why = self._weakness(u, self.script.confirm_bar(u.intent))
        if why is None or not self.script.confirms(target):
            return self._commit(target, reason, _evidence(commits, u, why))
        # Counted as understood only once confirmed: a "no" makes it a misunderstanding
        # on top of those before it (max_fallbacks_in_row then brings a person).
        self.fallbacks_in_row = misread_before
        self.pending = Pending(target, u.intent, u.text, why, misread_before)
        return Action(node=self.node, text=self._confirm_text(target), kind="confirm",
                      confirmation=confirm.ASKED)

    def _weakness(self, u: Understanding, nlu_bar: float) -> str | None:
        return confirm.weakness(u.heard, u.asr_confidence, u.confidence, u.intent,
                                self.script.settings.confirm_asr_below, nlu_bar,
                                u.weakest_word)

    def _commit(self, target: str, reason: str | None, evidence: str,
                confirmation: str | None = None) -> Action:
        self.pending, self.fallbacks_in_row = None, 0
        action = self._goto(target, reason=reason or self.script.nodes[target].reason
                            or evidence)
        return replace(action, commits=self.script.commits(target), confirmation=confirmation)

    def _confirm_text(self, target: str, prefix: str | None = None) -> str:
        question = self.script.render_text(self.script.confirm_prompt(target), self.values)
        if prefix is None:
            return question
        return f"{self.script.render_text(prefix, self.values)} {question}"

    def _answer(self, u: Understanding) -> Action:
        """The reply to a confirmation question: only a clear yes takes the action."""
        p = self.pending
        assert p is not None
        if u.text and self.negative_word(u.text) is not None:
            self.pending = None  # angry: a person (negative_node), never a yes
            return replace(self._reply(u), confirmation=confirm.UNCLEAR)
        lang = self.script.language
        answer = confirm.answer_of(u.text, u.intent, lang) if u.text else None
        if answer is None and u.intent == p.intent:
            answer = confirm.YES  # they said it again ("수신 거부요", or the key)
        if answer == confirm.YES:
            phrase = confirm.is_phrase(u.text, lang)
            # A bar of 1 ("always ask") asked already: a sure reading answers it.
            bar = 0.0 if phrase else min(self.script.confirm_bar(u.intent), 0.999)
            if self._weakness(u, bar) is None:
                return self._commit(p.target, None, Phrase(
                    "{disposition} confirmed: {said!r} to {question!r} after {heard!r} ({why})",
                    disposition=self.script.commits(p.target), said=u.text,
                    question=self.script.confirm_prompt(p.target), heard=p.text, why=p.why),
                    confirmation=confirm.YES)
            # A weak yes is no yes: asked again below.
        elif answer == confirm.NO:
            return self._declined(p, u.text)
        elif u.text and u.intent != FALLBACK and self._weakness(u, 0.0) is None:
            # Something else altogether, clearly ("상담원 바꿔 주세요"): not a yes; act on
            # it. Heard weakly, it is no answer: asked again below.
            self.pending = None
            return replace(self._reply(u), confirmation=confirm.NO)
        return self._unclear(p, self.script.settings.fallback_prompt, u)

    def _declined(self, p: Pending, said: str) -> Action:
        """The reading was wrong: the robot did not understand that reply after all."""
        self.pending = None
        self.fallbacks_in_row = p.fallbacks_before + 1
        settings = self.script.settings
        if self.fallbacks_in_row >= settings.max_fallbacks_in_row:
            return replace(self._goto(settings.fallback_node, reason=Phrase(
                "robot unsure: {n} misunderstood replies in a row (last: {heard!r} was not "
                "{intent}: answered {said!r})", n=self.fallbacks_in_row, heard=p.text,
                intent=p.intent, said=said)), confirmation=confirm.NO)
        text = (f"{self.script.render_text(self.script.confirm_no_prompt(), self.values)} "
                f"{self.script.render(self.node, self.values)}")
        return Action(node=self.node, text=text, kind="declined", confirmation=confirm.NO)

    def _unclear(self, p: Pending, prefix: str, u: Understanding | None) -> Action:
        """No clear answer (`u`), or silence (None): ask once more; then the action is
        not taken: a person (fallback_node), or for silence the usual no-input end."""
        confirmation = confirm.UNCLEAR if u is not None else None
        if p.asked < confirm.MAX_ASKS:
            p.asked += 1
            return Action(node=self.node, text=self._confirm_text(p.target, prefix),
                          kind="confirm", confirmation=confirmation)
        self.pending = None
        # One sentence each, not one inside the other: a stored reason is matched back
        # to its catalogue text whole (dialer.web.i18n.said_any).
        why = {"question": self.script.confirm_prompt(p.target), "n": p.asked,
               "heard": p.text, "disposition": self.script.commits(p.target)}
        if u is None:
            return Action(node=self.node, text="", end=self.script.settings.no_input_disposition,
                          reason=Phrase("no clear answer to {question!r} (asked {n} times after "
                                        "{heard!r}); {disposition} not taken", **why),
                          kind="no_input")
        return replace(self._goto(self.script.settings.fallback_node, reason=Phrase(
            "robot unsure: no clear answer to {question!r} (asked {n} times after {heard!r}); "
            "{disposition} not taken", **why)), confirmation=confirmation)

    def on_no_input(self) -> Action:
        if self.pending is not None:
            return self._unclear(self.pending, self.script.settings.no_input_prompt, None)
        self.no_inputs += 1
        if self.no_inputs > self.script.settings.max_no_input:
            return Action(node=self.node, text="", end=self.script.settings.no_input_disposition,
                          reason=Phrase("no reply after {n} reprompts",
                                        n=self.script.settings.max_no_input),
                          kind="no_input")
        return self._reprompt(self.script.settings.no_input_prompt, "no_input")

    def _reprompt(self, prefix: str, kind: str) -> Action:
        # Say the apology, then repeat the question so the customer knows what to answer.
        text = (f"{self.script.render_text(prefix, self.values)} "
                f"{self.script.render(self.node, self.values)}")
        return Action(node=self.node, text=text, kind=kind)

    def grammar_intents(self) -> list[str]:
        intents = self.script.expected_intents(self.node)
        if self.pending is None:
            return intents
        # The answer: yes or no in the NLU's words, or anything else said at the node, so
        # that "상담원 바꿔 주세요" is not forced into a "네". Not the phrases of the intent
        # being confirmed: over SIP they pulled "아니요" into "(수신 거부) 할게요".
        yes_no = (confirm.AFFIRM, confirm.DENY)
        return [*yes_no, *(i for i in intents
                           if i not in yes_no and i != self.pending.intent)]

    def grammar_phrases(self) -> tuple[str, ...]:
        """Phrases the recogniser expects beside the intents' examples."""
        if self.pending is None:
            return ()
        lang = self.script.language.split("-")[0]
        return (*confirm.YES_PHRASES.get(lang, ()), *confirm.NO_PHRASES.get(lang, ()))


def _evidence(commits: str, u: Understanding, why: str | None) -> Phrase:
    """Why an irreversible action was taken without asking: how the reply was heard."""
    if u.heard == confirm.KEY:
        return Phrase("{disposition} on a key press: {said!r}", disposition=commits, said=u.text)
    if why is None:
        return Phrase("{disposition} on a sure reply: {said!r}", disposition=commits,
                      said=u.text)
    return Phrase("{disposition} on a reply the script does not confirm ({why}): {said!r}",
                  disposition=commits, why=why, said=u.text)
