"""The components of the default pipeline, in the order they run (nlu/model.py chains
them as PIPELINE); each idea has its own module:

    UnicodeTokenizer, TfidfFeaturizer, SentenceEmbeddingFeaturizer   nlu/featurizers.py
    LogisticIntentClassifier, FallbackClassifier                      nlu/classifiers.py
    RegexEntityExtractor, EntitySynonymMapper                         nlu/entities.py

The contract they all keep (Component, Message) is nlu/component.py.
"""

from __future__ import annotations

from nlu.classifiers import FallbackClassifier, LogisticIntentClassifier
from nlu.entities import EntitySynonymMapper, RegexEntityExtractor
from nlu.featurizers import (
    SentenceEmbeddingFeaturizer,
    TfidfFeaturizer,
    UnicodeTokenizer,
    # Models saved before the components had modules of their own pickled the TF-IDF
    # featurizer's preprocessor as nlu.components._without_spaces; it stays reachable
    # here so that they still load.
    _without_spaces,  # noqa: F401
)

__all__ = [
    "EntitySynonymMapper",
    "FallbackClassifier",
    "LogisticIntentClassifier",
    "RegexEntityExtractor",
    "SentenceEmbeddingFeaturizer",
    "TfidfFeaturizer",
    "UnicodeTokenizer",
]
