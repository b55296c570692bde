"""The pipeline's decision on the intent: a calibrated logistic classifier over the
features (nlu/featurizers.py), then the fallback rule that turns an unsure, out-of-scope
or ambiguous prediction into `nlu_fallback` (nlu/components.py lists the whole pipeline).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_normalize

from nlu.component import Component, Message
from nlu.featurizers import stack_features
from nlu.settings import NluSettings
from nlu.training_data import FALLBACK_INTENT

if TYPE_CHECKING:
    from nlu.training_data import TrainingData


class LogisticIntentClassifier(Component):
    """Multinomial logistic regression over the features, with calibrated confidences.

    Two numbers come out of one model. The regularised softmax probability is what tells
    out-of-scope text (it spreads over all intents) and goes to `in_scope_score`. It is
    also under-confident on real replies, so the ranking's confidences use the same scores
    sharpened by a temperature fitted on held-out folds of the training data (temperature
    scaling): an intent given 0.8 is then right about 80 % of the time, which is what the
    dialogue policy needs to combine it with the recognizer's confidence.

    With a single intent there is nothing to tell apart, so the confidence is instead the
    cosine similarity to the closest training example: a reply unlike every example still
    scores low and falls back, rather than every input being that intent at 1.0.
    """

    name = "LogisticIntentClassifier"
    stateful = True
    DEFAULT_CONFIG: ClassVar[dict[str, Any]] = {
        # Inverse regularisation strength. Larger C sharpens confidences on the training
        # phrases but also lifts unrelated text that shares a syllable or two; 10 keeps
        # held-out paraphrases mostly above the fallback threshold and noise below it.
        "C": 10.0,
        # "balanced" so an intent with 20 examples does not outvote one with 3: authors
        # write many examples for some intents, which says nothing about how often
        # customers say them.
        "class_weight": "balanced",
        # How many intents `intent_ranking` lists, as Rasa does by default.
        "ranking_length": 10,
        # Folds for fitting the confidence temperature (each costs one more fit while
        # training); 0 switches calibration off (temperature 1).
        "calibration_folds": 3,
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.intents: list[str] = []
        self.coef: np.ndarray = np.zeros((0, 0))
        self.intercept: np.ndarray = np.zeros(0)
        self.temperature = 1.0
        self.examples: csr_matrix | None = None  # only for the single-intent case

    def _new_model(self) -> LogisticRegression:
        return LogisticRegression(C=float(self.config["C"]),
                                  class_weight=self.config["class_weight"], max_iter=5000)

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        labels = [str(m.label) for m in messages]
        self.intents = sorted(set(labels))
        features = stack_features([m.features for m in messages])
        self.temperature = 1.0
        if len(self.intents) == 1:
            self.examples = l2_normalize(features)
            return
        clf = self._new_model()
        clf.fit(features, labels)
        self.intents = [str(c) for c in clf.classes_]
        # Kept as plain arrays: a dot product and a softmax per reply cost far less than
        # predict_proba's input validation, and parse latency is on the call's clock.
        self.coef, self.intercept = _as_logits(clf.coef_, clf.intercept_)
        self.temperature = self._fit_temperature(features, labels)

    def _fit_temperature(self, features: csr_matrix, labels: list[str]) -> float:
        """The temperature that makes held-out confidences honest (least log loss)."""
        from scipy.optimize import minimize_scalar
        from sklearn.model_selection import StratifiedKFold

        counts = np.unique(labels, return_counts=True)[1]
        folds = min(int(self.config["calibration_folds"]), int(counts.min()))
        if folds < 2:  # too few examples per intent to hold any out
            return 1.0
        y = np.searchsorted(self.intents, labels)
        logits = np.zeros((len(labels), len(self.intents)))
        held_out = np.zeros(len(labels), dtype=bool)
        for train_idx, test_idx in StratifiedKFold(folds, shuffle=True,
                                                   random_state=0).split(features, y):
            clf = self._new_model().fit(features[train_idx], y[train_idx])
            coef, intercept = _as_logits(clf.coef_, clf.intercept_)
            rows = np.asarray(features[test_idx] @ coef) + intercept
            columns = np.asarray(clf.classes_)
            logits[np.ix_(test_idx, columns)] = rows
            # An intent missing from a fold's training part cannot be predicted there.
            missing = np.setdiff1d(np.arange(len(self.intents)), columns)
            logits[np.ix_(test_idx, missing)] = -np.inf
            held_out[test_idx] = True
            if held_out.sum() >= _ENOUGH_HELD_OUT:  # plenty to fit one number; saves fits
                break
        logits, y = logits[held_out], y[held_out]

        def log_loss(log_t: float) -> float:
            z = logits / np.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            return float(-log_p[np.arange(len(y)), y].mean())

        best = minimize_scalar(log_loss, bounds=(-3.0, 3.0), method="bounded")
        return float(np.exp(best.x))

    def process(self, message: Message) -> None:
        if message.features is None:
            raise ValueError("LogisticIntentClassifier needs features; run a featurizer first")
        if self.examples is not None:
            norm = np.sqrt(message.features.multiply(message.features).sum())
            best = (self.examples @ message.features.T).toarray().max() / norm if norm else 0.0
            score = float(min(max(best, 0.0), 1.0))
            message.intent_ranking = [(self.intents[0], score)]
            message.in_scope_score = score
            return
        logits = np.asarray(message.features @ self.coef).ravel() + self.intercept
        message.in_scope_score = float(_softmax(logits).max())
        probs = _softmax(logits / self.temperature)
        order = np.argsort(-probs, kind="stable")[: int(self.config["ranking_length"])]
        message.intent_ranking = [(self.intents[i], float(probs[i])) for i in order]

    def _state(self) -> dict[str, Any]:
        return {"intents": self.intents, "coef": self.coef, "intercept": self.intercept,
                "temperature": self.temperature, "examples": self.examples}

    def _restore(self, state: dict[str, Any]) -> None:
        self.intents, self.coef = state["intents"], state["coef"]
        self.intercept, self.examples = state["intercept"], state["examples"]
        self.temperature = float(state["temperature"])


# Held-out examples that pin the temperature down well; larger data stops after one fold.
_ENOUGH_HELD_OUT = 2000


def _as_logits(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features x intents) weights and biases; sklearn keeps one row for two classes."""
    if coef.shape[0] == 1:
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return np.ascontiguousarray(coef.T), intercept


