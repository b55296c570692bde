"""Web basics from the UX review (issue 20), on a real app and database: a new user's
role is always chosen (the page and the API refuse none, never make an admin of it),
supervisors read the dashboard, an address without a page gets the error page (JSON
under /api/) without telling a stranger which addresses exist, disabled buttons look
disabled, and every API operation of these route modules says what it does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app

PASSWORD = "a long password"
USERS = {"root": "admin", "mina": "marketing", "ana": "analyst", "sup": "supervisor",
         "kim": "agent"}
CSS = Path(__file__).resolve().parents[3] / "dialer" / "web" / "static" / "app.css"
# Every operation of the app must have a description: its own module's and the app's.


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", "redis://127.0.0.1:9/0")
        application = create_app(CampaignSettings(data_dir=tmp_path_factory.mktemp("basics")))
    for name, role in USERS.items():
        create_user(application.state.db, name, PASSWORD, role)
    return application


def browser(app: Any, user: str | None = None) -> tuple[TestClient, str]:
    """A client logged in as `user` (None: nobody) and its CSRF token."""
    c = TestClient(app, follow_redirects=False)
    if user is None:
        return c, ""
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, str(r.json()["csrf_token"])


def usernames(app: Any) -> set[str]:
    c, _ = browser(app, "root")
    return {u["username"] for u in c.get("/api/users").json()}


# -- 1. a new user's role -------------------------------------------------------------
def test_the_new_user_form_makes_the_admin_choose_a_role(app: Any) -> None:
    c, _ = browser(app, "root")
    page = c.get("/admin/users").text
    form = page[page.index('id="new-user"'):]
    form = form[:form.index("</form>")]
    select = re.search(r'<select name="role"([^>]*)>(.*?)</select>', form, re.DOTALL)
    assert select is not None and "required" in select[1]
    options = re.findall(r'<option value="([^"]*)"([^>]*)>', select[2])
    assert options[0][0] == "", "the first option is 'choose a role', not a role"
    assert not any("selected" in attrs for _, attrs in options), "nothing chosen yet"
    assert {v for v, _ in options[1:]} == set(USERS.values())


@pytest.mark.parametrize("role", [None, "", "   "])
def test_the_page_refuses_a_new_user_without_a_role(app: Any, role: str | None) -> None:
    c, csrf = browser(app, "root")
    form = {"username": "norole", "password": PASSWORD, "csrf_token": csrf}
    if role is not None:
        form["role"] = role
    r = c.post("/admin/users", data=form)
    assert r.status_code == 400 and "<html" in r.text.lower()
    assert "choose a role for the new user" in r.text and "nothing was created" in r.text
    assert 'value="norole"' in r.text, "what was typed is kept"
    assert "norole" not in usernames(app)


def test_the_page_creates_a_user_with_the_chosen_role(app: Any) -> None:
    c, csrf = browser(app, "root")
    r = c.post("/admin/users", data={"username": "chosen", "password": PASSWORD,
                                     "role": "analyst", "csrf_token": csrf})
    assert r.status_code == 303
    users = {u["username"]: u for u in c.get("/api/users").json()}
    assert users["chosen"]["role"] == "analyst"


@pytest.mark.parametrize("body", [{}, {"role": None}])
def test_the_api_refuses_a_new_user_without_a_role(app: Any, body: dict[str, Any]) -> None:
    c, csrf = browser(app, "root")
    r = c.post("/api/users", json={"username": "apinorole", "password": PASSWORD, **body},
               headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail.startswith("choose a role for the new user")
    assert "admin, marketing" in detail
    assert "apinorole" not in usernames(app)


def test_the_api_description_says_the_role_is_required(app: Any) -> None:
    c, _ = browser(app, "root")
    schema = c.get("/api/openapi.json").json()
    ref = schema["paths"]["/api/users"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["$ref"]
    model = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "role" in model["required"]
    assert "default" not in model["properties"]["role"]
    assert "anyOf" not in model["properties"]["role"], "not nullable to readers"


# -- 2. supervisors and the dashboard ----------------------------------------------------
def test_supervisors_read_the_dashboard(app: Any) -> None:
    sup, _ = browser(app, "sup")
    assert 'href="/dashboard"' in sup.get("/").text
    page = sup.get("/dashboard")
    assert page.status_code == 200 and "Campaign dashboard" in page.text
    report = sup.get("/api/dashboard")
    assert report.status_code == 200 and report.json()["metrics"]["attempts"] == 0
    missing = sup.get("/api/dashboard", params={"campaign": 999})
    assert missing.status_code == 404 and missing.json()["detail"] == "no campaign 999"
    kim, _ = browser(app, "kim")
    assert 'href="/dashboard"' not in kim.get("/").text
    assert kim.get("/dashboard").status_code == 403


# -- 3. addresses without a page ------------------------------------------------------------
NO_PAGE = "There is no page at this address."


def test_a_stranger_gets_the_404_page_and_learns_nothing_more(app: Any) -> None:
    c, _ = browser(app)
    unknown = c.get("/no/such/page")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert NO_PAGE in unknown.text and '<a href="/">' in unknown.text
    assert "Not Found" not in unknown.text and '"detail"' not in unknown.text
    # An address that exists for another method answers exactly the same.
    for path in ("/logout", "/admin/users/1", "/admin/trunks/x/delete"):
        other = c.get(path)
        assert (other.status_code, other.text) == (404, unknown.text), path
        assert "allow" not in other.headers
    hrefs = set(re.findall(r'href="([^"]*)"', unknown.text))
    assert "/" in hrefs and all(h == "/" or h.startswith("/static/") for h in hrefs), \
        "no menu, no other address"
    api = c.get("/api/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    assert api.json() == {"detail": "there is no API operation at this address: see "
                                    "/api/docs"}
    assert c.get("/api/login").json() == api.json() and "allow" not in c.get("/api/login").headers


def test_the_404_page_does_not_repeat_the_address(app: Any) -> None:
    c, _ = browser(app, "root")
    r = c.get("/zq-probe%3Cb%3Ealert(7321)%3C%2Fb%3E/%E2%80%AE..%2F..%2Fsecret-passwd")
    assert r.status_code == 404 and NO_PAGE in r.text
    for echo in ("zq-probe", "alert(7321)", "secret-passwd", "\u202e"):
        assert echo not in r.text, echo


def test_a_logged_in_person_gets_the_404_page_with_their_menu(app: Any) -> None:
    c, _ = browser(app, "root")
    r = c.get("/no-such-page")
    assert r.status_code == 404 and NO_PAGE in r.text
    assert 'href="/admin/users"' in r.text and "Log out" in r.text
    missing_static = c.get("/static/no-such.css")
    assert missing_static.status_code == 404 and NO_PAGE in missing_static.text


def test_a_wrong_method_gets_a_sentence(app: Any) -> None:
    c, _ = browser(app, "mina")
    page = c.get("/logout")
    assert page.status_code == 405 and page.headers["content-type"].startswith("text/html")
    assert "This address does not take this kind of request." in page.text
    assert '<a href="/">' in page.text
    assert page.headers["allow"] == "POST"
    api = c.get("/api/login")
    assert api.status_code == 405 and "does not take this kind of request" in api.json()[
        "detail"]


def test_a_routes_own_404_keeps_its_words(app: Any) -> None:
    c, csrf = browser(app, "root")
    r = c.patch("/api/users/9999", json={"active": True}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 404 and r.json()["detail"].startswith("no user")
    page = c.get("/campaigns/9999")
    assert page.status_code == 404 and NO_PAGE not in page.text and "9999" in page.text


# -- 5. disabled buttons ------------------------------------------------------------------
def rule(css: str, selector: str) -> dict[str, str]:
    """The declarations of the last rule whose selector list holds `selector`."""
    found: dict[str, str] = {}
    bare = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", bare):
        if selector in [s.strip() for s in selectors.split(",")]:
            found = {k.strip(): v.strip() for k, _, v in
                     (d.partition(":") for d in body.split(";") if d.strip())}
    return found


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else float(((s + 0.055) / 1.055) ** 2.4)

    r, g, b = (int(hex_colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_luminance_contrast_matches_the_wcag_figures() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 1) == 4.5


@pytest.mark.parametrize("selector", ["button:disabled", '[aria-disabled="true"]'])
def test_disabled_buttons_look_disabled_and_stay_readable(selector: str) -> None:
    css = CSS.read_text(encoding="utf-8")
    enabled, disabled = rule(css, "button"), rule(css, selector)
    assert disabled, f"no rule for {selector}"
    assert css.index(selector) > css.index("button {"), "it must come after the button rule"
    assert disabled["cursor"] == "not-allowed"
    assert disabled["background"] != enabled["background"]
    assert disabled["color"] != enabled["color"]
    assert contrast(disabled["color"], disabled["background"]) >= 3
    page_bg = re.search(r"--bg:\s*(#[0-9a-fA-F]{6})", css)
    assert page_bg is not None
    assert disabled["background"] != page_bg[1] and "border" in disabled, \
        "the button's shape still shows on the page"


# -- 6. the API's descriptions ---------------------------------------------------------
def test_every_operation_is_described(app: Any) -> None:
    """Before: 48 of 75 operations in /api/docs said nothing of what they do."""
    c, _ = browser(app, "ana")
    paths = c.get("/api/openapi.json").json()["paths"]
    bare = sorted(f"{m.upper()} {p}" for p, ops in paths.items() for m, op in ops.items()
                  if not (op.get("description") or "").strip())
    assert bare == []
    assert sum(len(ops) for ops in paths.values()) >= 80


# -- in a real browser ------------------------------------------------------------------
FIELDS_WITHOUT_NAME = """
return Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => !['hidden', 'submit', 'button', 'reset', 'image'].includes(e.type))
  .filter(e => e.labels.length === 0 && !(e.getAttribute('aria-label') || '').trim())
  .map(e => e.outerHTML);
