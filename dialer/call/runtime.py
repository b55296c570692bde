"""What one call process owns: a SIP user agent, the speech engines and campaign kits.

Built by a composition root (a Celery child after the fork, or the CLI) and passed down.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import vosk

from dialer.call.session import CallSession, SessionConfig, place
from dialer.conversation.kit import CampaignKit, load_kit
from dialer.conversation.outcomes import CallOutcome, TurnRecord
from dialer.handoff.acd import Acd
from dialer.handoff.desk import HandoffDesk
from dialer.settings import DialerSettings
from dialer.telephony.sip import SipAccount, UserAgent
from dialer.telephony.trunk import TrunkConfig
from voices.asr import VoskAsr, load_model, resolve_model_path, warm_up
from voices.audio import resample
from voices.settings import VoiceSettings
from voices.tts import Pyttsx3Tts, TtsError, render_espeak_cli
from voices.vad import VadConfig

log = logging.getLogger(__name__)


def preload(voices: VoiceSettings) -> vosk.Model:
    """What a worker parent does before it forks its call processes: load the vosk model
    and, by importing this module, the whole call stack (pjsua2, scikit-learn, webrtcvad,
    pyttsx3). Both stay shared copy-on-write; imported after the fork instead, the
    modules alone cost each call process ~130 MB of private memory (bench/call_cost.py).
    No pjsua2 Endpoint is made here: each process makes its own after the fork."""
    import gc

    import pyttsx3  # noqa: F401  (imported lazily by the TTS; share it too)

    model = load_model(resolve_model_path(voices.vosk_model, voices.language))
    warm_open_vocabulary(model, voices)
    preload_sentence_encoder()
    # The cyclic GC would write to every object header made so far, copying those pages
    # into each child (measured: ~80 MB per idle Celery child); frozen objects are never
    # scanned, so their pages stay shared (measured: ~15 MB).
    gc.collect()
    gc.freeze()
    return model


def preload_sentence_encoder() -> None:
    """The NLU's default sentence encoder (nlu/use_encoder.py: a 65 MB table), loaded
    and warmed before the fork so every call process shares it instead of reading its
    own copy (and paying ~1 s) when it trains its first campaign's NLU."""
    from nlu.component import NluModelError
    from nlu.embeddings import shared_encoder
    from nlu.featurizers import SentenceEmbeddingFeaturizer

    name = SentenceEmbeddingFeaturizer.DEFAULT_CONFIG["embedding_model"]
    if name:
        try:
            shared_encoder(str(name))
        except NluModelError as exc:
            log.warning("sentence encoder not preloaded: %s", exc)


# Said once to the open-vocabulary recogniser before the fork (see voices.asr.warm_up).
WARM_UP_TEXT = {
    "ko": "여보세요 네 말씀하세요 지금은 바빠서 나중에 다시 전화 주세요",
    "en": "hello yes speaking I am busy right now please call me back later",
    "zh": "喂 你好 我现在很忙 请晚点再打给我",
}


