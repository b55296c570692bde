"""Our own NLU: Rasa-format training data in, Rasa /model/parse-shaped answers out.

The training-data names import cheaply; `NluModel` pulls in scikit-learn, so it is
loaded on first use (the CLI imports the error types just to report them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nlu.settings import NluSettings
from nlu.training_data import (
    Entity,
    Example,
    NluDataError,
    TrainingData,
    load_training_data,
)

if TYPE_CHECKING:
    from nlu.component import NluModelError
    from nlu.model import NluModel

__all__ = ["Entity", "Example", "NluDataError", "NluModel", "NluModelError", "NluSettings",
           "TrainingData", "load_training_data"]


def __getattr__(name: str) -> Any:
    if name == "NluModel":
        from nlu.model import NluModel

        return NluModel
    if name == "NluModelError":
        from nlu.component import NluModelError

        return NluModelError
    raise AttributeError(f"module 'nlu' has no attribute {name!r}")
