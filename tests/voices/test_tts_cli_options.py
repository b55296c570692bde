"""Issue 15 (low): the espeak-ng command-line fallback speaks text that starts with "-"
instead of reading it as an option."""

from __future__ import annotations

from pathlib import Path

import pytest

from voices.tts import render_espeak_cli


@pytest.mark.parametrize("text", ["--version", "-w /tmp/elsewhere.wav 안녕하세요", "-v en"])
def test_text_starting_with_a_dash_is_spoken_not_obeyed(tmp_path: Path, text: str) -> None:
    elsewhere = Path("/tmp/elsewhere.wav")
    elsewhere.unlink(missing_ok=True)
    pcm, rate = render_espeak_cli(text, "ko", None, tmp_path / "out.wav")
    assert rate > 0 and len(pcm) > rate // 5, "less than 0.1 s of speech"
    assert not elsewhere.exists()