def warm_open_vocabulary(model: vosk.Model, voices: VoiceSettings) -> None:
    """Warm the model's open-vocabulary recogniser with a sentence in its language, so
    the first out-of-script reply of every call process is decoded in ~0.2 s, not ~1 s."""
    import tempfile

    text = WARM_UP_TEXT.get(voices.language.split("-")[0], WARM_UP_TEXT["en"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            pcm, rate = render_espeak_cli(text, voices.tts_voice, voices.tts_rate,
                                          Path(tmp) / "warm.wav")
    except TtsError as exc:
        log.warning("open-vocabulary recogniser not warmed up: %s", exc)
        return
    seconds = warm_up(model, resample(pcm, rate, 16000))
    log.info("open-vocabulary recogniser warmed up in %.1fs", seconds)


class CallRuntime:
    def __init__(self, settings: DialerSettings, voices: VoiceSettings, model: vosk.Model,
                 process_index: int = 0, sip_port: int | None = None) -> None:
        self.settings, self.voices = settings, voices
        rtp = settings.rtp_port_base + process_index * settings.rtp_ports_per_process
        self.ua = UserAgent(sip_port=settings.sip_port if sip_port is None else sip_port,
                            rtp_port=rtp, rtp_range=settings.rtp_ports_per_process,
                            bind=settings.sip_bind, public_address=settings.sip_public_address,
                            codecs=settings.codecs, log_level=settings.pjsip_log_level)
        self.asr = VoskAsr(model, grammar_min_confidence=voices.asr_grammar_min_confidence)
        self.tts = Pyttsx3Tts(voices.tts_voice, voices.tts_rate, voices.prompt_cache_dir)
        voices.prompt_cache_dir.mkdir(parents=True, exist_ok=True)
        self._accounts: dict[TrunkConfig, SipAccount] = {}
        self._kits: dict[tuple[str, float], CampaignKit] = {}
        self._lock = threading.Lock()
        self._acd: Acd | None = None
        log.info("call runtime ready pid=%s sip_port=%s rtp=%s+%s", os.getpid(),
                 self.ua.sip_port, rtp, settings.rtp_ports_per_process)

    def account(self, trunk: TrunkConfig) -> SipAccount:
        with self._lock:
            if trunk not in self._accounts:
                self._accounts[trunk] = self.ua.account(trunk)
            return self._accounts[trunk]

    def kit(self, script_dir: str) -> CampaignKit:
        # Keyed by modification time so an edited script is picked up without a restart.
        p = Path(script_dir)
        mtime = max((f.stat().st_mtime for f in (p / "script.yml", p / "nlu.yml")
                     if f.exists()), default=0.0)
        key = (str(p.resolve()), mtime)
        with self._lock:
            if key not in self._kits:
                self._kits[key] = load_kit(p)
            return self._kits[key]

    def call(self, number_or_uri: str, script_dir: str, fields: dict[str, Any], *,
             caller_id: str | None = None, recording: Path | None = None,
             ring_timeout_s: float = 25.0, on_turn: Any = None,
             on_answer: Any = None, voice: str | None = None,
             trunk: TrunkConfig | None = None,
             handoff: HandoffDesk | None = None) -> CallOutcome:
        """Place one call through `trunk` (default: the workers' own DIALER_SIP_*)."""
        self.ua.register_thread()
        kit = self.kit(script_dir)
        trunk = trunk or self.settings.trunk(caller_id)
        account = self.account(trunk)
        cfg = SessionConfig(ring_timeout_s=ring_timeout_s, max_call_s=self.settings.max_call_s,
                            vad=VadConfig(end_silence_ms=self.settings.vad_end_silence_ms,
                                          floor_dbfs=self.settings.vad_floor_dbfs,
                                          engine=self.settings.vad_engine,
                                          max_pause_ms=self.settings.turn_max_pause_ms),
                            turn_end=self.settings.turn_end,
                            opening_wait_s=self.settings.opening_wait_s,
                            barge_in_min_ms=self.settings.barge_in_min_ms,
                            asr_early_final_ms=self.settings.asr_early_final_ms or None,
                            echo_guard=self.settings.echo_guard,
                            db_outage_s=self.settings.db_outage_s)
        session = CallSession(self.ua, account, self.asr, kit.nlu, self.tts.with_voice(voice),
                              kit.script, kit.phrases, cfg, on_turn=on_turn, on_answer=on_answer,
                              handoff=handoff)
        return place(self.ua, account, trunk.dial_uri(number_or_uri), session, fields,
                     recording)

    @property
    def acd(self) -> Acd | None:
        """The shared ACD (made on first use); None without a Redis for it."""
        url = self.settings.resolved_acd_url
        if url is None:
            return None
        with self._lock:
            if self._acd is None:
                self._acd = Acd.from_url(url)
            return self._acd

    def shutdown(self) -> None:
        self._accounts.clear()
        self.ua.shutdown()


__all__ = ["CallRuntime", "CampaignKit", "TurnRecord", "load_kit"]
