"""The supervisor's floor in headless Chromium against `dialer serve` and a real Redis
(the ACD): a caller waiting while no agent is ready raises an alarm, which goes when an
agent is ready; the queue's Redis going away is said, not shown as an empty floor.

Before: a caller could wait with every agent away and the page said nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from campaigns.db import Database
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.handoff.acd import Acd
from tests.support.browser import Shots, chromium, log_in, until, web_server
from tests.support.chaos import Redis
from tests.support.procs import call_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
PASSWORD = "supervisor-floor-password-1"


def test_a_caller_waiting_with_nobody_ready_raises_an_alarm(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    redis = Redis(tmp_path / "redis").start()
    try:
        env = call_env(tmp_path, 55400)
        env.update(DIALER_BROKER_URL=redis.url, DIALER_SIP_TRUNK="192.0.2.1:5060")
        db = Database(CampaignSettings(data_dir=tmp_path / "data").resolved_database_url())
        db.migrate()
        create_user(db, "boss", PASSWORD, "supervisor", "sip:boss@127.0.0.1:5098")
        acd = Acd.from_url(redis.url)
        acd.login("ana", sip_uri="sip:ana@127.0.0.1:5097")  # logged in, not ready
        (tmp_path / "browser").mkdir()
        with web_server(tmp_path, env) as base, chromium(tmp_path / "browser") as b:
            shot = Shots(b, "supervisor-floor")

            def el(id_: str) -> Any:
                return b.find_element(By.ID, id_)

            log_in(b, base, "boss", PASSWORD, "/supervisor")
            until(lambda: "ana" in el("agents").text, 20, "the agent on the floor")
            assert not el("nobody-ready").is_displayed()
            acd.enqueue("41", "campaign-4", info={
                "campaign": "spring", "phone": "+821051000009",
                "reason": "customer intent request_human"})
            acd.publish("queued", call="41", queue="campaign-4")  # as the worker's desk does
            until(lambda: el("nobody-ready").is_displayed(), 20, "the alarm")
            assert el("nobody-ready").text == "A caller is waiting and no agent is ready."
            shot("nobody-ready")
            acd.ready("ana")
            until(lambda: not el("nobody-ready").is_displayed(), 20, "the alarm gone")
            redis.kill9()
            until(lambda: el("unreachable").is_displayed(), 20, "the queue said gone")
            shot("queue-unreachable")
    finally:
        redis.stop()
