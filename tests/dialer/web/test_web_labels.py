"""Every form field a page renders has a name a screen reader can say: a <label for=...>,
a label around it, or an aria-label (issue 20). Each page is rendered by the real app on
a real database, as a role that may open it, with a campaign and an import waiting for
its phone column so that the campaign pages show all their fields."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from campaigns.settings import CampaignSettings
from campaigns.synthetic import generate
from campaigns.users import create_user
from dialer.web.app import create_app
from dialer.web.auth import path_operations, route_guard

DEMO = Path(__file__).resolve().parents[3] / "campaigns" / "examples" / "demo"
PASSWORD = "a long password"
USERS = {"root": "admin", "mina": "marketing", "ana": "analyst", "sup": "supervisor",
         "kim": "agent"}
# Fields that are not for people to fill in.
UNNAMED_TYPES = {"hidden", "submit", "button", "reset", "image"}
FIELDS = {"input", "select", "textarea"}
# Who opens a page when several roles may: the one shown the most.
ROLE_ORDER = ("admin", "marketing", "supervisor", "analyst", "agent")
SYNTHETIC_CALLS = 6


class Fields(HTMLParser):
    """The form fields of a page, and the ids and fields its labels name."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in FIELDS and (a.get("type") or "text").lower() not in UNNAMED_TYPES:
            self.count += 1
            self.fields.append({"tag": tag, "name": a.get("name"), "id": a.get("id"),
                                "aria-label": a.get("aria-label"),
                                "aria-labelledby": a.get("aria-labelledby"),
                                "wrapped": "yes" if self.open_labels else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.open_labels:
            self.open_labels -= 1

    def unlabelled(self) -> list[str]:
        return [f"<{f['tag']} name={f['name']!r} id={f['id']!r}>" for f in self.fields
                if not (f["wrapped"] or (f["aria-label"] or "").strip()
                        or f["aria-labelledby"]
                        or (f["id"] and f["id"] in self.label_for))]


def fields_of(html: str) -> Fields:
    parser = Fields()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("labels")
    generate(f"sqlite:///{data / 'dialer.db'}", SYNTHETIC_CALLS)  # calls to open
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", "redis://127.0.0.1:9/0")  # no ACD: its panels say so
        app = create_app(CampaignSettings(data_dir=data))
    for name, role in USERS.items():
        create_user(app.state.db, name, PASSWORD, role)
    mina = browser(app, "mina")
    csrf = mina.get("/api/me").json()["csrf_token"]
    # A draft whose list's phone column cannot be told: its import page asks with a form.
    messy = b"name,phone1,phone2\nKim,010-4000-0001,010-4000-0101\n"
    r = mina.post("/campaigns/new", files={"csv_file": ("list.csv", messy, "text/csv")},
                  data={"csrf_token": csrf, "name": "labels", "script": str(DEMO),
                        "window_start": "09:00", "window_end": "20:00",
                        "max_concurrent": "1", "max_cps": "1", "max_attempts": "1",
                        "region": "KR"})
    assert r.status_code == 303, r.text[:300]
    _, campaign, _, batch = r.headers["location"].strip("/").split("/")
    for _ in range(200):
        if mina.get(f"/api/imports/{batch}").json()["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    params = {"campaign_id": campaign, "batch_id": batch, "attempt_id": "1"}
    return {"app": app, "pages": pages(app, params)}


def pages(app: Any, params: dict[str, str]) -> list[tuple[str | None, str]]:
    """Every page of the app (a GET answered with HTML) as (user, address)."""
    by_role = {role: name for name, role in USERS.items()}
    out = []
    for route in path_operations(app.routes):
        if "GET" not in (route.methods or ()) or route.response_class is not HTMLResponse:
            continue
        guard = route_guard(route)
        assert guard is not None
        user = None if guard.public else by_role[
            next(r for r in ROLE_ORDER if r in guard.roles)]
        out.append((user, route.path.format(**params)))
    return out


def browser(app: Any, user: str | None) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    if user is not None:
        r = c.post("/api/login", json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
    return c


def test_the_parser_finds_a_field_without_a_label() -> None:
    page = fields_of('<label>Name <input name="a"></label><label for="b">B</label>'
                     '<input id="b" name="b"><input name="c" aria-label="C">'
                     '<input type="hidden" name="csrf"><select name="d"></select>'
                     '<textarea id="e"></textarea><label for="x">X</label>'
                     '<input type="password" name="p" placeholder="password">')
    assert page.count == 6
    assert page.unlabelled() == ["<select name='d' id=None>", "<textarea name=None id='e'>",
                                 "<input name='p' id=None>"]


def test_every_field_of_every_page_has_a_label(site: dict[str, Any]) -> None:
    unlabelled, with_fields = {}, []
    for user, url in site["pages"]:
        r = browser(site["app"], user).get(url)
        assert r.status_code == 200, (user, url, r.status_code, r.text[:300])
        page = fields_of(r.text)
        if page.count:
            with_fields.append(url)
        if page.unlabelled():
            unlabelled[f"{url} as {user}"] = page.unlabelled()
    assert unlabelled == {}
    # The pages known to have fields are among them (a page that stops rendering its
    # form would otherwise pass unseen).
    assert {"/login", "/admin/users", "/admin/trunks", "/dnc", "/campaigns/new",
            "/dashboard", "/calls", "/cdr"} <= set(with_fields), with_fields


def test_every_password_box_has_a_visible_label(site: dict[str, Any]) -> None:
    """A password box's label is on the screen too, not only said by a screen reader."""
    boxes = 0
    for user, url in site["pages"]:
        page = fields_of(browser(site["app"], user).get(url).text)
        for f in page.fields:
            if f["name"] == "password":
                boxes += 1
                assert f["wrapped"] or (f["id"] and f["id"] in page.label_for), (url, f)
    assert boxes >= 8  # login, the new user, each of the 5 users' rows, the trunk form