def _softmax(z: np.ndarray) -> np.ndarray:
    exp = np.exp(z - z.max())
    return np.asarray(exp / exp.sum())


class FallbackClassifier(Component):
    """Turns an unsure, out-of-scope or ambiguous prediction into `nlu_fallback`, the way
    Rasa does: the intent becomes nlu_fallback with the threshold as its confidence, it is
    put first in the ranking, and the classifier's ranking stays below it for whoever
    wants it."""

    name = "FallbackClassifier"
    DEFAULT_CONFIG: ClassVar[dict[str, Any]] = {
        # Below this calibrated top confidence the reply falls back; see NluSettings.
        "fallback_threshold": NluSettings.model_fields["fallback_threshold"].default,
        # Below this in-scope score (uncalibrated top probability) the reply is taken for
        # out of scope and falls back; see NluSettings.
        "out_of_scope_threshold": NluSettings.model_fields["out_of_scope_threshold"].default,
        # A top-two gap below this falls back as ambiguous; see NluSettings.
        "ambiguity_margin": NluSettings.model_fields["ambiguity_margin"].default,
        # Below this similarity to the nearest training example (with an embedding model)
        # the reply is out of scope; see NluSettings.
        "similarity_threshold": NluSettings.model_fields["similarity_threshold"].default,
        # A reply less like its nearest example than this is never answered with full
        # confidence: the confidence is capped, from 1 here down to CAPPED_AT at the
        # similarity threshold. Sure-sounding answers on text like nothing the author
        # wrote ("how much is a coffee these days" -> ask_cost at 0.997) were the worst
        # mistakes; below the intent's confirm bar the robot asks before acting.
        "similarity_full": 0.8,
    }

    def process(self, message: Message) -> None:
        ranking = message.intent_ranking
        threshold = float(self.config["fallback_threshold"])
        top = ranking[0][1] if ranking else 0.0
        gap = top - ranking[1][1] if len(ranking) > 1 else 1.0
        if (top < threshold or gap < float(self.config["ambiguity_margin"])
                or message.in_scope_score < float(self.config["out_of_scope_threshold"])
                or (message.similarity is not None
                    and message.similarity < float(self.config["similarity_threshold"]))
                or (message.background_similarity or 0.0) > (message.similarity or 1.0)):
            message.intent = (FALLBACK_INTENT, threshold)
            message.intent_ranking = [(FALLBACK_INTENT, threshold), *ranking]
        else:
            ceiling = self._ceiling(message.similarity)
            name, confidence = ranking[0]
            message.intent = (name, min(confidence, ceiling))
            message.intent_ranking = [message.intent, *ranking[1:]]

    def _ceiling(self, similarity: float | None) -> float:
        """The highest confidence a reply this similar to its nearest example gets."""
        low, full = float(self.config["similarity_threshold"]), float(
            self.config["similarity_full"])
        if similarity is None or similarity >= full or full <= low:
            return 1.0
        share = max(0.0, (similarity - low) / (full - low))
        return CAPPED_AT + (1.0 - CAPPED_AT) * share


# The confidence ceiling at the similarity threshold (FallbackClassifier): above the
# fallback threshold, so the cap alone never turns an answer into a fallback.
CAPPED_AT = 0.6
