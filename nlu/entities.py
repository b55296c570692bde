"""The pipeline's entities: values found by the `regex:` and `lookup:` items of the
training data, then mapped to their canonical `synonym:` (nlu/components.py lists the
whole pipeline)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar

from nlu.component import Component, Message
from nlu.training_data import normalize

if TYPE_CHECKING:
    from nlu.training_data import TrainingData

log = logging.getLogger(__name__)
_ASCII_WORD = re.compile(r"[0-9A-Za-z_]")


class RegexEntityExtractor(Component):
    """Entities from the `regex:` and `lookup:` items; each item's name is the entity name."""

    name = "RegexEntityExtractor"
    stateful = True
    DEFAULT_CONFIG: ClassVar[dict[str, Any]] = {
        # Patterns and lookup entries match regardless of case, as Rasa does by default.
        "case_sensitive": False,
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.patterns: list[tuple[str, str]] = []  # (entity, regex source)
        self._compiled: list[tuple[str, re.Pattern[str]]] = []

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        self.patterns = [(name, p) for name, ps in data.regexes.items() for p in ps]
        for name, entries in data.lookups.items():
            self.patterns.append((name, _lookup_pattern(entries)))
        self._compile()
        covered = set(data.regexes) | set(data.lookups)
        for entity in sorted(set(data.entity_names()) - covered):
            log.warning("entity %r is annotated in the NLU examples but has no regex or lookup;"
                        " this NLU extracts entities only from regex: and lookup: items", entity)

    def _compile(self) -> None:
        flags = 0 if self.config["case_sensitive"] else re.IGNORECASE
        self._compiled = [(name, re.compile(p, flags)) for name, p in self.patterns]

    def process(self, message: Message) -> None:
        seen: set[tuple[str, int, int]] = set()
        found: list[dict[str, Any]] = []
        for name, pattern in self._compiled:
            for m in pattern.finditer(message.text):
                # Patterns with optional `\s` often take in the space before or after;
                # trimmed, so the value matches synonyms and the span the word itself.
                value = m.group(0)
                start = m.start() + len(value) - len(value.lstrip())
                value = value.strip()
                key = (name, start, start + len(value))
                if value and key not in seen:
                    seen.add(key)
                    found.append({"entity": name, "start": start, "end": start + len(value),
                                  "confidence": 1.0, "value": value, "extractor": self.name})
        found.sort(key=lambda e: (e["start"], e["end"], e["entity"]))
        message.entities.extend(found)

    def _state(self) -> dict[str, Any]:
        return {"patterns": self.patterns}

    def _restore(self, state: dict[str, Any]) -> None:
        self.patterns = state["patterns"]
        self._compile()


def _lookup_pattern(entries: list[str]) -> str:
    # Longest first, so "서울특별시" wins over "서울". Latin letters and digits must not
    # continue the word ("cat" is not in "category"), but Korean entries stay open on the
    # right, where particles attach directly ("서울에서").
    alternatives = []
    for entry in sorted(set(entries), key=lambda e: (-len(e), e)):
        left = r"(?<![0-9A-Za-z_])" if _ASCII_WORD.match(entry[0]) else ""
        right = r"(?![0-9A-Za-z_])" if _ASCII_WORD.match(entry[-1]) else ""
        alternatives.append(f"{left}{re.escape(entry)}{right}")
    return "|".join(alternatives)


class EntitySynonymMapper(Component):
    """Replaces entity values by their canonical synonym, as `synonym:` items declare."""

    name = "EntitySynonymMapper"
    stateful = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.synonyms: dict[str, str] = {}  # normalize(variant) -> canonical

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        self.synonyms = {normalize(k): v for k, v in data.synonyms.items()}

    def process(self, message: Message) -> None:
        for entity in message.entities:
            canonical = self.synonyms.get(normalize(str(entity["value"])))
            if canonical is not None and canonical != entity["value"]:
                entity["value"] = canonical
                entity.setdefault("processors", []).append(self.name)

    def _state(self) -> dict[str, Any]:
        return {"synonyms": self.synonyms}

    def _restore(self, state: dict[str, Any]) -> None:
        self.synonyms = state["synonyms"]
