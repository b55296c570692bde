"""The dialogue policy: given what the customer said (or did not), what the robot does next.

Pure and synchronous, so every branch of a script is tested without audio or network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dialer.script import Script

FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Understanding:
    text: str
    intent: str
    confidence: float  # NLU
    asr_confidence: float


class Reading(Protocol):
    """One way the recogniser heard an utterance (voices.asr.AsrResult fits)."""

    @property
    def text(self) -> str: ...

    @property
    def confidence(self) -> float: ...


def scoped_parser(nlu: Any) -> Callable[[str], dict[str, Any]]:
    """The NLU's parse, with our own NLU's in-scope score added as "in_scope" (what
    `understand` ranks readings by); an external Rasa server's answer as it comes."""
    if not hasattr(nlu, "parse_with_scope"):
        return nlu.parse  # type: ignore[no-any-return]

    def parse(text: str) -> dict[str, Any]:
        parsed, in_scope = nlu.parse_with_scope(text)
        return {**parsed, "in_scope": in_scope}

    return parse


def understand(readings: Sequence[Reading],
               parse: Callable[[str], dict[str, Any]]) -> tuple[Reading, str, float]:
    """Pick the reading the robot both heard and understood best: ASR confidence times
    NLU confidence (its in-scope score when the parse has one), a fallback counting as 0. The two passes' ASR confidences alone are
    not comparable: an espeak "아니요 됐어요" scored 0.73 in the grammar pass and its
    open-vocabulary reading "아기 옷 과 했어요" 0.9, which the NLU cannot place.
    Ties go to the earlier reading (the grammar one). Returns (reading, intent, conf)."""
    best: tuple[float, Reading, str, float] | None = None
    for r in readings:
        if r.text:
            parsed = parse(r.text)
            intent, conf = str(parsed["intent"]["name"]), float(parsed["intent"]["confidence"])
            # Our own NLU adds how in-scope the text is; an external Rasa server does not.
            rank = float(parsed.get("in_scope", conf))
        else:
            intent, conf, rank = FALLBACK, 0.0, 0.0
        score = r.confidence * (0.0 if intent == FALLBACK else rank)
        if best is None or score > best[0]:
            best = (score, r, intent, conf)
    if best is None:
        raise ValueError("no reading to understand")
    return best[1], best[2], best[3]


@dataclass(frozen=True)
class Action:
    """Say `text` at `node`; then listen, or end the call when `end` is set."""

    node: str
    text: str
    end: str | None = None  # disposition
    handoff: bool = False
    reason: str | None = None
    kind: str = "node"  # node | fallback | no_input | no_match


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

    def on_reply(self, u: Understanding) -> Action:
        self.no_inputs = 0
        settings = self.script.settings
        word = self.negative_word(u.text) if u.text else None
        if word is not None:  # an angry customer gets a person, not another question
            return self._goto(settings.negative_node or settings.fallback_node,
                              reason=f"negative wording: {word!r}")
        combined = u.asr_confidence * u.confidence
        low = settings.min_confidence > 0 and combined < settings.min_confidence
        unsure = (u.intent == FALLBACK or not u.text
                  or u.asr_confidence < self.min_asr_confidence or low)
        if unsure:
            self.fallbacks_in_row += 1
            if self.fallbacks_in_row >= settings.max_fallbacks_in_row:
                why = (f" (last: ASR x NLU confidence {combined:.2f} < "
                       f"{settings.min_confidence:.2f})" if low else "")
                return self._goto(settings.fallback_node,
                                  reason=f"robot unsure: {self.fallbacks_in_row} "
                                         f"misunderstood replies in a row{why}")
            return self._reprompt(settings.fallback_prompt, "fallback")
        self.fallbacks_in_row = 0
        self.last_intent = u.intent
        node = self.script.nodes[self.node]
        if u.intent in node.expect:
            return self._goto(node.expect[u.intent])
        if u.intent in self.script.global_intents:
            target = self.script.global_intents[u.intent]
            reason = f"customer intent {u.intent}" if self.script.nodes[target].handoff else None
            return self._goto(target, reason=reason)
        if node.no_match:
            return self._goto(node.no_match)
        return self._reprompt(self.script.settings.fallback_prompt, "no_match")

    def on_no_input(self) -> Action:
        self.no_inputs += 1
        if self.no_inputs > self.script.settings.max_no_input:
            return Action(node=self.node, text="", end=self.script.settings.no_input_disposition,
                          reason=f"no reply after {self.script.settings.max_no_input} reprompts",
                          kind="no_input")
        return self._reprompt(self.script.settings.no_input_prompt, "no_input")

    def _reprompt(self, prefix: str, kind: str) -> Action:
        # Say the apology, then repeat the question so the customer knows what to answer.
        text = (f"{self.script.render_text(prefix, self.values)} "
                f"{self.script.render(self.node, self.values)}")
        return Action(node=self.node, text=text, kind=kind)

    def grammar_intents(self) -> list[str]:
        return self.script.expected_intents(self.node)
