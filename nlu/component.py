"""The contract every NLU pipeline component keeps.

A pipeline is a list of components run in order over a `Message`; each reads what the
ones before it wrote (tokens, features, a ranking) and adds its own part. Keeping the
contract this small is what lets a later component (a calibrator, an out-of-scope
detector, a client for an external Rasa server) slot in without touching the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_matrix

    from nlu.training_data import TrainingData


class NluModelError(ValueError):
    """A saved model or a config that cannot be used, as one line: `<where>: <problem>; <fix>`."""

    def __init__(self, where: Path | str, problem: str, fix: str) -> None:
        self.where, self.problem, self.fix = str(where), problem, fix
        super().__init__(f"{where}: {problem}; {fix}")


@dataclass
class Message:
    """One utterance on its way through the pipeline."""

    text: str  # as given; entity offsets index this string
    label: str | None = None  # the gold intent, only while training
    tokens: list[str] = field(default_factory=list)
    features: csr_matrix | None = None  # one row
    embedding: np.ndarray | None = None  # unit-length sentence embedding, when one is on
    intent_ranking: list[tuple[str, float]] = field(default_factory=list)  # best first
    # How much the input looks like anything trained (the uncalibrated top probability);
    # low means out of scope.
    in_scope_score: float = 1.0
    # Cosine similarity to the nearest training example (the sentence embedding's), None
    # without an embedding model; low means unlike every example: out of scope.
    similarity: float | None = None
    # Cosine similarity to the nearest background remark (nlu/background.py); above
    # `similarity`, the reply is more like off-topic talk than like anything the author
    # wrote, and falls back.
    background_similarity: float | None = None
    intent: tuple[str, float] | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)


class Component:
    """Base class: subclasses set `name` and `DEFAULT_CONFIG` and override what they need.

    Lifecycle: `create(config)` -> `train(data, messages)` -> `process(message)` many times;
    `persist(dir)` / `load(config, dir)` carry the trained state (`_state` / `_restore`)
    between processes. Stateless components keep the defaults and write no file.
    """

    name: ClassVar[str] = "Component"
    # Keys this component reads from the pipeline config, with their defaults; each key is
    # commented where the subclass defines it.
    DEFAULT_CONFIG: ClassVar[dict[str, Any]] = {}
    stateful: ClassVar[bool] = False  # True when `_state` has something to persist

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @classmethod
    def create(cls, config: dict[str, Any]) -> Self:
        return cls({k: config.get(k, v) for k, v in cls.DEFAULT_CONFIG.items()})

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        """Learn from the training messages, already processed by earlier components."""

    def process(self, message: Message) -> None:
        raise NotImplementedError

    def process_batch(self, messages: list[Message]) -> None:
        for message in messages:
            self.process(message)

    def persist(self, directory: Path) -> None:
        if self.stateful:
            import joblib

            joblib.dump(self._state(), directory / f"{self.name}.joblib")

    @classmethod
    def load(cls, config: dict[str, Any], directory: Path) -> Self:
        component = cls.create(config)
        if not cls.stateful:
            return component
        path = directory / f"{cls.name}.joblib"
        import joblib

        try:
            state = joblib.load(path)
        except FileNotFoundError:
            raise NluModelError(path, "missing", "save the model again") from None
        except Exception as e:  # noqa: BLE001 - a damaged pickle raises almost anything
            raise NluModelError(path, f"cannot be read ({type(e).__name__}: {e})",
                                "save the model again") from None
        component._restore(state)
        return component

    def _state(self) -> dict[str, Any]:
        """What `persist` writes for a stateful component."""
        return {}

    def _restore(self, state: dict[str, Any]) -> None:
        """Take back what `_state` returned."""
