"""A marketing user in headless Chromium, against `dialer serve` on loopback: log in,
create a campaign, upload a messy CP949 list whose phone column cannot be told, pick the
column, read the rejected rows, rehearse the campaign with simulated customers over real
SIP (the dry-run page refreshes itself until the report is there), then start, pause and
resume it. Every step's screenshot is kept in test-artifacts/browser/marketing-flow/."""

from __future__ import annotations

import shutil
import subprocess
from functools import partial
from pathlib import Path

import pytest

from tests.support.browser import Shots, chromium, until, web_server
from tests.support.procs import DEMO, call_env, dialer_cmd

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PASSWORD = "correct horse battery"
PERSONAS = """\
personas:
  - name: keen
    number: "+821077780001"
    ring_s: 0.5
    replies:
      - say: 네 좋아요
      - say: 가격이 얼마에요
      - say: 네 관심 있어요
      - say: 좋아요
    expect: {disposition: interested}
  - name: off topic
    number: "+821077780002"
    ring_s: 0.5
    replies:
      - say: 우리 강아지가 아파요
      - say: 아니요 됐어요
      - say: 너무 비싼 데요
    expect: {disposition: opt_out}   # wrong on purpose: the page must say it failed
"""
# Two columns of numbers (which is the phone?), a quoted newline, a formula, a duplicate,
# a number too short, semicolons, and CP949 as Korean Excel saves it.
MESSY = ("name;연락처1;연락처2;memo\n"
         "김민수;010-4000-0001;010-4000-0101;\n"
         "이서연;010-4000-0002;010-4000-0102;\"콜백, 오후\n2시\"\n"
         "박지훈;010-4000-0001;010-4000-0103;=cmd|' /C calc'!A0\n"
         "최유진;12345;010-4000-0104;\n"
         "정하늘;+82 10 4000 0005;010-4000-0105;VIP\n")


