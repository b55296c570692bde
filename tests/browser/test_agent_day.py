"""An agent's working day in headless Chromium against `dialer serve`, a real Redis (the
ACD) and the campaign database: a call offered while the console is in a background tab
rings, raises a desktop notification, flashes the tab's title and counts down; Alt+A takes
it; the wrap-up form is in view at 1440x900, refuses a callback without its time and keeps
every field typed through refusals and a reload; "save and stay not ready" leaves the agent
away; logging out of the site leaves the queue.

Before: an offer made no sound and no notification, so an agent in another tab lost it
after 15 s; a refused wrap-up cleared the notes; "Log out" left the agent ready in the
queue. Screenshots in test-artifacts/browser/agent-day/."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from campaigns.db import Database
from campaigns.models import CallAttempt
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.handoff.acd import Acd, AcdError
from tests.support.browser import Shots, chromium, log_in, until, web_server
from tests.support.calls import handed_off_attempt
from tests.support.chaos import Redis
from tests.support.procs import call_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
PASSWORD = "agent-day-password-1"
NOTES = "내일 오후 세 시에 요금제 안내를 다시 받기로 함"
# Before any of the page's scripts: the browser's Notification and Web Audio, recorded.
# Notifications are granted (a person would have said yes when asked).
RECORDER = """
window.__alerts = {notes: [], tones: 0};
(function () {
  function Note(title, opts) {
    window.__alerts.notes.push({title: title, body: (opts || {}).body,
                                hidden: document.hidden, tab: document.title});
    this.close = function () { window.__alerts.closed = (window.__alerts.closed || 0) + 1; };
  }
  Note.permission = "granted";
  Note.requestPermission = function () { return Promise.resolve("granted"); };
  window.Notification = Note;
  var make = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    window.__alerts.tones += 1;
    return make.call(this);
  };
})();
"""


def acd_state(acd: Acd, agent: str) -> tuple[str, str]:
    try:
        a = acd.agent(agent)
    except AcdError:
        return ("offline", "")
    return (str(a["state"]), str(a.get("reason") or ""))


def keys(b: Any, letter: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(b).key_down(Keys.ALT).send_keys(letter).key_up(Keys.ALT).perform()


def set_value(b: Any, id_: str, value: str) -> None:
    b.execute_script("var e = document.getElementById(arguments[0]); e.value = arguments[1];"
                     "e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change'));",
                     id_, value)


def test_an_agents_day(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    redis = Redis(tmp_path / "redis").start()
    try:
        env = call_env(tmp_path, 55300)
        env.update(DIALER_BROKER_URL=redis.url, DIALER_SIP_TRUNK="192.0.2.1:5060")
        db = Database(CampaignSettings(data_dir=tmp_path / "data").resolved_database_url())
        db.migrate()
        create_user(db, "mina", PASSWORD, "agent", "sip:mina@127.0.0.1:5099")
        attempt = handed_off_attempt(db, tmp_path, "mina", "winter offers")
        acd = Acd.from_url(redis.url)
        (tmp_path / "browser").mkdir()
        with web_server(tmp_path, env) as base, chromium(tmp_path / "browser") as b:
            shot = Shots(b, "agent-day")
            b.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
            b.set_window_size(1440, 900)

            def el(id_: str) -> Any:
                return b.find_element(By.ID, id_)

            def alerts() -> dict[str, Any]:
                return dict(b.execute_script("return window.__alerts;"))

            log_in(b, base, "mina", PASSWORD, "/agent")
            until(lambda: el("state").text == "offline", 20, "the console showing offline")
            el("login").click()
            until(lambda: el("state").text == "not ready", 20, "logged in to the queue")
            keys(b, "y")  # Alt+Y: ready
            until(lambda: acd_state(acd, "mina")[0] == "ready", 20, "ready by Alt+Y")
            until(lambda: el("state").text == "ready", 20, "the console showing ready")

            # The agent reads something else in another tab when the call comes.
            console = b.current_window_handle
            b.switch_to.new_window("tab")
            b.get(f"{base}/healthz")
            acd.enqueue(str(attempt), "campaign-1", info={
                "campaign": "winter offers", "phone": "+821051000001",
                "fields": {"name": "한지민"}, "reason": "customer intent request_human"})
            acd.route()
            assert acd_state(acd, "mina")[0] == "offered"
            time.sleep(4)  # the event, the console's look, the first rings: in the background
            b.switch_to.window(console)
            seen = alerts()
            assert len(seen["notes"]) == 1, seen
            note = seen["notes"][0]
            assert note["title"].startswith("Call offered: accept within 1"), note
            assert "한지민" in note["body"] and "winter offers" in note["body"], note
            assert note["hidden"], "the console was not in a background tab"
            assert "Call offered" in note["tab"]  # the tab's title says it too
            assert seen["tones"] >= 4, seen  # two tones a ring, a ring every 2 s
            until(lambda: "☎ Call offered" in b.title, 5, "the title flashing")
            facts = el("facts").text  # why the robot handed off, in words
            assert "The customer: asked for a person" in facts and "request_human" not in facts
            left = int(el("offer-left").text)
            assert 0 < left <= 12, left  # 15 s to accept, 4 s of them gone
            time.sleep(1.5)
            assert int(el("offer-left").text) < left  # counting down
            shot("offered")

            keys(b, "a")  # Alt+A: accept
            until(lambda: acd_state(acd, "mina")[0] == "on_call", 20, "accepted by Alt+A")
            until(lambda: "Call offered" not in b.title, 5, "the title back")
            rang = alerts()["tones"]
            time.sleep(2.5)
            assert alerts()["tones"] == rang, "still ringing after the call was taken"
            assert alerts().get("closed") == 1  # the notification withdrawn

            acd.hang_up("mina")
            until(lambda: el("wrap-up").is_displayed(), 20, "the wrap-up form")
            assert el("outcome").get_attribute("value") == ""  # no outcome chosen for them
            box = b.execute_script(
                "var r = document.getElementById('save-ready').getBoundingClientRect();"
                "return [r.top, r.bottom, window.innerHeight];")
            assert 0 <= box[0] and box[1] <= box[2], f"the save button out of view: {box}"
            el("notes").send_keys(NOTES)
            el("save-ready").click()
            until(lambda: el("wrap-error").is_displayed(), 5, "no outcome refused")
            assert "outcome" in el("wrap-error").text
            set_value(b, "outcome", "callback")
            el("save-ready").click()
            until(lambda: "agreed" in el("wrap-error").text, 5, "no callback time refused")
            set_value(b, "callback-at", "2020-01-02T15:00")  # the server refuses the past
            el("save-ready").click()
            until(lambda: "passed" in el("wrap-error").text, 10, "the server's refusal")
            assert el("notes").get_attribute("value") == NOTES  # nothing typed was lost
            assert el("outcome").get_attribute("value") == "callback"
            assert el("callback-at").get_attribute("value") == "2020-01-02T15:00"
            shot("wrap-up-refused")

            b.refresh()  # even a reload keeps what was typed
            until(lambda: el("wrap-up").is_displayed(), 20, "the wrap-up form again")
            assert el("notes").get_attribute("value") == NOTES
            tomorrow = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT15:00")
            set_value(b, "callback-at", tomorrow)
            set_value(b, "wrap-reason", "break")
            el("save-away").click()
            until(lambda: acd_state(acd, "mina") == ("not_ready", "break"), 20,
                  "saved and not ready for a break")
            with db.session() as s:
                a = s.get(CallAttempt, attempt)
                assert a is not None
                assert (a.agent_disposition, a.agent_notes) == ("callback", NOTES)
            until(lambda: el("state").text == "not ready", 20, "the console not ready")
            assert not el("wrap-up").is_displayed()
            assert b.execute_script(
                "return Object.keys(sessionStorage).filter(function (k) {"
                " return k.indexOf('dialer.agent.wrap.') === 0; }).length;") == 0
            shot("not-ready-after-wrap-up")

            keys(b, "y")
            until(lambda: acd_state(acd, "mina")[0] == "ready", 20, "ready again")
            b.find_element(By.CSS_SELECTOR, "form.who button[type=submit]").click()
            until(lambda: "/login" in b.current_url, 20, "the login page")
            assert acd_state(acd, "mina")[0] == "offline", "logged out, still in the queue"
            errors = [e for e in b.get_log("browser") if e["level"] == "SEVERE"
                      and "/api/agent/disposition" not in e["message"]
                      and "favicon" not in e["message"]]
            assert not errors, errors
    finally:
        redis.stop()
