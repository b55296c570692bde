"""Every page of the menu on a phone (390 x 844) in headless Chromium against `dialer
serve`: the page itself never scrolls sideways (a wide table may scroll inside its own
box), for an admin (who sees most pages), an agent and an analyst, with a screenshot of
each page at 390 x 844 and at 1440 x 900 in test-artifacts/browser/small-screens/.

The admin's pages are checked again in Korean.

On a phone the menu folds behind one button with the page's name (an admin's menu took
four lines of the screen when it only wrapped).

Before: at 390 px the menu ran off the screen, and tables were 229-545 px too wide."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from campaigns import list_imports
from campaigns.db import Database
from campaigns.models import Contact
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from tests.support.browser import ARTIFACTS, chromium, log_in, until, web_server
from tests.support.calls import finished_call
from tests.support.procs import call_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PASSWORD = "small-screens-password-1"
DEMO = Path(__file__).resolve().parents[2] / "campaigns" / "examples" / "demo"
PHONE, DESK = (390, 844), (1440, 900)
# What sticks out past the right edge, to say which element made the page scroll.
WIDEST = """
var w = document.documentElement.clientWidth, out = [];
document.querySelectorAll('body *').forEach(function (e) {
  var r = e.getBoundingClientRect();
  if (r.right > w + 1 && r.width > 0) out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id
    : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') +
    ' ' + Math.round(r.right));
});
return out.slice(0, 8);
"""

# Choose Korean for the logged-in user, as the settings page would (the user's choice wins).
KOREAN = """
window.languageSet = 0;
fetch('/api/me/preferences', {method: 'PATCH', headers: {'Content-Type': 'application/json',
  'X-CSRF-Token': document.querySelector('header input[name=csrf_token]').value},
  body: JSON.stringify({language: 'ko'})}).then(function (r) { window.languageSet = r.status; });
"""


def fill(data: Path, tmp_path: Path) -> tuple[int, int]:
    """A campaign with two contacts and one finished call: its page and the call's."""
    db = Database(CampaignSettings(data_dir=data).resolved_database_url())
    db.migrate()
    rows = tmp_path / "contacts.csv"
    rows.write_text("name,phone\n한지민,010-5100-0001\n김민수,010-5100-0002\n", encoding="utf-8")
    cid = list_imports.create_campaign(db, name="spring offer with a rather long name",
                                       script_dir=DEMO, csv_path=rows,
                                       uploads_dir=tmp_path / "up").campaign_id
    dialed = datetime(2026, 3, 6, 22, 23, tzinfo=UTC)
    with db.session() as s:
        contact = s.query(Contact).filter_by(campaign_id=cid).first()
        assert contact is not None
        call_id = int(finished_call(s, cid, contact.id, dialed).id)
    for name, role, sip in (("root", "admin", None), ("jisu", "agent", "sip:jisu@127.0.0.1:5999"),
                            ("ana", "analyst", None)):
        create_user(db, name, PASSWORD, role, sip)
    return cid, call_id


class Screens:
    """The browser's page at a given size (Chromium's own emulation, so the page sees a
    phone's viewport), and full-page screenshots that keep that width."""

    def __init__(self, driver: Any, name: str) -> None:
        self.b, self.dir = driver, ARTIFACTS / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)

    def size(self, width: int, height: int) -> None:
        self.b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700})

    def shot(self, label: str, width: int, height: int) -> Path:
        self.size(width, height)
        full = int(self.b.execute_script("return document.documentElement.scrollHeight"))
        self.size(width, max(height, min(full, 6000)))
        path = self.dir / f"{label}-{width}x{height}.png"
        assert self.b.save_screenshot(str(path)), f"no screenshot {path}"
        self.size(width, height)
        return path