def test_marketing_walks_from_login_to_a_resumed_campaign(tmp_path: Path) -> None:
    env = call_env(tmp_path, 49600)
    # The workers' trunk and broker are far away: only the dry-run's own may be used.
    env.update(DIALER_SIP_TRUNK="192.0.2.1:5060", DIALER_BROKER_URL="redis://192.0.2.1:6379/0")
    scripts = tmp_path / "data" / "scripts" / "autumn-offer"
    scripts.mkdir(parents=True)
    for name in ("script.yml", "nlu.yml"):
        shutil.copy(DEMO / name, scripts / name)
    (scripts / "personas.yml").write_text(PERSONAS, encoding="utf-8")
    messy = tmp_path / "고객명단.csv"
    messy.write_bytes(MESSY.encode("cp949"))
    subprocess.run(dialer_cmd("user", "create", "mina", "--role", "marketing",
                              "--password-stdin"), input=PASSWORD + "\n", env=env, text=True,
                   check=True, capture_output=True, timeout=60)

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with web_server(tmp_path, env) as base, chromium(tmp_path) as b:
        shot = Shots(b, "marketing-flow")

        def text(css: str) -> str:
            return str(b.find_element(By.CSS_SELECTOR, css).text)

        def status_is(state: str) -> bool:
            return text("#status").casefold() == state  # shown as "Running"

        # Log in: a page that needs a login sends us there and back.
        b.get(f"{base}/campaigns")
        assert "/login" in b.current_url
        b.find_element(By.NAME, "username").send_keys("mina")
        b.find_element(By.NAME, "password").send_keys(PASSWORD)
        shot("login")
        b.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        # (the login page's own address, /login?next=/campaigns, ends the same way)
        until(lambda: b.current_url == f"{base}/campaigns", 20, "the campaigns page")
        assert "mina" in text("header")

        # Create the campaign with its list.
        b.find_element(By.ID, "new").click()
        until(lambda: b.find_elements(By.ID, "new-campaign"), 20, "the new-campaign form")
        b.find_element(By.NAME, "name").send_keys("Autumn offer")
        Select(b.find_element(By.NAME, "script")).select_by_visible_text("autumn-offer")
        Select(b.find_element(By.NAME, "voice")).select_by_value("ko")
        b.find_element(By.NAME, "csv_file").send_keys(str(messy))
        shot("new-campaign")
        b.find_element(By.CSS_SELECTOR, "#new-campaign button[type=submit]").click()

        # The phone column cannot be told: the mapping step shows the columns.
        until(lambda: b.find_elements(By.ID, "mapping"), 60, "the column-mapping step")
        assert "김민수" in text("#mapping table") and "콜백, 오후" in text("#mapping table")
        shot("mapping")
        Select(b.find_element(By.NAME, "phone_column")).select_by_visible_text("연락처1")
        b.find_element(By.CSS_SELECTOR, "#mapping button[type=submit]").click()
        until(lambda: b.find_elements(By.ID, "accepted"), 60, "the import result")
        assert (text("#accepted"), text("#rejected")) == ("3", "2")
        rejections = text("#rejections")
        assert "12345" in rejections and "010-4000-0001" in rejections
        shot("import-done")
        campaign_url = b.find_element(By.LINK_TEXT, "Back to the campaign").get_attribute("href")

        # Rehearse: the page shows the dry-run at once and refreshes until it is over.
        b.get(campaign_url)
        assert text("#status").casefold() == "draft"
        b.find_element(By.ID, "dry-runs").click()
        until(lambda: b.find_elements(By.ID, "dry-run"), 20, "the dry-run page")
        b.find_element(By.CSS_SELECTOR, "#dry-run button").click()
        section = until(lambda: b.find_elements(By.CSS_SELECTOR, "section.dry-run"), 20,
                        "the dry-run under way")
        assert section[0].get_attribute("data-status") in ("draft", "running", "finished")
        shot("dry-run-under-way")
        until(lambda: b.find_element(By.CSS_SELECTOR, "section.dry-run")
              .get_attribute("data-status") in ("finished", "stopped"), 420,
              "the dry-run's report", every=1.0)
        assert b.find_element(By.CSS_SELECTOR, "section.dry-run").get_attribute(
            "data-status") == "finished", text("section.dry-run")
        personas = {d.find_element(By.TAG_NAME, "b").text: d
                    for d in b.find_elements(By.CSS_SELECTOR, "details.persona")}
        assert set(personas) == {"keen", "off topic"}
        assert "Interested" in personas["keen"].text  # the outcome in words, not its code
        flagged = personas["off topic"].find_elements(By.CSS_SELECTOR, "tr.flagged")
        # What the persona said is shown beside what the robot heard.
        assert flagged and "said: 우리 강아지가 아파요" in flagged[0].text
        assert ("fell back" in flagged[0].text or "misunderstood" in flagged[0].text)
        # Pass or fail per persona, and the verdict on the whole dry-run.
        assert "✓ pass" in personas["keen"].find_element(By.TAG_NAME, "summary").text
        off = personas["off topic"].find_element(By.TAG_NAME, "summary").text
        assert "✗ fail" in off and "expected opted out" in off, off  # words, not codes
        assert "opt_out" not in off and "not_interested" not in off, off
        assert text("p.verdict").startswith("Failed: 1 of 2 personas ended as expected")
        shot("dry-run-report")

        # Go live: start, pause, resume (no worker serves this broker: nobody is called).
        b.get(campaign_url)
        for action, state in (("start", "running"), ("pause", "paused"),
                              ("resume", "running")):
            b.find_element(By.CSS_SELECTOR, f"#actions button[value={action}]").click()
            if action in ("start", "resume"):  # dialing people is asked again
                until(lambda: b.find_elements(By.ID, "confirm-yes"), 20,
                      f"the {action} confirmation")
                b.find_element(By.ID, "confirm-yes").click()
            until(partial(status_is, state), 20, f"the campaign {state}")
            shot(f"campaign-{state}-after-{action}")
        assert "3 contacts" in text("body") or "of 3 contacts" in text("body")

        # The same pages in Korean once the user chooses it (their choice beats the
        # browser's English): the cockpit, and the mapping step of another list.
        b.get(f"{base}/account")
        Select(b.find_element(By.NAME, "language")).select_by_value("ko")
        b.find_element(By.CSS_SELECTOR, "#account-form button[type=submit]").click()
        until(lambda: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko", 20,
              "the pages in Korean")
        b.get(campaign_url)
        assert text("#status") == "진행 중" and text("#live h2") == "진행 상황"
        assert "연락처 3건 중" in text("#live-text")
        assert text("#actions button[value=pause]") == "일시 정지"
        assert "Progress" not in text("main") and "Pause" not in text("main")
        shot("cockpit-in-korean")
        b.find_element(By.CSS_SELECTOR, "#add-list input[type=file]").send_keys(str(messy))
        b.find_element(By.CSS_SELECTOR, "#add-list button[type=submit]").click()
        until(lambda: b.find_elements(By.ID, "mapping"), 60, "the mapping step in Korean")
        assert text("#mapping h2") == "전화번호가 들어 있는 열은 무엇인가요?"
        assert text("#mapping button[type=submit]") == "이 열 지정으로 가져오기"
        assert text("#import-status") == "열 지정 필요"
        shot("mapping-in-korean")
    assert len(list(shot.dir.glob("*.png"))) == 11
