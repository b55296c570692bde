"""Text to speech: pyttsx3 on espeak-ng, rendered to PCM at the call's clock rate, cached."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import os
import subprocess
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

from voices.audio import read_wav, resample, write_wav

log = logging.getLogger(__name__)


# libespeak-ng is one engine per process and not thread-safe, and pyttsx3 hands every
# caller the same engine: every use of it in this process (renders in any voice, the
# voice list) holds this lock.
_ESPEAK = threading.RLock()


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
            tmp = cached.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
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
        self._lock = _ESPEAK
        # Set by the driver's "finished-utterance" notification, which comes after the
        # WAV is written. runAndWait() alone is not enough: in pyttsx3 2.99 the first
        # runAndWait() of a new engine returns while espeak-ng is still synthesising on
        # its own thread, so a loaded machine would read a file not yet written.
        self._finished = threading.Event()
        self._completed = False
        self._driver_stuck = False
        # Voices other than this one share its engine and lock (with_voice).
        self._variants: dict[str, Pyttsx3Tts] = {}
        self._shared: Pyttsx3Tts = self
        self._spoken_voice: str | None = None  # the voice the engine is set to now

    @property
    def voice_key(self) -> str:
        return f"pyttsx3-espeak|{self.voice}|{self.rate}"

    def with_voice(self, voice: str | None) -> Pyttsx3Tts:
        """The same engine speaking with another voice (a campaign's own): renders stay
        serialised on one pyttsx3 engine, which is one per process anyway."""
        if not voice or voice == self.voice:
            return self
        with self._lock:
            other = self._variants.get(voice)
            if other is None:
                other = Pyttsx3Tts(voice, self.rate, self.cache_dir)
                other._lock, other._variants = self._lock, self._variants
                other._finished = self._finished
                other._shared = self
                self._variants[voice] = other
            return other

    def _get_engine(self):  # type: ignore[no-untyped-def]
        if self._shared is not self:
            # Borrow the first engine and switch it to this voice (under the shared lock).
            engine = self._shared._create_engine()
            self._check_voice(engine)
            engine.setProperty("voice", self.voice)
            self._shared._spoken_voice = self.voice
            return engine
        engine = self._create_engine()
        if self._spoken_voice != self.voice:
            engine.setProperty("voice", self.voice)
            self._spoken_voice = self.voice
        return engine

    def _check_voice(self, engine: object = None) -> None:
        if self.voice not in installed_voice_ids():
            raise TtsError(
                f"TTS voice {self.voice!r} is not installed in espeak-ng; "
                "use one of `espeak-ng --voices` (DIALER_TTS_VOICE, or the campaign's "
                "voice)")

    def _create_engine(self):  # type: ignore[no-untyped-def]
        if self._engine is None:
            import pyttsx3

            try:
                engine = pyttsx3.init("espeak")
            except Exception as exc:  # the driver raises bare errors when libespeak is absent
                raise TtsError(
                    f"pyttsx3 could not start espeak-ng ({exc}); install espeak-ng "
                    "(apt-get install espeak-ng libespeak-ng1)"
                ) from exc
            self._check_voice(engine)
            engine.setProperty("voice", self.voice)
            self._spoken_voice = self.voice
            if self.rate:
                engine.setProperty("rate", self.rate)
            engine.connect("finished-utterance", self._on_finished)
            self._engine = engine
        return self._engine

    def _on_finished(self, name: object = None, completed: bool = True) -> None:
        self._completed = bool(completed)
        self._finished.set()

    def _wait_written(self, out: Path, timeout_s: float) -> bool:
        """Until the driver says the utterance is done; or, as a fallback, until the WAV
        is complete on disk: its header's length matches the file and the file has
        stopped growing. (Seen once in a few hundred renders, with three simulators
        starting at once: the notification never came although the file was written.)"""
        deadline = time.monotonic() + timeout_s
        sizes: list[int] = []
        while time.monotonic() < deadline:
            if self._finished.wait(0.1):
                return True
            size = out.stat().st_size if out.exists() else 0
            sizes = (sizes + [size])[-3:]
            if len(sizes) == 3 and len(set(sizes)) == 1 and _complete_wav(out, size):
                self._shared._completed = True
                return True
        return False

    # How long a render may take through the pyttsx3 driver before the espeak-ng
    # command line renders it instead (a normal render takes well under a second).
    driver_timeout_s = 8.0

    def _render(self, text: str) -> tuple[bytes, int]:
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            self._check_voice()  # the command line would speak an unknown voice as another
            out = Path(tmp) / "tts.wav"
            if not self._shared._driver_stuck:
                engine = self._get_engine()
                # The espeak driver prints a line per saved file; keep worker logs clean.
                self._finished.clear()
                with contextlib.redirect_stdout(io.StringIO()):
                    engine.save_to_file(text, str(out))
                    engine.runAndWait()
                    done = self._wait_written(out, self.driver_timeout_s)
                if done and self._shared._completed and out.exists() and out.stat().st_size > 44:
                    return read_wav(out)
                # Seen a few times in hundreds of process starts on a loaded machine: the
                # driver queues the utterance and never synthesises it. The same
                # libespeak-ng through its command line gives the same voice.
                log.warning("pyttsx3 did not render %r within %.0fs; using the espeak-ng "
                            "command line from now on in this process", text,
                            self.driver_timeout_s)
                self._shared._driver_stuck = True
            return self._render_cli(text, out)

    def _render_cli(self, text: str, out: Path) -> tuple[bytes, int]:
        return render_espeak_cli(text, self.voice, self.rate, out, self.render_timeout_s)


@functools.lru_cache(maxsize=1)
def installed_voices() -> tuple[tuple[str, str], ...]:
    """(id, name) of every voice pyttsx3's espeak driver offers here, by name."""
    import pyttsx3

    with _ESPEAK:
        try:
            engine = pyttsx3.init("espeak")
        except Exception as exc:  # the driver raises bare errors when libespeak is absent
            raise TtsError(f"pyttsx3 could not start espeak-ng ({exc}); install espeak-ng "
                           "(apt-get install espeak-ng libespeak-ng1)") from exc
        voices = engine.getProperty("voices")
        return tuple(sorted(((str(v.id), str(v.name)) for v in voices), key=lambda v: v[1]))


def installed_voice_ids() -> frozenset[str]:
    return frozenset(v for v, _ in installed_voices())


def render_espeak_cli(text: str, voice: str, rate: int | None, out: Path,
                      timeout_s: float = 30.0) -> tuple[bytes, int]:
    """Render through the espeak-ng command line (no state in this process): (pcm, rate)."""
    cmd = ["espeak-ng", "-v", voice, "-w", str(out)]
    if rate:
        cmd += ["-s", str(rate)]
    try:
        # The text goes on standard input: as an argument, a prompt or reply starting
        # with "-" was read as an option ("-w /elsewhere.wav" wrote another file).
        subprocess.run([*cmd, "--stdin"], input=text.encode("utf-8"), capture_output=True,
                       timeout=timeout_s, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise TtsError(f"espeak-ng did not speak {text!r} ({exc}); check that espeak-ng "
                       "is installed (apt-get install espeak-ng)") from None
    if not out.exists() or out.stat().st_size <= 44:
        raise TtsError(f"espeak-ng produced no audio for {text!r}")
    return read_wav(out)


def _complete_wav(path: Path, size: int) -> bool:
    """A RIFF/WAVE file whose header declares exactly the bytes on disk."""
    if size <= 44:
        return False
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return (head[:4] == b"RIFF" and head[8:12] == b"WAVE"
            and int.from_bytes(head[4:8], "little") + 8 == size)
