"""Issue 15, defect 2 on the web: only admins keep the trunk list; marketing picks a trunk
by name and one of its caller IDs; a trunk's password is never shown back; every change
is in the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from campaigns.cdr import audit_entries
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from tests.dialer.web.test_web_campaigns import PASSWORD, login

SECRET = "trunk-Pa55word"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    for name, role in (("root", "admin"), ("mina", "marketing"), ("ana", "analyst")):
        create_user(application.state.db, name, PASSWORD, role)
    return application


ACME = {"host": "sip.acme.example:5060", "caller_ids": ["+8215880000", "+8215880001"],
        "registrar": "sip:sip.acme.example", "username": "robot",
        "realm": "sip.acme.example", "password": SECRET}


def test_only_admins_change_trunks_and_the_password_never_comes_back(app: Any) -> None:
    admin, csrf = login(app, "root")
    mina, mcsrf = login(app, "mina")
    assert mina.put("/api/trunks/acme", json=ACME,
                    headers={"X-CSRF-Token": mcsrf}).status_code == 403
    r = admin.put("/api/trunks/acme", json=ACME, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert SECRET not in r.text and r.json()["has_password"] is True
    for who in (admin, mina):
        listed = who.get("/api/trunks")
        assert listed.status_code == 200 and SECRET not in listed.text
        assert listed.json()[0]["caller_ids"] == ["+8215880000", "+8215880001"]
    assert login(app, "ana")[0].get("/api/trunks").status_code == 403
    page = admin.get("/admin/trunks")
    assert page.status_code == 200 and "acme" in page.text and SECRET not in page.text
    # A wildcard realm, a URI as host, header text as caller ID: refused, saying why.
    for bad, words in (({"realm": "*"}, "realm"), ({"host": "evil.example;lr>"}, "host"),
                       ({"caller_ids": ["+821012345678\r\nX: y"]}, "caller ID")):
        r = admin.put("/api/trunks/acme", json={**ACME, **bad}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    entries, _ = audit_entries(app.state.db, action="trunk_saved")
    assert entries and SECRET not in repr(entries)


def test_marketing_picks_a_trunk_by_name_and_an_allowed_caller_id(app: Any) -> None:
    admin, csrf = login(app, "root")
    admin.put("/api/trunks/acme", json=ACME, headers={"X-CSRF-Token": csrf})
    mina, mcsrf = login(app, "mina")
    h = {"X-CSRF-Token": mcsrf}
    made = mina.post("/api/campaigns", headers=h, json={
        "name": "acme calls", "script": "demo", "trunk": "acme", "caller_id": "+8215880001"})
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    for body, words in (({"trunk": "attacker.example:5060"}, "not a trunk's name"),
                        ({"caller_id": "+8299999999"}, "not allowed on trunk"),
                        ({"caller_id": "\"x\" <sip:+8215880000@evil>"}, "caller ID"),
                        ({"trunk": "", "caller_id": "+8215880000"}, "pick a trunk")):
        r = mina.patch(f"/api/campaigns/{cid}", headers=h, json=body)
        assert r.status_code == 422 and words in r.json()["detail"], (body, r.text)
    # The trunk cannot go, nor lose the caller ID, while the campaign uses them.
    gone = admin.delete("/api/trunks/acme", headers={"X-CSRF-Token": csrf})
    assert gone.status_code == 409 and "used by campaign" in gone.json()["detail"]
    shrink = admin.put("/api/trunks/acme", headers={"X-CSRF-Token": csrf},
                       json={**ACME, "caller_ids": ["+8215880000"]})
    assert shrink.status_code == 422 and "campaign" in shrink.json()["detail"]