"""


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_in_chromium(tmp_path: Path) -> None:
    """`dialer serve` and headless Chromium: the browser itself keeps the new-user form
    from going without a role, every field has a label the browser knows, a disabled
    button is drawn grey with a not-allowed cursor, and a wrong address shows the page."""
    from selenium.webdriver.common.by import By

    from tests.support.browser import Shots, chromium, log_in, web_server
    from tests.support.procs import call_env, dialer_cmd

    env = call_env(tmp_path, 49700)
    subprocess.run(dialer_cmd("user", "create", "root", "--role", "admin",
                              "--password-stdin"), input=PASSWORD + "\n", env=env,
                   text=True, check=True, capture_output=True, timeout=60)
    with web_server(tmp_path, env) as base, chromium(tmp_path) as b:
        shot = Shots(b, "web-basics")
        b.get(f"{base}/login")
        assert b.execute_script(FIELDS_WITHOUT_NAME) == []
        log_in(b, base, "root", PASSWORD, "/admin/users")
        assert b.execute_script(FIELDS_WITHOUT_NAME) == []
        b.find_element(By.CSS_SELECTOR, "#new-user [name=username]").send_keys("norole")
        b.find_element(By.CSS_SELECTOR, "#new-user [name=password]").send_keys(PASSWORD)
        role = b.find_element(By.CSS_SELECTOR, "#new-user [name=role]")
        assert role.get_attribute("value") == ""
        assert b.execute_script("return arguments[0].validity.valueMissing", role)
        b.find_element(By.CSS_SELECTOR, "#new-user button[type=submit]").click()
        shot("no-role-chosen")
        assert b.current_url == f"{base}/admin/users", "the browser kept the form"
        assert 'data-user="norole"' not in b.page_source

        look = """const b = document.querySelector('#new-user button');
            const on = getComputedStyle(b); const was = [on.backgroundColor, on.cursor];
            b.disabled = true; const off = getComputedStyle(b);
            return [was, [off.backgroundColor, off.cursor, off.color]];"""
        (bg, cursor), (off_bg, off_cursor, off_colour) = b.execute_script(look)
        shot("disabled-button")
        assert cursor == "pointer" and off_cursor == "not-allowed"
        assert off_bg != bg and off_bg == "rgb(228, 231, 236)"
        assert off_colour == "rgb(91, 102, 120)"

        b.get(f"{base}/admin/trunks")
        assert b.execute_script(FIELDS_WITHOUT_NAME) == []
        b.get(f"{base}/no/such/page")
        shot("not-found")
        assert b.find_element(By.TAG_NAME, "h1").text == "Not found"
        assert NO_PAGE in b.find_element(By.CSS_SELECTOR, "main").text
        b.find_element(By.LINK_TEXT, "Back to the start page").click()
        assert b.current_url == f"{base}/"
