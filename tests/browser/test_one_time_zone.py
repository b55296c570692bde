"""An analyst in headless Chromium against `dialer serve`, the browser itself in New
York, the analyst in Seoul (the default region's zone): one call dialed at
2026-03-06T22:23:00Z is at 07:23 on Saturday 2026-03-07 on the dashboard (its day and
hour), the call explorer, the call page and the CDR export the page's own form asks
for, and the wallboard's clock runs on 24 hours in Seoul; once the analyst picks Paris
on the settings page, the explorer says 23:23 on the Friday. A page that used the
browser's zone would say Friday 17:23. A click on a line of the call's transcript plays
the recording from that turn. Once the analyst chooses Korean, the explorer and the
call's page are in Korean. Screenshots in test-artifacts/browser/one-time-zone/."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from campaigns.db import Database
from campaigns.models import Turn
from campaigns.preferences import zone_label
from tests.support.browser import Shots, chromium, log_in, until, web_server
from tests.support.calls import campaign_and_contact, finished_call
from tests.support.procs import call_env, dialer_cmd

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PASSWORD = "correct horse battery"
DIALED = datetime(2026, 3, 6, 22, 23, tzinfo=UTC)
BROWSER_ZONE = "America/New_York"


def silence(path: Path, seconds: int) -> Path:
    """A WAV of `seconds` of silence (8 kHz, 16 bits): a recording to seek in."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * seconds)
    return path


def one_call(data: Path) -> int:
    db = Database(f"sqlite:///{data / 'dialer.db'}")
    db.migrate()  # revision 0014 and its time_zone column included
    with db.session() as s:
        call = finished_call(s, *campaign_and_contact(s), DIALED,
                             recording_path=str(silence(data / "call.wav", 60)))
        s.add_all([Turn(attempt_id=call.id, seq=0, speaker="bot", node="greeting",
                        text="안녕하세요", offset_ms=0.0),
                   Turn(attempt_id=call.id, seq=1, speaker="customer", node="greeting",
                        text="얼마에요?", intent="ask_price", offset_ms=12500.0)])
        return call.id


