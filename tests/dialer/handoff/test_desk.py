"""The pure parts of the handoff: how the callback time is said in the callee's language
and zone, the hold music, and the script's handoff settings checked on load."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.conversation.script import ScriptError
from dialer.conversation.script_loader import load_script
from dialer.handoff.desk import callback_phrase, hold_music
from dialer.telephony.media import CLOCK_RATE, FRAME_BYTES
from voices.audio import rms

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 14:00 in Seoul


@pytest.mark.parametrize(("when", "language", "tz", "said"), [
    (datetime(2026, 11, 23, 6, 0, tzinfo=UTC), "ko", "Asia/Seoul", "오늘 오후 3시에"),
    (datetime(2026, 11, 24, 0, 30, tzinfo=UTC), "ko", "Asia/Seoul", "내일 오전 9시 30분에"),
    (datetime(2026, 11, 28, 3, 0, tzinfo=UTC), "ko", "Asia/Seoul", "11월 28일 오후 12시에"),
    (datetime(2026, 11, 24, 1, 0, tzinfo=UTC), "zh", "Asia/Shanghai", "明天上午9点"),
    (datetime(2026, 11, 23, 15, 30, tzinfo=UTC), "en-US", "America/New_York",
     "today at 10:30 AM"),
    (datetime(2026, 11, 24, 14, 0, tzinfo=UTC), "en", "America/New_York",
     "tomorrow at 9 AM"),
])
def test_the_callback_is_said_in_the_callees_own_time(when: datetime, language: str, tz: str,
                                                     said: str) -> None:
    assert callback_phrase(when, NOW, language, tz) == said


def test_hold_music_is_audible_but_soft_and_whole_frames() -> None:
    music = hold_music()
    assert len(music) % FRAME_BYTES == 0 and len(music) / (CLOCK_RATE * 2) == 8.0
    levels = [rms(music[i:i + FRAME_BYTES]) for i in range(0, len(music), FRAME_BYTES)]
    assert 300 < max(levels) < 3000  # heard (the simulator's speech level is 300) ...
    assert min(levels) < 50  # ... with rests between the notes


def _script(tmp_path: Path, settings: str) -> Path:
    (tmp_path / "script.yml").write_text(
        f"settings:\n{settings}\nnodes:\n  a:\n    say: 안녕하세요\n    end: interested\n"
        "  handoff:\n    say: 연결해 드리겠습니다\n    end: handoff\n    handoff: true\n",
        encoding="utf-8")
    return tmp_path


def test_handoff_settings_load_and_bad_ones_say_why(tmp_path: Path) -> None:
    s = load_script(_script(tmp_path, "  handoff_wait_s: 12\n  handoff_skills: [billing]"))
    assert s.settings.handoff_wait_s == 12 and s.settings.handoff_skills == ("billing",)
    with pytest.raises(ScriptError, match="handoff_wait_s 0 must be seconds above 0"):
        load_script(_script(tmp_path, "  handoff_wait_s: 0"))
    with pytest.raises(ScriptError, match="handoff_skills must be a list"):
        load_script(_script(tmp_path, "  handoff_skills: billing"))
    assert s.settings.handoff_transfer == "bridge"
    refer = load_script(_script(tmp_path, "  handoff_transfer: refer"))
    assert refer.settings.handoff_transfer == "refer"
    with pytest.raises(ScriptError, match="handoff_transfer 'blind' must be bridge"):
        load_script(_script(tmp_path, "  handoff_transfer: blind"))
    with pytest.raises(ScriptError, match=r"put \{callback\} where the time goes"):
        load_script(_script(tmp_path, "  no_agent_prompt: 죄송합니다"))
