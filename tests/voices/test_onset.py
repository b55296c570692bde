"""Where an utterance starts for the recogniser is fixed by the speech, not by the frame
grid it arrived on."""

from __future__ import annotations

import numpy as np

from voices.audio import ONSET_LEVEL, from_onset

RATE = 16000


def _speech(ms: int, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 3000, RATE * ms // 1000)).clip(-32768, 32767).astype("<i2").tobytes()


def _silence(ms: int) -> bytes:
    return bytes(2 * (RATE * ms // 1000))


def test_the_same_speech_on_grids_half_a_frame_apart_starts_at_the_same_sample() -> None:
    words = _speech(400)
    on_grid = _silence(200) + words
    moved = _silence(210) + words  # one concealed 10 ms codec frame earlier in the call
    a, b = from_onset(on_grid, RATE, 120), from_onset(moved, RATE, 120)
    assert a == b
    assert len(a) == len(words) + 2 * (RATE * 120 // 1000)


def test_hiss_under_the_level_does_not_count_as_speech() -> None:
    hiss = (np.random.default_rng(2).normal(0, ONSET_LEVEL / 4, RATE // 5)
            .clip(-ONSET_LEVEL, ONSET_LEVEL).astype("<i2").tobytes())
    words = _speech(300)
    out = from_onset(hiss + words, RATE, 50)
    assert out == (hiss + words)[len(hiss) - 2 * (RATE * 50 // 1000):]


def test_speech_too_near_the_start_or_none_at_all_keeps_everything() -> None:
    early = _silence(40) + _speech(200)
    assert from_onset(early, RATE, 120) == early
    quiet = _silence(300)
    assert from_onset(quiet, RATE, 120) == quiet
    assert from_onset(b"", RATE, 120) == b""