def test_an_analyst_sees_one_call_at_one_local_time(tmp_path: Path) -> None:
    env = call_env(tmp_path, 49700)
    # No Redis for the wallboard: its snapshots come on a timer.
    env.update(DIALER_BROKER_URL="memory://", DIALER_ACD_URL="")
    (tmp_path / "data").mkdir()
    cid = one_call(tmp_path / "data")
    subprocess.run(dialer_cmd("user", "create", "ana", "--role", "analyst",
                              "--password-stdin"), input=PASSWORD + "\n", env=env, text=True,
                   check=True, capture_output=True, timeout=60)

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with web_server(tmp_path, env) as base, chromium(tmp_path) as b:
        b.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": BROWSER_ZONE})
        shot = Shots(b, "one-time-zone")

        def js(script: str) -> Any:
            return b.execute_script(script)

        def text(css: str) -> str:
            return str(b.find_element(By.CSS_SELECTOR, css).text)

        day = "start=2026-03-07&end=2026-03-07"
        log_in(b, base, "ana", PASSWORD, f"/dashboard?{day}")
        assert js("return Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
        assert js("return new Date('2026-03-06T22:23:00Z').getHours()") == 17
        until(lambda: js("return window.dashboardDrawn === true"), 30, "the charts")
        report = js("return window.dashboardReport")
        assert report["filters"]["tz"] == "Asia/Seoul" and report["metrics"]["attempts"] == 1
        assert list(js("return Chart.getChart('chart-over-time').data.labels")) == [
            "2026-03-07 07:00"]
        cell = b.find_element(By.CSS_SELECTOR, '#heatmap td[data-day="Sat"][data-hour="7"]')
        assert cell.get_attribute("data-count") == "1"
        assert "Asia/Seoul" in text("#tz-note") and "Asia/Seoul (KST)" in text("#user-zone")
        shot("dashboard")

        b.get(f"{base}/calls")
        assert "Started (Asia/Seoul)" in text("#results thead")
        assert text(f'tr[data-call="{cid}"] td.started') == "2026-03-07 07:23:00"
        shot("calls")

        b.get(f"{base}/calls/{cid}")
        assert text("#dialed") == "2026-03-07 07:23:00 Asia/Seoul"
        assert text("#ended") == "2026-03-07 07:24:04 Asia/Seoul"
        until(lambda: js("return document.getElementById('recording').readyState >= 1"),
              20, "the recording's header")
        b.find_element(By.CSS_SELECTOR, '#transcript tr[data-seq="1"] td.who').click()
        until(lambda: js("return window.callSeeks") == 1, 10, "the seek")
        at = js("return document.getElementById('recording').currentTime")
        assert 12.4 <= at < 14, at  # the customer's turn, 12.5 s after the answer
        shot("call")

        # The export page's own form, as the analyst leaves it but for the day.
        b.get(f"{base}/cdr")
        b.find_element(By.NAME, "start").send_keys("03072026")  # typed as en-US shows it
        b.find_element(By.NAME, "end").send_keys("03072026")
        assert js("return document.querySelector('[name=start]').value") == "2026-03-07"
        shot("cdr")
        body = js("var q = new URLSearchParams(new FormData(document.getElementById("
                  "'cdr-export'))); return fetch('/api/cdr.csv?' + q).then(r => r.text())")
        header, *rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
        assert header[4] == "start (Asia/Seoul)" and len(rows) == 1
        assert rows[0][4] == "2026-03-07T07:23:00.000+09:00"

        b.get(f"{base}/wallboard")
        until(lambda: js("return window.wallboardUpdates") >= 1, 30, "a wallboard snapshot")
        clock = text("#updated")
        assert re.fullmatch(r"live · \d\d:\d\d:\d\d", clock), clock
        now = datetime.now(UTC)
        seoul = {f"{(now + timedelta(hours=9, seconds=s)):%H:%M}" for s in (-60, 0, 60)}
        assert clock[7:12] in seoul, (clock, seoul)
        shot("wallboard")

        # Another zone of the analyst's choosing: the same call moves with it.
        b.find_element(By.ID, "user-zone").click()
        until(lambda: b.find_elements(By.ID, "account-form"), 20, "the settings page")
        Select(b.find_element(By.ID, "time-zone")).select_by_value("Europe/Paris")
        shot("account")
        b.find_element(By.CSS_SELECTOR, "#account-form button[type=submit]").click()
        until(lambda: "Europe/Paris" in text("#current-zone"), 20, "the zone saved")
        b.get(f"{base}/calls")
        assert text(f'tr[data-call="{cid}"] td.started') == "2026-03-06 23:23:00"
        assert text("#user-zone") == zone_label("Europe/Paris")  # CET, or CEST in summer
        shot("calls-in-paris")

        # In Korean, the analyst's own choice.
        chose = js("return fetch('/api/me/preferences', {method: 'PATCH', headers: "
                   "{'Content-Type': 'application/json', 'X-CSRF-Token': document.querySelector("
                   "'input[name=csrf_token]').value}, body: JSON.stringify({language: 'ko'})})"
                   ".then(r => r.status)")
        assert chose == 200
        b.get(f"{base}/calls")
        assert js("return document.documentElement.lang") == "ko"
        assert text("h1") == "통화" and "시작 (Europe/Paris)" in text("#results thead")
        assert "관심 있음" in text(f'tr[data-call="{cid}"]')
        shot("calls-in-korean")
        b.get(f"{base}/calls/{cid}")
        assert [t.text for t in b.find_elements(By.CSS_SELECTOR, "#transcript td.who")] == [
            "로봇", "고객"]
        assert "가격 문의" in text("#transcript") and text("#talk") == "1분 00초"
        shot("call-in-korean")
