"""Text to speech: pyttsx3 on espeak-ng, rendered to PCM at the call's clock rate, cached."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from pathlib import Path

from voices.audio import read_wav, resample, write_wav


class TtsError(RuntimeError):
    retryable = False


class TtsEngine(ABC):
    """A vendor implements `_render`; caching and resampling are shared."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir

    @property
    @abstractmethod
    def voice_key(self) -> str:
        """Identifies everything that changes the sound (engine, voice, rate)."""

    @abstractmethod
    def _render(self, text: str) -> tuple[bytes, int]:
        """Return (16-bit mono PCM, native sample rate)."""

    def synthesize(self, text: str, sample_rate: int) -> bytes:
        key = hashlib.sha1(f"{self.voice_key}|{sample_rate}|{text}".encode()).hexdigest()
        cached = self.cache_dir / f"{key}.wav" if self.cache_dir else None
        if cached is not None and cached.exists():
            return read_wav(cached)[0]
        pcm, rate = self._render(text)
        pcm = resample(pcm, rate, sample_rate)
        if cached is not None:
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            write_wav(tmp, pcm, sample_rate)
            tmp.replace(cached)  # atomic: concurrent workers never read half a file
        return pcm


class Pyttsx3Tts(TtsEngine):
    """pyttsx3's espeak driver; the engine is not thread-safe, so renders are serialised."""

    render_timeout_s = 30.0

    def __init__(self, voice: str = "ko", rate: int | None = None,
                 cache_dir: Path | None = None) -> None:
        super().__init__(cache_dir)
        self.voice, self.rate = voice, rate
        self._engine = None
        self._lock = threading.Lock()
        # Set by the driver's "finished-utterance" notification, which comes after the
        # WAV is written. runAndWait() alone is not enough: in pyttsx3 2.99 the first
        # runAndWait() of a new engine returns while espeak-ng is still synthesising on
        # its own thread, so a loaded machine would read a file not yet written.
        self._finished = threading.Event()
        self._completed = False

    @property
    def voice_key(self) -> str:
        return f"pyttsx3-espeak|{self.voice}|{self.rate}"

    def _get_engine(self):  # type: ignore[no-untyped-def]
        if self._engine is None:
            import pyttsx3

            try:
                engine = pyttsx3.init("espeak")
            except Exception as exc:  # the driver raises bare errors when libespeak is absent
                raise TtsError(
                    f"pyttsx3 could not start espeak-ng ({exc}); install espeak-ng "
                    "(apt-get install espeak-ng libespeak-ng1)"
                ) from exc
            voices = {v.id for v in engine.getProperty("voices")}
            if self.voice not in voices:
                raise TtsError(
                    f"TTS voice {self.voice!r} is not installed in espeak-ng; "
                    "set DIALER_TTS_VOICE to one of `espeak-ng --voices`"
                )
            engine.setProperty("voice", self.voice)
            if self.rate:
                engine.setProperty("rate", self.rate)
            engine.connect("finished-utterance", self._on_finished)
            self._engine = engine
        return self._engine

    def _on_finished(self, name: object = None, completed: bool = True) -> None:
        self._completed = bool(completed)
        self._finished.set()

    def _render(self, text: str) -> tuple[bytes, int]:
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "tts.wav"
            engine = self._get_engine()
            # The espeak driver prints a line per saved file; keep worker logs clean.
            self._finished.clear()
            with contextlib.redirect_stdout(io.StringIO()):
                engine.save_to_file(text, str(out))
                engine.runAndWait()
                done = self._finished.wait(self.render_timeout_s)
            if not done or not self._completed:
                raise TtsError(f"espeak-ng did not finish speaking {text!r} within "
                               f"{self.render_timeout_s:.0f}s")
            if not out.exists() or out.stat().st_size <= 44:
                raise TtsError(f"espeak-ng produced no audio for {text!r}")
            return read_wav(out)
