"""Advice for a campaign author on their NLU training data (`dialer script check`, the
campaign page): intents with too few examples, examples of different intents that mean
nearly the same, and which examples the model gets wrong when they are held out
(cross-validation: each example is predicted by a model trained without it, the way a
callee's new words are).

Advice, not errors: the campaign still runs; the robot just understands its callees less
well where the advice points.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlu.training_data import Example, Phrase, TrainingData, normalize

# Fewer examples than this per intent: callees' own words are rarely among them.
MIN_EXAMPLES = 8
# Examples of two intents whose sentence embeddings are this close say the same thing.
SIMILAR = 0.9
# Folds of the cross-validation (fewer when an intent has fewer examples).
FOLDS = 5


@dataclass(frozen=True)
class Miss:
    """An example the model got wrong when trained without it."""

    text: str
    intent: str
    predicted: str  # nlu_fallback: not understood at all
    confidence: float
    source: str


@dataclass
class Advice:
    few: list[tuple[str, int]] = field(default_factory=list)  # (intent, examples)
    similar: list[tuple[Example, Example, float]] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)
    cv_accuracy: dict[str, float] = field(default_factory=dict)  # per intent
    data_warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One sentence per piece of advice, most useful first: phrases, so the campaign
        page says them in the reader's language. Intents stay as named in nlu.yml, the
        names the author looks for there."""
        out = list(self.data_warnings)
        out += [Phrase("intent `{intent}` has 1 example; write {least} or more, in the words "
                       "callees use", intent=i, least=MIN_EXAMPLES) if n == 1 else
                Phrase("intent `{intent}` has {n} examples; write {least} or more, in the "
                       "words callees use", intent=i, n=n, least=MIN_EXAMPLES)
                for i, n in self.few]
        out += [Phrase("`{a}` ({a_intent}, {a_where}) and `{b}` ({b_intent}, {b_where}) mean "
                       "nearly the same ({similarity:.2f}); keep it under one intent or "
                       "reword one", a=a.text, a_intent=a.intent, a_where=a.source, b=b.text,
                       b_intent=b.intent, b_where=b.source, similarity=sim)
                for a, b, sim in self.similar]
        out += [_missed(m) for m in self.misses]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"few_examples": [{"intent": i, "examples": n} for i, n in self.few],
                "similar": [{"a": a.text, "a_intent": a.intent, "b": b.text,
                             "b_intent": b.intent, "similarity": round(s, 3)}
                            for a, b, s in self.similar],
                "cross_validation": {"accuracy": self.cv_accuracy,
                                     "misses": [m.__dict__ for m in self.misses]},
                "data_warnings": self.data_warnings, "advice": self.lines()}


def _missed(m: Miss) -> Phrase:
    """The advice on an example the model misread when trained without it."""
    if m.predicted == "nlu_fallback":
        return Phrase("`{example}` ({intent}, {where}) is read as not understood "
                      "({confidence:.2f}) by a model trained without it; add examples like "
                      "it to `{intent}`", example=m.text, intent=m.intent, where=m.source,
                      confidence=m.confidence)
    return Phrase("`{example}` ({intent}, {where}) is read as `{predicted}` ({confidence:.2f}) "
                  "by a model trained without it; add examples like it to `{intent}`",
                  example=m.text, intent=m.intent, where=m.source, predicted=m.predicted,
                  confidence=m.confidence)


def advise(data: TrainingData, config: dict[str, Any] | None = None,
           progress: Callable[[int, int], None] | None = None) -> Advice:
    """All the advice for `data`, trained with `config` (the campaign's NLU config)."""
    from nlu.model import NluModel

    counts = Counter(e.intent for e in data.examples)
    advice = Advice(data_warnings=list(data.warnings))
    advice.few = sorted((i, n) for i, n in counts.items() if n < MIN_EXAMPLES)
    model = NluModel.train(data, config)
    advice.similar = _similar(data.examples, model)
    advice.misses, advice.cv_accuracy = _cross_validate(data, config, progress)
    return advice


def _similar(examples: list[Example], model: Any) -> list[tuple[Example, Example, float]]:
    encoder = getattr(_component(model, "SentenceEmbeddingFeaturizer"), "encoder", None)
    if encoder is None or len(examples) < 2:
        return []
    vectors = encoder.encode([e.text for e in examples])
    sims = vectors @ vectors.T
    out = []
    for i, j in zip(*np.triu_indices(len(examples), k=1), strict=True):
        a, b = examples[int(i)], examples[int(j)]
        if a.intent != b.intent and sims[i, j] >= SIMILAR \
                and normalize(a.text) != normalize(b.text):  # the same text: a data warning
            out.append((a, b, float(sims[i, j])))
    return sorted(out, key=lambda t: -t[2])


def _cross_validate(data: TrainingData, config: dict[str, Any] | None,
                    progress: Callable[[int, int], None] | None
                    ) -> tuple[list[Miss], dict[str, float]]:
    from sklearn.model_selection import StratifiedKFold

    from nlu.model import NluModel

    examples = data.examples
    labels = [e.intent for e in examples]
    folds = min(FOLDS, min(Counter(labels).values()))
    if folds < 2 or len(set(labels)) < 2:
        return [], {}
    right: Counter[str] = Counter()
    misses = []
    split = StratifiedKFold(folds, shuffle=True, random_state=0).split(examples, labels)
    for k, (train_idx, test_idx) in enumerate(split):
        part = TrainingData(examples=[examples[i] for i in train_idx], synonyms=data.synonyms,
                            regexes=data.regexes, lookups=data.lookups)
        model = NluModel.train(part, config)
        for i in test_idx:
            ex = examples[i]
            intent = model.parse(ex.text)["intent"]
            if intent["name"] == ex.intent:
                right[ex.intent] += 1
            else:
                misses.append(Miss(ex.text, ex.intent, str(intent["name"]),
                                   round(float(intent["confidence"]), 3), ex.source))
        if progress:
            progress(k + 1, folds)
    counts = Counter(labels)
    return misses, {i: round(right[i] / n, 3) for i, n in sorted(counts.items())}


def _component(model: Any, name: str) -> Any:
    return next((c for c in model.components if c.name == name), None)
