"""NLU settings read from the environment (DIALER_NLU_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NluSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIALER_NLU_", extra="ignore")

    # Below this top confidence the reply becomes `nlu_fallback` and the robot asks again.
    # On a phone call a wrong guess (e.g. hearing "yes" and pitching on) costs more than a
    # polite "sorry, could you say that again?", so this sits above Rasa's 0.3. On the demo
    # data, held-out Korean paraphrases mostly score 0.7-0.99, while text that shares no
    # phrase with any intent stays near 0.1-0.3 (about 1/number-of-intents plus noise);
    # 0.45 separates the two with room on both sides.
    fallback_threshold: float = Field(default=0.45, ge=0.0, le=1.0)
    # When the best two intents are closer than this, the reply is ambiguous and also
    # falls back (e.g. "네 근데 얼마에요": affirm vs ask_price), rather than picking a coin flip.
    ambiguity_margin: float = Field(default=0.1, ge=0.0, le=1.0)
