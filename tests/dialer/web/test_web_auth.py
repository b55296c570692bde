"""The web app's doors: login with CSRF, roles on every route (each route x each role,
allowed and forbidden), the admin's user page, and the JSON API with its OpenAPI
description. A real app on a real (SQLite) database through Starlette's test client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from dialer.web.auth import check_routes, path_operations, route_guard

PASSWORD = "a long password"
ROLES = ("admin", "marketing", "agent", "analyst", "supervisor")
ALL = set(ROLES)
CAMPAIGN = {"admin", "marketing", "analyst"}
MARKETING = {"admin", "marketing"}
CALL = {"admin", "marketing", "analyst", "supervisor"}
# Every route and who may use it. A new route fails test_every_route_is_in_the_matrix
# until it is added here: nobody opens a route to more roles by accident.
EXPECTED: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/healthz"): "public",
    ("GET", "/metrics"): {"admin", "supervisor"},  # or DIALER_METRICS_TOKEN's bearer
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/api/login"): "public",
    ("POST", "/logout"): ALL,
    ("POST", "/api/logout"): ALL,
    ("GET", "/"): ALL,
    ("GET", "/api/me"): ALL,
    ("GET", "/api/openapi.json"): ALL,
    ("GET", "/api/docs"): ALL,
    ("GET", "/campaigns"): CAMPAIGN,
    ("GET", "/api/campaigns"): CAMPAIGN,
    ("GET", "/api/campaigns/{campaign_id}/report"): CAMPAIGN,
    ("GET", "/api/campaigns/{campaign_id}/nlu-advice"): CAMPAIGN,
    ("GET", "/campaigns/new"): MARKETING,
    ("POST", "/campaigns/new"): MARKETING,
    ("GET", "/campaigns/{campaign_id}"): CAMPAIGN,
    ("POST", "/campaigns/{campaign_id}/status"): MARKETING,
    ("GET", "/campaigns/{campaign_id}/edit"): MARKETING,
    ("POST", "/campaigns/{campaign_id}/edit"): MARKETING,
    ("POST", "/campaigns/{campaign_id}/imports"): MARKETING,
    ("GET", "/api/scripts"): CAMPAIGN,
    ("GET", "/api/voices"): CAMPAIGN,
    ("POST", "/api/campaigns"): MARKETING,
    ("PATCH", "/api/campaigns/{campaign_id}"): MARKETING,
    ("POST", "/api/campaigns/{campaign_id}/imports"): MARKETING,
    ("GET", "/campaigns/{campaign_id}/imports/{batch_id}"): CAMPAIGN,
    ("POST", "/campaigns/{campaign_id}/imports/{batch_id}/mapping"): MARKETING,
    # Whole numbers and every cell of the rows: not for roles that see masked numbers.
    ("GET", "/campaigns/{campaign_id}/imports/{batch_id}/rejections.csv"): MARKETING,
    ("GET", "/campaigns/{campaign_id}/dry-runs"): CAMPAIGN,
    ("POST", "/campaigns/{campaign_id}/dry-runs"): MARKETING,
    ("GET", "/api/campaigns/{campaign_id}/dry-runs"): CAMPAIGN,
    ("POST", "/api/campaigns/{campaign_id}/dry-runs"): MARKETING,
    ("GET", "/api/imports/{batch_id}"): CAMPAIGN,
    ("GET", "/api/campaigns/{campaign_id}"): CAMPAIGN,
    ("GET", "/api/campaigns/{campaign_id}/live"): CAMPAIGN,
    ("POST", "/api/campaigns/{campaign_id}/status"): MARKETING,
    ("GET", "/dnc"): MARKETING,
    ("POST", "/dnc"): MARKETING,
    ("GET", "/api/dnc"): MARKETING,
    ("POST", "/api/dnc"): MARKETING,
    ("DELETE", "/api/dnc/{phone}"): MARKETING,
    ("GET", "/admin/users"): {"admin"},
    ("POST", "/admin/users"): {"admin"},
    ("POST", "/admin/users/{user_id}"): {"admin"},
    ("GET", "/api/users"): {"admin"},
    ("POST", "/api/users"): {"admin"},
    ("PATCH", "/api/users/{user_id}"): {"admin"},
    ("GET", "/admin/trunks"): {"admin"},
    ("POST", "/admin/trunks"): {"admin"},
    ("POST", "/admin/trunks/{name}/delete"): {"admin"},
    ("GET", "/api/trunks"): {"admin", "marketing"},
    ("PUT", "/api/trunks/{name}"): {"admin"},
    ("DELETE", "/api/trunks/{name}"): {"admin"},
    ("GET", "/agent"): {"agent"},
    ("GET", "/api/agent/state"): {"agent"},
    ("POST", "/api/agent/login"): {"agent"},
    ("POST", "/api/agent/ready"): {"agent"},
    ("POST", "/api/agent/not-ready"): {"agent"},
    ("POST", "/api/agent/logout"): {"agent"},
    ("POST", "/api/agent/accept"): {"agent"},
    ("POST", "/api/agent/reject"): {"agent"},
    ("POST", "/api/agent/disposition"): {"agent"},
    ("GET", "/supervisor"): {"admin", "supervisor"},
    ("GET", "/api/supervisor/state"): {"admin", "supervisor"},
    ("POST", "/api/supervisor/monitor"): {"admin", "supervisor"},
    ("GET", "/api/acd/events"): {"agent", "admin", "supervisor"},
    ("GET", "/api/cdr.csv"): CALL,
    ("GET", "/api/cdr.xlsx"): CALL,
    ("GET", "/cdr"): CALL,
    ("GET", "/admin/audit"): {"admin"},
    ("GET", "/api/audit"): {"admin"},
    # Counts and rates only: supervisors read them too (issue 20).
    ("GET", "/dashboard"): CAMPAIGN | {"supervisor"},
    ("GET", "/api/dashboard"): CAMPAIGN | {"supervisor"},
    ("GET", "/calls"): CALL,
    ("GET", "/api/calls"): CALL,
    ("GET", "/calls/{attempt_id}"): CALL,
    ("GET", "/api/calls/{attempt_id}"): CALL,
    ("GET", "/api/calls/{attempt_id}/recording"): {"admin", "analyst", "supervisor"},
    ("GET", "/wallboard"): {"admin", "analyst", "supervisor"},
    ("GET", "/api/wallboard"): {"admin", "analyst", "supervisor"},
    ("GET", "/api/wallboard/events"): {"admin", "analyst", "supervisor"},
    ("GET", "/account"): ALL,
    ("POST", "/account"): ALL,
    ("GET", "/api/me/preferences"): ALL,
    ("PATCH", "/api/me/preferences"): ALL,
    # The mapping step's preview shows the list's first contact: as the mapping itself.
    ("GET", "/campaigns/{campaign_id}/imports/{batch_id}/preview"): MARKETING,
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = tmp_path_factory.mktemp("web")
    with pytest.MonkeyPatch.context() as mp:
        # No ACD here (tests/dialer/web/test_web_agents.py has one): its routes answer 503.
        mp.setenv("DIALER_ACD_URL", "redis://127.0.0.1:9/0")
        application = create_app(CampaignSettings(data_dir=data))
    for role in ROLES:
        create_user(application.state.db, f"{role}1", PASSWORD, role)
    return application


def client(app: Any, role: str | None = None) -> tuple[TestClient, str]:
    """A browser, logged in as `role` through the API (None: anonymous); its CSRF token."""
    c = TestClient(app, follow_redirects=False)
    if role is None:
        return c, ""
    r = c.post("/api/login", json={"username": f"{role}1", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]


def routes(app: Any) -> list[tuple[str, str]]:
    return sorted((m, r.path) for r in path_operations(app.routes) for m in r.methods or ())


def test_every_route_is_in_the_matrix(app: Any) -> None:
    assert set(routes(app)) == set(EXPECTED)
    for r in path_operations(app.routes):
        guard = route_guard(r)
        assert guard is not None
        want = EXPECTED[(min(r.methods or {""}), r.path)]
        assert (guard.public and want == "public") or guard.roles == want, r.path


def test_a_route_without_roles_stops_the_app() -> None:
    from fastapi import FastAPI

    bare = FastAPI()

    @bare.get("/open")
    def _open() -> None:
        return None

    with pytest.raises(RuntimeError, match=r"routes without allow\(...\): \['GET'\] /open"):
        check_routes(bare.routes)


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_route_by_role(app: Any, method: str, path: str, role: str | None) -> None:
    c, csrf = client(app, role)
    url = path.replace("{campaign_id}", "999").replace("{user_id}", "999").replace(
        "{batch_id}", "999").replace("{phone}", "01099990000")
    body: dict[str, Any] = {}
    if method != "GET":
        body = {"headers": {"X-CSRF-Token": csrf}} if csrf else {}
        if path.startswith("/api/"):
            body["json"] = {}
    if path.endswith("/events"):  # an endless event stream: its answer's head is enough
        with c.stream(method, url, **body) as r:
            if r.status_code >= 300:
                r.read()
    else:
        r = c.request(method, url, **body)
    allowed = EXPECTED[(method, path)]
    if allowed == "public":
        assert r.status_code not in (401, 403), r.text
    elif role is None:
        if path.startswith("/api/") or path == "/metrics":  # a scraper is told, not sent
            assert r.status_code == 401 and "log in" in r.text
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    elif role in allowed:
        assert r.status_code not in (401, 403), (role, r.status_code, r.text[:300])
        assert not r.headers.get("location", "").startswith("/login?next="), "sent to log in"
    else:
        assert r.status_code == 403, (role, r.status_code, r.text[:300])
        assert role in (r.json()["detail"] if path.startswith("/api/") else r.text)


def test_changes_need_the_sessions_csrf_token(app: Any) -> None:
    c, csrf = client(app, "admin")
    new = {"username": "csrf-probe", "password": PASSWORD, "role": "agent"}
    assert c.post("/api/users", json=new).status_code == 403
    assert c.post("/api/users", json=new, headers={"X-CSRF-Token": "x" + csrf}).status_code == 403
    r = c.post("/admin/users", data={**new, "csrf_token": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert c.post("/api/users", json=new, headers={"X-CSRF-Token": csrf}).status_code == 201
    other, _ = client(app, "marketing")  # another session's token is not this one's
    assert other.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 403


def test_login_page_flow(app: Any) -> None:
    c = TestClient(app, follow_redirects=False)
    page = c.get("/login?next=/campaigns")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and token is not None
    form = {"username": "marketing1", "password": PASSWORD, "next": "/campaigns"}
    # Without the token the form is refused: another site cannot log us in as itself.
    assert c.post("/login", data=form).status_code == 403
    wrong = c.post("/login", data={**form, "password": "nope", "csrf_token": token[1]})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', wrong.text)
    assert token is not None
    ok = c.post("/login", data={**form, "csrf_token": token[1]})
    assert ok.status_code == 303 and ok.headers["location"] == "/campaigns"
    cookie = ok.headers["set-cookie"]
    assert "dialer_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = c.get("/")
    assert home.status_code == 200 and 'href="/campaigns"' in home.text
    assert 'href="/admin/users"' not in home.text, "marketing does not see the users page"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    out = c.post("/logout", data={"csrf_token": csrf[1]})
    assert out.status_code == 303 and c.get("/").status_code == 303


def test_login_never_redirects_off_site(app: Any) -> None:
    for target in ("https://evil.example/", "//evil.example/x"):
        c = TestClient(app, follow_redirects=False)
        page = c.get("/login", params={"next": target})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None and 'name="next" value="/"' in page.text
        r = c.post("/login", data={"username": "agent1", "password": PASSWORD,
                                   "next": target, "csrf_token": token[1]})
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_admin_manages_users_on_the_page(app: Any) -> None:
    c, _ = client(app, "admin")
    page = c.get("/admin/users")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf is not None
    for role in ROLES:
        assert f'data-user="{role}1"' in page.text
    r = c.post("/admin/users", data={"username": "jiwoo", "password": PASSWORD,
                                     "role": "analyst", "csrf_token": csrf[1]})
    assert r.status_code == 303
    bad = c.post("/admin/users", data={"username": "jiwoo2", "password": "short",
                                       "role": "analyst", "csrf_token": csrf[1]})
    assert bad.status_code == 400 and "at least 10 characters" in bad.text
    assert 'value="jiwoo2"' in bad.text, "what was typed is kept"
    users = {u["username"]: u for u in c.get("/api/users").json()}
    assert users["jiwoo"]["role"] == "analyst" and users["jiwoo"]["active"]
    r = c.post(f"/admin/users/{users['jiwoo']['id']}",
               data={"role": "agent", "active": "0", "csrf_token": csrf[1]})
    assert r.status_code == 303
    users = {u["username"]: u for u in c.get("/api/users").json()}
    assert users["jiwoo"]["role"] == "agent" and not users["jiwoo"]["active"]
    gone, _ = TestClient(app), None
    assert gone.post("/api/login", json={"username": "jiwoo",
                                         "password": PASSWORD}).status_code == 401


def test_the_api_is_described_with_roles(app: Any) -> None:
    c, _ = client(app, "analyst")
    schema = c.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert schema["paths"]["/api/users"]["post"]["x-roles"] == ["admin"]
    assert schema["paths"]["/api/login"]["post"]["x-roles"] == ["public"]
    docs = c.get("/api/docs")
    assert docs.status_code == 200 and "/api/campaigns/{campaign_id}/report" in docs.text
    assert "http" not in re.sub(r'href="/[^"]*"', "", docs.text).replace(
        "http-equiv", ""), "no outside link or asset"


def test_pages_load_nothing_from_other_sites(app: Any) -> None:
    c, _ = client(app, "admin")
    for path in ("/", "/campaigns", "/admin/users", "/api/docs", "/login", "/campaigns/new",
                 "/dnc"):
        text = c.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', text), path
    assert c.get("/static/app.css").status_code == 200


def test_api_changes_users(app: Any) -> None:
    c, csrf = client(app, "admin")
    h = {"X-CSRF-Token": csrf}
    r = c.post("/api/users", json={"username": "api-user", "password": PASSWORD,
                                   "role": "marketing"}, headers=h)
    assert r.status_code == 201
    uid = r.json()["id"]
    assert c.post("/api/users", json={"username": "api-user", "password": PASSWORD,
                                      "role": "marketing"}, headers=h).status_code == 400
    assert c.post("/api/users", json={"username": "x2", "password": PASSWORD,
                                      "role": "boss"}, headers=h).status_code == 422
    assert c.patch(f"/api/users/{uid}", json={"role": "analyst"}, headers=h).json()["saved"]
    assert c.patch("/api/users/999", json={"active": True}, headers=h).status_code == 404
    me = client(app, "admin")[0].get("/api/me").json()
    r = c.patch(f"/api/users/{me['id']}", json={"active": False}, headers=h)
    assert r.status_code == 400 and "yourself" in r.json()["detail"]
