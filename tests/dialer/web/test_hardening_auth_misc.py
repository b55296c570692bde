"""The web app's smaller doors: Secure cookies unless told otherwise, security headers on
every answer, no inline script a strict CSP would block, /metrics closed by default, the
users page shows only its own sentences, and every change to a user is in the audit log
(without the password)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campaigns.cdr import audit_entries
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app

PASSWORD = "a long password"
TEMPLATES = Path(__file__).parents[3] / "dialer" / "web" / "templates"


def make_app(tmp_path: Path, **env: str) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", "redis://127.0.0.1:9/0")
        mp.delenv("DIALER_WEB_SECURE_COOKIES", raising=False)
        mp.delenv("DIALER_METRICS_TOKEN", raising=False)
        for k, v in env.items():
            mp.setenv(k, v)
        app = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    for name, role in (("root", "admin"), ("mina", "marketing"), ("boss", "supervisor")):
        create_user(app.state.db, name, PASSWORD, role)
    return app


def logged_in(app: Any, name: str, base_url: str = "https://testserver") -> TestClient:
    c = TestClient(app, base_url=base_url, follow_redirects=False)
    r = c.post("/api/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_app(tmp_path_factory.mktemp("misc"))


def test_cookies_are_secure_by_default(app: Any) -> None:
    c = TestClient(app, base_url="https://testserver")
    r = c.post("/api/login", json={"username": "mina", "password": PASSWORD})
    assert r.status_code == 200 and "; secure" in r.headers["set-cookie"].lower()
    assert c.get("/api/me").json()["username"] == "mina", "sent back over https"
    login_form = c.get("/login")
    assert "; secure" in login_form.headers["set-cookie"].lower()


def test_plain_http_needs_the_explicit_opt_out(tmp_path: Path) -> None:
    app = make_app(tmp_path, DIALER_WEB_SECURE_COOKIES="false")
    c = TestClient(app)  # http://testserver
    r = c.post("/api/login", json={"username": "mina", "password": PASSWORD})
    assert r.status_code == 200 and "secure" not in r.headers["set-cookie"].lower()
    assert c.get("/api/me").status_code == 200


@pytest.mark.parametrize("path", ["/login", "/static/app.css", "/api/me", "/", "/nowhere"])
def test_every_answer_carries_the_security_headers(app: Any, path: str) -> None:
    r = TestClient(app, base_url="https://testserver", follow_redirects=False).get(path)
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split(
        "script-src", 1)[1].split(";")[0], csp
    assert r.headers.get("x-frame-options") == "DENY"
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("referrer-policy") == "same-origin"


def test_no_template_has_an_inline_script_or_handler() -> None:
    """The CSP allows scripts from /static only: an inline one would silently stop. A
    JSON data block (type="application/json") is not run, so it may stay."""
    for page in TEMPLATES.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        inline = [m for m in re.findall(r"<script\b[^>]*>", text)
                  if "src=" not in m and 'type="application/json"' not in m]
        assert not inline, f"{page.name}: inline <script>; move it to dialer/web/static"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{page.name}: inline handler"
        assert "javascript:" not in text, page.name


def test_metrics_are_closed_by_default(app: Any) -> None:
    anonymous = TestClient(app, base_url="https://testserver").get("/metrics")
    assert anonymous.status_code == 401 and "DIALER_METRICS_TOKEN" in anonymous.text
    assert anonymous.headers.get("www-authenticate") == "Bearer"
    assert logged_in(app, "mina").get("/metrics").status_code == 403
    for name in ("root", "boss"):
        r = logged_in(app, name).get("/metrics")
        assert r.status_code == 200 and "dialer_up" in r.text, name


def test_metrics_take_the_token_too(tmp_path: Path) -> None:
    app = make_app(tmp_path, DIALER_METRICS_TOKEN="scrape-me-please")
    c = TestClient(app, base_url="https://testserver")
    assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = c.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert ok.status_code == 200 and "dialer_up" in ok.text
    assert logged_in(app, "root").get("/metrics").status_code == 200


def test_the_users_page_shows_only_its_own_sentences(app: Any) -> None:
    c = logged_in(app, "root")
    planted = "Your account is suspended: call +1 555 0100 now"
    for query in ({"done": planted}, {"error": planted}, {"done": "created mallory"}):
        page = c.get("/admin/users", params=query)
        assert page.status_code == 200
        assert "suspended" not in page.text and "mallory" not in page.text, query
    r = c.post("/admin/users", data={"username": "jiwoo", "password": PASSWORD,
                                     "role": "analyst", "csrf_token": c.headers["X-CSRF-Token"]})
    assert r.status_code == 303
    shown = c.get(r.headers["location"])
    assert "User created." in shown.text, r.headers["location"]


def test_user_changes_are_audited_without_the_password(app: Any) -> None:
    c = logged_in(app, "root")
    secret, other = "first secret pass", "second secret pass"
    r = c.post("/api/users", json={"username": "audited", "password": secret,
                                   "role": "agent"})
    assert r.status_code == 201
    uid = r.json()["id"]
    assert c.patch(f"/api/users/{uid}", json={"role": "analyst"}).status_code == 200
    assert c.patch(f"/api/users/{uid}", json={"password": other}).status_code == 200
    assert c.patch(f"/api/users/{uid}", json={"active": False}).status_code == 200
    form = c.post(f"/admin/users/{uid}", data={"active": "1", "role": "analyst",
                                                "csrf_token": c.headers["X-CSRF-Token"]})
    assert form.status_code == 303
    entries, _ = audit_entries(app.state.db, username="root")
    mine = [e for e in entries if e["detail"].get("user") == "audited"]
    actions = [e["action"] for e in reversed(mine)]
    assert actions[0] == "user_created" and actions.count("user_changed") == 4, actions
    assert mine[-1]["detail"]["role"] == "agent" and mine[-1]["role"] == "admin"
    changes = [e["detail"]["changes"] for e in reversed(mine[:-1])]
    assert changes[0] == {"role": ["agent", "analyst"]}
    assert changes[1] == {"password": "reset"}
    assert changes[2] == {"active": [True, False]}
    assert changes[3] == {"active": [False, True]}
    text = json.dumps(entries)
    assert secret not in text and other not in text
