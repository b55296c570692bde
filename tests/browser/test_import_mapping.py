"""Marketing imports a list whose header is Korean (전화번호,이름) in headless Chromium,
against `dialer serve` on loopback: a form error keeps the chosen file (it is not picked
again), the mapping step proposes 이름 for the script's {name} and previews the first
prompt with the first contact's name (updated as the choice changes), and the contacts
are stored with `name`. Screenshots are kept in test-artifacts/browser/import-mapping/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.browser import Shots, chromium, until, web_server
from tests.support.procs import call_env, dialer_cmd

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PASSWORD = "correct horse battery"
LIST = "전화번호,이름\n010-4100-0001,김민수\n010-4100-0002,이서연\n"


def test_marketing_maps_a_korean_header_to_the_scripts_name(tmp_path: Path) -> None:
    env = call_env(tmp_path, 49700)
    calls = tmp_path / "고객명단.csv"
    calls.write_text(LIST, encoding="utf-8")
    subprocess.run(dialer_cmd("user", "create", "mina", "--role", "marketing",
                              "--password-stdin"), input=PASSWORD + "\n", env=env, text=True,
                   check=True, capture_output=True, timeout=60)

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with web_server(tmp_path, env) as base, chromium(tmp_path) as b:
        shot = Shots(b, "import-mapping")

        def text(css: str) -> str:
            return str(b.find_element(By.CSS_SELECTOR, css).text)

        b.get(f"{base}/campaigns/new")
        b.find_element(By.NAME, "username").send_keys("mina")
        b.find_element(By.NAME, "password").send_keys(PASSWORD)
        b.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        until(lambda: b.find_elements(By.ID, "new-campaign"), 20, "the new-campaign form")

        # A call window too early: the form comes back, the list kept.
        b.find_element(By.NAME, "name").send_keys("Korean header")
        Select(b.find_element(By.NAME, "script")).select_by_visible_text("demo")
        start = b.find_element(By.NAME, "window_start")
        start.clear()
        start.send_keys("07:00")
        b.find_element(By.NAME, "csv_file").send_keys(str(calls))
        b.find_element(By.CSS_SELECTOR, "#new-campaign button[type=submit]").click()
        until(lambda: b.find_elements(By.ID, "error"), 20, "the form's error")
        assert "08:00" in text("#error")
        assert "고객명단.csv (kept) — choose another to replace it" in text("#kept-list")
        assert b.find_element(By.NAME, "name").get_attribute("value") == "Korean header"
        shot("form-error-list-kept")

        # Fixed, and sent without picking the file again.
        start = b.find_element(By.NAME, "window_start")
        start.clear()
        start.send_keys("09:00")
        b.find_element(By.CSS_SELECTOR, "#new-campaign button[type=submit]").click()

        # The mapping step: 이름 proposed for {name}, the first prompt says 김민수.
        until(lambda: b.find_elements(By.ID, "mapping"), 60, "the mapping step")
        assert "uses the contact's name" in text("#import .error")
        name = Select(b.find_element(By.NAME, "field.name"))
        assert name.first_selected_option.text == "이름"
        assert Select(b.find_element(By.NAME, "phone_column")
                      ).first_selected_option.text == "전화번호"
        assert text("#prompt-preview").startswith("안녕하세요 김민수 고객님.")
        shot("mapping-proposed")

        # The preview follows the choice.
        name.select_by_value("")
        until(lambda: text("#prompt-preview").startswith("안녕하세요 고객님."), 20,
              "the preview without a name")
        assert "no column of the list is mapped to it" in text("#mapping-missing")
        shot("mapping-unmapped")
        name.select_by_visible_text("이름")
        until(lambda: text("#prompt-preview").startswith("안녕하세요 김민수 고객님."), 20,
              "the preview with the name")
        until(lambda: not text("#mapping-missing"), 20, "nothing left unmapped")
        shot("mapping-chosen")
        b.find_element(By.CSS_SELECTOR, "#mapping button[type=submit]").click()
        until(lambda: b.find_elements(By.ID, "accepted"), 60, "the import result")
        assert (text("#accepted"), text("#rejected")) == ("2", "0")
        shot("import-done")
    assert len(list(shot.dir.glob("*.png"))) == 5

    from campaigns.db import Database
    from campaigns.models import Contact
    from campaigns.settings import CampaignSettings

    db = Database(CampaignSettings(data_dir=tmp_path / "data").resolved_database_url())
    with db.session() as s:
        stored = s.execute(select(Contact.phone, Contact.fields).order_by(Contact.phone)).all()
    assert [(p, dict(f)) for p, f in stored] == [("+821041000001", {"name": "김민수"}),
                                                 ("+821041000002", {"name": "이서연"})]
