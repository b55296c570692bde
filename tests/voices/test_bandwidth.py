"""Bandwidth extension of telephone-band speech (voices/bandwidth.py) and its use by the
recogniser on narrowband calls only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dialer.conversation.frames import InputAudio, UserStartedSpeaking, UserStoppedSpeaking
from dialer.conversation.pipeline import run_test
from dialer.conversation.processors import AsrProcessor
from voices.asr import AsrResult
from voices.bandwidth import BandwidthExtender

RATE = 16000


def tone(hz: float, seconds: float, amplitude: float = 8000.0) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * hz * t) * amplitude).astype("<i2").tobytes()


def above_4k_rms(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(float)
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / RATE) < 4100] = 0
    return float(np.sqrt(np.mean(np.fft.irfft(spectrum, len(x)) ** 2)))


@pytest.mark.parametrize("n", [0, 1, 159, 160, 320, 4321])
def test_as_many_samples_come_out_as_went_in(n: int) -> None:
    assert len(BandwidthExtender().process(bytes(2 * n))) == 2 * n


def test_silence_stays_silent_and_low_speech_gets_no_hiss() -> None:
    ext = BandwidthExtender()
    assert ext.process(bytes(640)) == bytes(640)
    assert above_4k_rms(ext.process(tone(500, 0.5))) < 20


def test_the_hiss_above_4k_follows_the_3_to_4k_band() -> None:
    out = BandwidthExtender(gain=1.0).process(tone(3500, 0.5))
    band = 8000 / np.sqrt(2)  # the 3.5 kHz tone's RMS
    assert above_4k_rms(out) == pytest.approx(band, rel=0.25)
    louder = BandwidthExtender(gain=1.0).process(tone(3500, 0.5, amplitude=16000))
    assert above_4k_rms(louder) == pytest.approx(2 * above_4k_rms(out), rel=0.1)


def test_frame_by_frame_is_the_same_as_all_at_once() -> None:
    pcm = tone(3200, 0.4)
    whole = BandwidthExtender().process(pcm)
    ext = BandwidthExtender()
    pieces = b"".join(ext.process(pcm[i:i + 640]) for i in range(0, len(pcm), 640))
    assert pieces == whole


class Recorder:
    """A recogniser that keeps what it was fed."""

    sample_rate = RATE

    def __init__(self) -> None:
        self.fed: list[bytes] = []

    def grammar(self, phrases: Any) -> list[str]:
        return list(phrases)

    def stream(self, grammar: list[str] | None) -> Any:
        rec = self

        class Stream:
            def feed(self, pcm: bytes) -> None:
                rec.fed.append(pcm)

            keep = feed

            def finish(self) -> AsrResult:
                return AsrResult("네", 1.0, (("네", 1.0),), False, 0.0)

            def close(self) -> None:
                pass

            def partial(self) -> str:
                return ""

        return Stream()


@pytest.mark.parametrize("narrowband", [False, True])
def test_the_recogniser_hears_extended_speech_on_narrowband_calls_only(
        narrowband: bool) -> None:
    asr = Recorder()
    speech = tone(3500, 0.02)
    run_test(AsrProcessor(asr, early_final_ms=None, narrowband=lambda: narrowband),
             [UserStartedSpeaking(1.0, preroll=(speech,)), InputAudio(speech, 1.02, True),
              UserStoppedSpeaking(1.5, 1.0, 1.02)])
    assert len(asr.fed) == 2
    added = [above_4k_rms(pcm) for pcm in asr.fed]
    assert all(a > 1000 for a in added) if narrowband else asr.fed == [speech, speech]
