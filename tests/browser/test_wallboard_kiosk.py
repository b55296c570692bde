"""The wallboard on a wall screen, in headless Chromium against `dialer serve` and a real
Redis (the ACD): the kiosk board fits 1920x1080 without scrolling and the normal page
1440x900; a caller waiting while no agent is ready is an alarm on the board and its
tiles, gone when an agent is ready; with the ACD's Redis killed the queue's and agents'
tiles say "–", never 0, and the board stops saying "live"; when the snapshots stop (the
web server gone) the board says "stale".

Before: the page needed scrolling at 1440x900, had no full-screen mode, only the abandon
rate had a threshold, a waiting caller with nobody ready raised nothing, and with Redis
down it said "live" with zeros. Screenshots in test-artifacts/browser/wallboard-kiosk/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from campaigns.db import Database
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.handoff.acd import Acd
from tests.support.browser import ARTIFACTS, chromium, log_in, until, web_server
from tests.support.chaos import Redis
from tests.support.procs import call_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
PASSWORD = "wallboard-kiosk-password-1"
SHOTS = ARTIFACTS / "wallboard-kiosk"


def shot(b: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert b.save_screenshot(str(SHOTS / f"{name}.png"))


def fits(b: Any) -> tuple[int, int, int, int]:
    return tuple(b.execute_script(  # type: ignore[return-value]
        "var d = document.documentElement; return [d.scrollWidth, d.scrollHeight,"
        " window.innerWidth, window.innerHeight];"))


def test_the_wall_screen_alarms_and_says_what_it_does_not_know(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    redis = Redis(tmp_path / "redis").start()
    try:
        env = call_env(tmp_path, 55500)
        env.update(DIALER_BROKER_URL=redis.url, DIALER_SIP_TRUNK="192.0.2.1:5060")
        db = Database(CampaignSettings(data_dir=tmp_path / "data").resolved_database_url())
        db.migrate()
        create_user(db, "sup", PASSWORD, "supervisor")
        acd = Acd.from_url(redis.url)
        acd.login("ana")  # logged in, not ready
        (tmp_path / "browser").mkdir()
        with chromium(tmp_path / "browser") as b:
            with web_server(tmp_path, env) as base:
                def el(css: str) -> Any:
                    return b.find_element(By.CSS_SELECTOR, css)

                def updates() -> int:
                    return int(b.execute_script("return window.wallboardUpdates || 0;"))

                b.set_window_size(1440, 900)
                log_in(b, base, "sup", PASSWORD, "/wallboard")
                until(lambda: updates() >= 1, 30, "a snapshot")
                width, height, inner_w, inner_h = fits(b)
                assert width <= inner_w and height <= inner_h, fits(b)
                assert not b.find_elements(By.CSS_SELECTOR, "#alarms li")

                acd.enqueue("61", "spring", info={"campaign": "spring"})
                acd.publish("queued", call="61", queue="spring")
                until(lambda: b.find_elements(By.CSS_SELECTOR,
                                              "#alarms li[data-alarm=nobody_ready]"), 20,
                      "the alarm: a caller waiting, nobody ready")
                assert "alarm" in el("[data-tile=queue_length]").get_attribute("class")
                assert "alarm" in el("[data-tile='agents.ready']").get_attribute("class")
                shot(b, "01-nobody-ready-1440x900")
                acd.ready("ana")
                acd.publish("agent", agent="ana", state="ready", reason="")
                until(lambda: not b.find_elements(By.CSS_SELECTOR, "#alarms li"), 20,
                      "the alarm gone with an agent ready")

                b.set_window_size(1920, 1080)
                b.get(f"{base}/wallboard?kiosk=1")
                until(lambda: updates() >= 1, 30, "a kiosk snapshot")
                assert not el("header.top").is_displayed() or el("#board").rect["y"] <= 0
                width, height, inner_w, inner_h = fits(b)
                assert width <= inner_w and height <= inner_h, fits(b)
                board = el("#board").rect
                assert board["width"] >= inner_w - 2 and board["height"] >= inner_h - 2
                shot(b, "02-kiosk-1920x1080")

                redis.kill9()
                until(lambda: el("#acd-note").is_displayed(), 30, "the queue said unknown")
                assert el("[data-board=queue_length]").text == "–"
                assert el("[data-board='agents.ready']").text == "–"
                assert el("[data-board='calls.waiting_for_agent']").text == "–"
                assert not el("#updated").text.startswith("live")
                shot(b, "03-kiosk-queue-unknown")
            # The web server is gone: no snapshot comes any more.
            until(lambda: "stale" in el("#board").get_attribute("class"), 30, "stale")
            assert el("#updated").text.startswith("stale: last update ")
            shot(b, "04-kiosk-stale")
    finally:
        redis.stop()
