"""The NLU pipeline: train on Rasa-format data, answer in the shape of Rasa's /model/parse.

    model = NluModel.train(load_training_data("nlu.yml"))
    model.parse("네 관심 있어요")
    # {"text": ..., "intent": {"name": "affirm", "confidence": 0.93},
    #  "intent_ranking": [{"name": ..., "confidence": ...}, ...], "entities": [...]}
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from nlu.component import Component, Message, NluModelError
from nlu.components import (
    EntitySynonymMapper,
    FallbackClassifier,
    LogisticIntentClassifier,
    RegexEntityExtractor,
    SentenceEmbeddingFeaturizer,
    TfidfFeaturizer,
    UnicodeTokenizer,
)
from nlu.settings import NluSettings
from nlu.training_data import TrainingData, normalize

__all__ = ["DEFAULT_CONFIG", "PIPELINE", "Component", "Message", "NluModel", "NluModelError"]

# Bumped whenever what `save` writes changes meaning; `load` refuses other formats.
FORMAT_VERSION = 2
METADATA = "metadata.json"

PIPELINE: tuple[type[Component], ...] = (
    UnicodeTokenizer,
    TfidfFeaturizer,
    SentenceEmbeddingFeaturizer,
    LogisticIntentClassifier,
    RegexEntityExtractor,
    EntitySynonymMapper,
    FallbackClassifier,
)

# Every key the pipeline understands, with its default; each key's meaning is commented
# in the DEFAULT_CONFIG of the component that reads it (nlu/components.py says where).
DEFAULT_CONFIG: dict[str, Any] = {k: v for c in PIPELINE for k, v in c.DEFAULT_CONFIG.items()}


class NluModel:
    """A trained pipeline. Build it with `train` or `load`, then call `parse`."""

    def __init__(self, config: dict[str, Any], components: list[Component],
                 intents: list[str]) -> None:
        self.config = config
        self.components = components
        self.intents = intents

    @classmethod
    def train(cls, data: TrainingData, config: dict[str, Any] | None = None) -> NluModel:
        """Train on `data`; `config` overrides DEFAULT_CONFIG and the DIALER_NLU_* settings."""
        from threadpoolctl import threadpool_limits

        merged = _resolve_config(config)
        components = [c.create(merged) for c in PIPELINE]
        messages = _training_messages(data)
        # The matrices are tiny; BLAS threads only add hand-offs, and on a busy machine
        # (call workers beside each other) they made a 10 ms fit take a second or more.
        with threadpool_limits(limits=1, user_api="blas"):
            for component in components:
                component.train(data, messages)
                component.process_batch(messages)
        return cls(merged, components, data.intents())

    def parse(self, text: str) -> dict[str, Any]:
        """Classify one utterance; the result has the keys of Rasa's /model/parse answer."""
        return self.parse_with_scope(text)[0]

    def parse_with_scope(self, text: str) -> tuple[dict[str, Any], float]:
        """`parse`, plus how much the text looks like anything trained (the uncalibrated
        top probability): the call picks between recogniser readings with it, because
        calibrated confidence is honest only for text that is in scope, and a nonsense
        reading ("과 했어요") can be sharpened to 0.93 (its in-scope score: 0.52)."""
        message = Message(text=text)
        for component in self.components:
            component.process(message)
        name, confidence = message.intent or ("nlu_fallback", 0.0)
        return {
            "text": text,
            "intent": {"name": name, "confidence": confidence},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in message.intent_ranking],
            "entities": message.entities,
        }, message.in_scope_score

    def save(self, directory: Path | str) -> None:
        """Write the model to `directory` (created if needed); metadata.json goes last, so
        a directory holding it holds a complete model."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / METADATA).unlink(missing_ok=True)
        for component in self.components:
            component.persist(directory)
        metadata = {"format_version": FORMAT_VERSION, "sklearn_version": _sklearn_version(),
                    "pipeline": [c.name for c in self.components], "intents": self.intents,
                    "config": self.config,
                    "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (directory / METADATA).write_text(json.dumps(metadata, ensure_ascii=False, indent=2),
                                          encoding="utf-8")

    @classmethod
    def load(cls, directory: Path | str) -> NluModel:
        """Read a model written by `save`, with the thresholds it was trained with; raises
        NluModelError naming what is wrong."""
        directory = Path(directory)
        meta_path = directory / METADATA
        if not meta_path.is_file():
            raise NluModelError(directory, f"no saved NLU model here ({METADATA} is missing)",
                                "train one and write it with NluModel.save(directory)")
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
            config, intents = dict(metadata["config"]), list(metadata["intents"])
            version, pipeline = metadata["format_version"], list(metadata["pipeline"])
        except (ValueError, KeyError, TypeError) as e:
            raise NluModelError(meta_path, f"is corrupt ({type(e).__name__}: {e})",
                                "save the model again") from None
        if version != FORMAT_VERSION:
            raise NluModelError(meta_path, f"model format {version} is not the supported "
                                f"{FORMAT_VERSION}", "retrain and save the model again")
        if metadata.get("sklearn_version") != _sklearn_version():
            # Pickled scikit-learn objects are only guaranteed to load in the version that
            # wrote them; failing here beats odd predictions later.
            raise NluModelError(meta_path, f"saved with scikit-learn "
                                f"{metadata.get('sklearn_version')}, but "
                                f"{_sklearn_version()} is installed",
                                "retrain and save the model again")
        expected = [c.name for c in PIPELINE]
        if pipeline != expected:
            raise NluModelError(meta_path, f"pipeline {pipeline} differs from this version's "
                                f"{expected}", "retrain and save the model again")
        return cls(config, [c.load(config, directory) for c in PIPELINE], intents)


_THRESHOLDS = ("fallback_threshold", "out_of_scope_threshold", "ambiguity_margin",
               "similarity_threshold")


def _resolve_config(config: dict[str, Any] | None) -> dict[str, Any]:
    unknown = sorted(set(config or {}) - set(DEFAULT_CONFIG))
    if unknown:
        raise NluModelError("NLU config", f"unknown key `{unknown[0]}`",
                            f"known keys are {', '.join(sorted(DEFAULT_CONFIG))}")
    settings = NluSettings()
    merged = {**DEFAULT_CONFIG, **{k: getattr(settings, k) for k in _THRESHOLDS},
              **(config or {})}
    for key in _THRESHOLDS:
        if not 0.0 <= float(merged[key]) <= 1.0:
            raise NluModelError("NLU config", f"`{key}` is {merged[key]}",
                                "use a number between 0 and 1")
    return merged


def _training_messages(data: TrainingData) -> list[Message]:
    # One message per distinct (text, intent): a repeated example would only count twice.
    # The same text under two intents stays twice, so the model learns it is split.
    seen: set[tuple[str, str]] = set()
    messages = []
    for ex in data.examples:
        key = (normalize(ex.text), ex.intent)
        if key not in seen:
            seen.add(key)
            messages.append(Message(text=ex.text, label=ex.intent))
    return messages


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)