def menu(b: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    links = b.find_elements(By.CSS_SELECTOR, "header.top nav a")
    return [str(a.get_attribute("href")) for a in links]


def check_page(b: Any, screens: Screens, url: str, label: str) -> None:
    screens.size(*PHONE)
    b.get(url)
    until(lambda: b.execute_script("return document.readyState") == "complete", 20, url)
    time.sleep(0.6)  # the pages' scripts fill their tables
    assert "Internal Server Error" not in b.page_source, url
    wide = int(b.execute_script("return document.documentElement.scrollWidth"))
    assert b.execute_script("return window.innerWidth") == PHONE[0]
    assert wide <= PHONE[0], (url, wide, b.execute_script(WIDEST))
    screens.shot(label, *PHONE)
    screens.shot(label, *DESK)


def check_menu_folds(b: Any, screens: Screens, label: str) -> None:
    """On a phone the menu is one button named after the page; opened, its links stand
    one under the other; on a desk the links show and the button does not."""
    from selenium.webdriver.common.by import By

    screens.size(*PHONE)
    toggle = b.find_element(By.CSS_SELECTOR, "label.menu-toggle")
    links = b.find_elements(By.CSS_SELECTOR, "header.top nav a")
    assert toggle.is_displayed() and not any(a.is_displayed() for a in links)
    folded = b.find_element(By.CSS_SELECTOR, "header.top").size["height"]
    assert folded <= 110, f"the folded header is {folded} px high"
    toggle.click()
    until(lambda: all(a.is_displayed() for a in links), 5, "the menu opened")
    tops = [a.location["y"] for a in links]
    assert tops == sorted(tops) and len(set(tops)) == len(tops), tops  # one per line
    wide = int(b.execute_script("return document.documentElement.scrollWidth"))
    assert wide <= PHONE[0], (wide, b.execute_script(WIDEST))
    screens.shot(f"{label}-menu-open", *PHONE)
    toggle.click()
    screens.size(*DESK)
    until(lambda: all(a.is_displayed() for a in links), 5, "the menu on a desk")
    assert not toggle.is_displayed()


def confirm_start(b: Any, screens: Screens, campaign: str) -> None:
    """The campaign page's question before dialing, on the phone too."""
    screens.size(*PHONE)
    b.get(campaign)
    b.find_element("css selector", "#actions button[value=start]").click()
    until(lambda: b.find_elements("css selector", ".confirm"), 20, "the question")
    wide = int(b.execute_script("return document.documentElement.scrollWidth"))
    assert wide <= PHONE[0], (wide, b.execute_script(WIDEST))
    screens.shot("admin-campaign-confirm-start", *PHONE)


def test_every_page_fits_a_phone(tmp_path: Path) -> None:
    env = call_env(tmp_path, 49900)
    env.update(DIALER_BROKER_URL="memory://", DIALER_ACD_URL="")
    (tmp_path / "data").mkdir()
    cid, call_id = fill(tmp_path / "data", tmp_path)
    extra = {"admin": ["/", "/account", f"/campaigns/{cid}", f"/campaigns/{cid}/edit",
                       f"/campaigns/{cid}/dry-runs", "/campaigns/new", f"/calls/{call_id}"],
             "agent": ["/", "/account"],
             "analyst": ["/", "/account", f"/calls/{call_id}", f"/campaigns/{cid}"]}
    seen: dict[str, list[str]] = {}
    with web_server(tmp_path, env) as base, chromium(tmp_path) as b:
        screens = Screens(b, "small-screens")
        screens.size(*PHONE)
        check_page(b, screens, f"{base}/login", "login")
        for user, role, lang in (("root", "admin", "en"), ("jisu", "agent", "en"),
                                 ("ana", "analyst", "en"), ("root", "admin", "ko"),
                                 ("jisu", "agent", "ko"), ("ana", "analyst", "ko")):
            b.delete_all_cookies()
            log_in(b, base, user, PASSWORD, "/")
            if lang == "ko":  # the same pages in Korean, whose words are longer or shorter
                b.execute_script(KOREAN)
                until(lambda: b.execute_script("return window.languageSet") == 200, 20,
                      "the language chosen")
                b.get(f"{base}/")
                assert b.find_element("css selector", "html").get_attribute("lang") == "ko"
            if lang == "en":
                check_menu_folds(b, screens, role)
            pages = menu(b) + [base + p for p in extra[role]]
            assert len(pages) > len(extra[role]), f"{role} has no menu"
            for url in pages:
                label = role + url.removeprefix(base).replace("/", "-").rstrip("-")
                check_page(b, screens, url, label if lang == "en" else f"{label}-{lang}")
            seen[f"{role}-{lang}"] = pages
            if role == "admin" and lang == "en":
                confirm_start(b, screens, f"{base}/campaigns/{cid}")
    assert f"{base}/admin/users" in seen["admin-en"] and f"{base}/agent" in seen["agent-en"]
    assert f"{base}/dashboard" in seen["analyst-en"]
    assert all(seen[f"{r}-ko"] == seen[f"{r}-en"] for r in ("admin", "agent", "analyst"))
    checked = 1 + sum(map(len, seen.values()))
    assert len(list(screens.dir.glob("*.png"))) == 2 * checked + 1 + 3  # + the menus open
