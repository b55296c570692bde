"""The pipeline's first steps: text -> tokens -> features (nlu/components.py lists them all).

The tokenizer splits a reply into words; the TF-IDF featurizer turns them into character
and word n-gram columns; the optional sentence-embedding featurizer appends a sentence
embedding (nlu/embeddings.py). What the classifier (nlu/classifiers.py) reads is the
`features` row these leave on each message.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer

from nlu.background import languages_for as background_languages
from nlu.background import remarks
from nlu.component import Component, Message, NluModelError
from nlu.embeddings import SentenceEncoder, shared_encoder

if TYPE_CHECKING:
    from nlu.training_data import TrainingData

_WORD = re.compile(r"\w+")


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
        # "use-multilingual" (Universal Sentence Encoder multilingual v3, nlu/use_encoder.py:
        # Korean, Chinese, English and 13 more, ~1 ms a reply), null (off: character and
        # word n-grams only), "minilm" (all-MiniLM-L6-v2, English, `make nlu-embeddings`)
        # or the path of a sentence-transformers BERT model directory.
        "embedding_model": "use-multilingual",
        # Scale of the embedding columns beside the TF-IDF ones (each TF-IDF block has unit
        # length, as has the embedding); larger lets meaning outweigh spelling. 3 was best
        # on average over our Korean, English and Chinese held-out sets (2-5 within 0.5 pt).
        "embedding_weight": 3.0,
        # Everyday off-topic remarks a reply is compared with (nlu/background.py): auto
        # (the languages the examples are written in), a list such as [ko, en], or false.
        "background_remarks": "auto",
        # A background remark at least this similar to one of the author's examples is
        # left out: the author's intent wins.
        "background_overlap": 0.8,
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.encoder: SentenceEncoder | None = None
        self.fingerprint: dict[str, Any] | None = None
        # The training examples' embeddings (unit rows), for each reply's similarity to
        # its nearest example (Message.similarity, the out-of-scope check on meaning).
        self.examples: np.ndarray | None = None
        # The background remarks' embeddings (nlu/background.py), the same way.
        self.background: np.ndarray | None = None
        self._just_trained: list[str] | None = None

    def _open(self) -> None:
        name = self.config["embedding_model"]
        self.encoder = shared_encoder(str(name)) if name else None

    def train(self, data: TrainingData, messages: list[Message]) -> None:
        self._open()
        self.fingerprint = self.encoder.fingerprint() if self.encoder else None
        self.examples = None
        self.background = None
        texts = [m.text for m in messages]
        languages = background_languages(self.config["background_remarks"], texts)
        overlap = self.config["background_overlap"]
        if not isinstance(overlap, int | float) or not 0.0 <= overlap <= 1.0:
            raise NluModelError("NLU config", f"`background_overlap` is {overlap!r}",
                                "use a number between 0 and 1")
        if self.encoder is not None:
            self.examples = self._encode(texts)
            # NluModel.train passes the same messages to process_batch next: one encoding
            # serves both (the encoder was most of the training time on large data).
            self._just_trained = texts
            if languages and len(self.examples):
                # The background remarks, without those too like one of the examples.
                vectors = np.vstack([self._remark_vectors(lang) for lang in languages])
                near = (vectors @ self.examples.T).max(axis=1)
                self.background = vectors[near < float(overlap)]

    def process(self, message: Message) -> None:
        self.process_batch([message])

    def process_batch(self, messages: list[Message]) -> None:
        if self.encoder is None:
            return
        texts = [m.text for m in messages]
        if self._just_trained == texts and self.examples is not None:
            vectors = self.examples.copy()
        else:
            vectors = self._encode(texts)
        self._just_trained = None
        # No words, no meaning: an empty or punctuation-only reply is like no example.
        vectors[[i for i, m in enumerate(messages) if not m.tokens]] = 0.0
        if self.examples is not None and len(self.examples):
            nearest = (vectors @ self.examples.T).max(axis=1)
            for m, sim in zip(messages, nearest, strict=True):
                m.similarity = float(sim)
        if self.background is not None and len(self.background):
            nearest = (vectors @ self.background.T).max(axis=1)
            for m, sim in zip(messages, nearest, strict=True):
                m.background_similarity = float(sim)
        weight = float(self.config["embedding_weight"])
        matrix = hstack([stack_features([m.features for m in messages]), csr_matrix(vectors * weight)],
                        format="csr")
        for i, (m, v) in enumerate(zip(messages, vectors, strict=True)):
            m.embedding = v
            m.features = matrix[i]

    def _remark_vectors(self, language: str) -> np.ndarray:
        """A language's background remarks encoded, once per process and encoder."""
        assert self.encoder is not None
        key = (id(self.encoder), language)
        if key not in _REMARK_VECTORS:
            _REMARK_VECTORS[key] = self._encode(list(remarks(language)))
        return _REMARK_VECTORS[key]

    def _encode(self, texts: list[str]) -> np.ndarray:
        assert self.encoder is not None
        if len(texts) >= 256:
            # Training on thousands of texts: the matrices are big enough for BLAS threads
            # to pay (1.4x on 2 cores), which NluModel.train otherwise holds to one.
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
                return np.asarray(self.encoder.encode(texts), dtype=np.float32)
        return np.asarray(self.encoder.encode(texts), dtype=np.float32)

    def _state(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "examples": self.examples,
                "background": self.background}

    def _restore(self, state: dict[str, Any]) -> None:
        self._open()
        self.fingerprint = state["fingerprint"]
        self.examples = state.get("examples")
        self.background = state.get("background")
        found = self.encoder.fingerprint() if self.encoder else None
        if found != self.fingerprint:
            raise NluModelError(f"embedding_model: {self.config['embedding_model']}",
                                f"is {found}, but the NLU model was trained with "
                                f"{self.fingerprint}", "retrain the NLU model")


# (encoder, language) -> that language's background remarks encoded; encoders are shared
# per process (nlu/embeddings.py) and live as long as it.
_REMARK_VECTORS: dict[tuple[int, str], np.ndarray] = {}


def stack_features(rows: list[csr_matrix | None]) -> csr_matrix:
    """The messages' feature rows as one matrix (training, and a batch of replies)."""
    from scipy.sparse import vstack

    if any(r is None for r in rows):
        raise ValueError("a training message has no features; run a featurizer first")
    return vstack(rows, format="csr")
