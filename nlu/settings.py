"""NLU settings read from the environment (DIALER_NLU_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NluSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIALER_NLU_", extra="ignore")

    # Below this (calibrated) confidence the reply becomes `nlu_fallback` and the robot asks
    # again. Confidence is calibrated on held-out folds of the training data, so 0.5 reads
    # "more likely wrong than right": on a phone call a wrong guess (hearing "yes" and
    # pitching on) costs more than a polite "sorry, could you say that again?".
    fallback_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # Out-of-scope check, on the classifier's uncalibrated, regularised probability (the
    # "maximum softmax probability"): text like no intent's examples spreads it over all
    # intents. Trained without any out-of-scope examples, 0.45 kept 89-92 % in-scope
    # accuracy and caught 83-89 % of out-of-scope text on our English and Korean sets
    # (bench/nlu.py); raise it to catch more out-of-scope text at the cost of more
    # "could you say that again?" on real replies.
    out_of_scope_threshold: float = Field(default=0.45, ge=0.0, le=1.0)
    # Out-of-scope check on meaning: below this cosine similarity between the reply's
    # sentence embedding and its nearest training example, the reply is unlike anything
    # the author wrote and falls back. 0.5 on the multilingual encoder kept 93-96 % of
    # in-scope English and Chinese paraphrases (86 % Korean) and caught 71-97 % of
    # out-of-scope remarks on our held-out sets (bench/nlu.py, docs/nlu.md).
    similarity_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # When the best two intents are closer than this, the reply is ambiguous and also
    # falls back (e.g. "네 근데 얼마에요": affirm vs ask_price), rather than picking a coin flip.
    ambiguity_margin: float = Field(default=0.1, ge=0.0, le=1.0)
