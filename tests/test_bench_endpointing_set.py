"""The endpointing bench's labelled set holds together, and its ground truth (where a
reply's words end) is right on a signal whose bursts sit at known samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.endpointing import (
    RATE,
    SET,
    assemble,
    load_replies,
    voiced_span,
)
from dialer.sandbox.caller_voice import segments
from voices.audio import silence, tone


def test_the_set_loads_with_unique_ids_and_about_half_paused() -> None:
    replies = load_replies(SET)
    assert len(replies) >= 50
    assert len({r.id for r in replies}) == len(replies)
    paused = [r for r in replies if r.kind == "paused"]
    assert 0.4 <= len(paused) / len(replies) <= 0.6
    for r in paused:
        assert "…" in r.text and 2 <= len(segments(r.text)) <= 3, r.id
    for r in replies:
        if r.kind == "complete":
            assert "…" not in r.text and "..." not in r.text, r.id


def test_a_paused_label_without_a_pause_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "replies.yml"
    path.write_text('replies:\n  - {id: a, kind: paused, text: "네 좋아요"}\n',
                    encoding="utf-8")
    with pytest.raises(ValueError, match="reply 1 \\(a\\)"):
        load_replies(path)
    path.write_text('replies:\n  - {id: a, kind: complete, text: "네"}\n'
                    '  - {id: a, kind: complete, text: "아니요"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="used twice"):
        load_replies(path)


def _burst(ms: int, amplitude: float = 0.3) -> bytes:
    return tone(440, ms, RATE, amplitude)


def test_voiced_span_finds_the_bursts_inside_near_silence() -> None:
    hiss = (np.random.default_rng(0).standard_normal(RATE) * 20).astype("<i2").tobytes()
    pcm = silence(250, RATE) + _burst(400) + silence(300, RATE) + _burst(130) + hiss
    span = voiced_span(pcm)
    assert span is not None
    start, end = span
    # 10 ms windows: within one window of the true edges, never before the words start.
    assert 250 * 16 - 160 <= start <= 250 * 16
    assert 1080 * 16 <= end <= 1080 * 16 + 160
    assert voiced_span(silence(500, RATE) + hiss) is None


def test_assemble_places_each_part_and_its_pauses_exactly() -> None:
    # Parts as espeak-ng renders them: words, then its own near-silence.
    parts = [silence(20, RATE) + _burst(200) + silence(390, RATE),
             _burst(300) + silence(120, RATE),
             _burst(160) + silence(300, RATE)]
    pcm, spans = assemble(parts, [450, 800], lead_ms=600, tail_ms=2500)
    ms = [(round(a / 16), round(b / 16)) for a, b in spans]
    assert ms == [(600, 800), (1250, 1550), (2350, 2510)]
    assert len(pcm) % 640 == 0 and len(pcm) // 2 >= (2510 + 2500) * 16
    assert voiced_span(pcm) == (spans[0][0], spans[-1][1])
    with pytest.raises(ValueError, match="need 2 pauses"):
        assemble(parts, [450], lead_ms=600)
