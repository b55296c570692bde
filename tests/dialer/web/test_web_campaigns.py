"""Marketing's pages on a real app and database: a campaign created with its call list
uploaded and imported in the background, the column-mapping step, every rejected row
downloadable (formulas neutralised), the campaign's states, and the DNC lists."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campaigns import trunks
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app

DEMO = Path(__file__).resolve().parents[3] / "campaigns" / "examples" / "demo"
PASSWORD = "a long password"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    create_user(application.state.db, "mina", PASSWORD, "marketing")
    create_user(application.state.db, "ana", PASSWORD, "analyst")
    return application


def login(app: Any, user: str = "mina") -> tuple[TestClient, str]:
    c = TestClient(app, follow_redirects=False)
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    return c, r.json()["csrf_token"]


def settings_form(csrf: str, **over: str) -> dict[str, str]:
    return {"csrf_token": csrf, "name": "spring", "script": str(DEMO.resolve()),
            "window_start": "09:00", "window_end": "20:00", "max_concurrent": "2",
            "max_cps": "1", "max_attempts": "2", "retry_busy": "5", "region": "KR",
            **over}


def wait_import(c: TestClient, location: str) -> dict[str, Any]:
    batch = location.rsplit("/", 1)[1]
    for _ in range(200):
        status = c.get(f"/api/imports/{batch}").json()
        if status["status"] not in ("queued", "running"):
            return dict(status)
        time.sleep(0.05)
    raise AssertionError(f"import {batch} still {status['status']}")


def test_create_upload_import_and_run_states(app: Any) -> None:
    c, csrf = login(app)
    page = c.get("/campaigns/new")
    assert page.status_code == 200 and ">demo<" in page.text
    with (DEMO / "contacts.csv").open("rb") as f:
        r = c.post("/campaigns/new", data=settings_form(csrf),
                   files={"csv_file": ("contacts.csv", f, "text/csv")})
    assert r.status_code == 303, r.text[:500]
    location = r.headers["location"]
    done = wait_import(c, location)
    assert (done["status"], done["accepted"], done["rejected"]) == ("done", 6, 1)
    assert done["phone_column"] == "phone" and done["progress"] == 1.0
    result = c.get(location)
    assert 'id="accepted">6<' in result.text and "12345" in result.text
    rows = list(csv.reader(io.StringIO(c.get(f"{location}/rejections.csv").text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["row", "value", "reason"] and rows[1][:2] == ["8", "12345"]
    cid = int(location.split("/")[2])
    info = c.get(f"/api/campaigns/{cid}").json()
    assert info["status"] == "draft" and info["retry_delays"] == {"busy": 300}
    assert info["window"] == "09:00-20:00" and info["progress"]["total"] == 6
    assert "Start" in c.get(f"/campaigns/{cid}").text
    for action, state in (("start", "running"), ("pause", "paused"), ("resume", "running")):
        # Start and Resume are asked again (the cockpit's confirmation); Pause is not.
        r = c.post(f"/campaigns/{cid}/status",
                   data={"action": action, "csrf_token": csrf, "confirmed": "yes"})
        assert r.status_code == 303 and c.get(f"/api/campaigns/{cid}").json()["status"] == state
    h = {"X-CSRF-Token": csrf}
    assert c.post(f"/api/campaigns/{cid}/status", json={"action": "stop"},
                  headers=h).json()["status"] == "stopped"
    refused = c.post(f"/api/campaigns/{cid}/status", json={"action": "resume"}, headers=h)
    assert refused.status_code == 409 and "it can: nothing" in refused.json()["detail"]
    # The analyst reads the result but may not change anything.
    ana, ana_csrf = login(app, "ana")
    assert ana.get(location).status_code == 200
    assert ana.post(f"/campaigns/{cid}/status",
                    data={"action": "stop", "csrf_token": ana_csrf}).status_code == 403


def test_a_list_whose_phone_column_cannot_be_told_asks_for_it(app: Any, tmp_path: Path) -> None:
    c, csrf = login(app)
    messy = ("name,연락처1,연락처2,memo\n"
             "김민수,010-4000-0001,010-4000-0101,\n"
             "이서연,010-4000-0002,010-4000-0102,\"콜백, 오후\n2시\"\n"
             "박지훈,010-4000-0001,010-4000-0103,=cmd|' /C calc'!A0\n")
    r = c.post("/campaigns/new", data=settings_form(csrf, name="mapped"),
               files={"csv_file": ("list.csv", messy.encode("cp949"), "text/csv")})
    location = r.headers["location"]
    status = wait_import(c, location)
    assert status["status"] == "needs_mapping" and "hold phone numbers" in status["message"]
    page = c.get(location)
    assert "Which column holds the phone numbers?" in page.text
    assert "<option>연락처1</option>" in page.text and "<td>김민수</td>" in page.text
    r = c.post(f"{location}/mapping", data={"phone_column": "연락처1", "csrf_token": csrf})
    assert r.status_code == 303
    done = wait_import(c, location)
    assert (done["status"], done["accepted"], done["rejected"]) == ("done", 2, 1)
    download = c.get(f"{location}/rejections.csv")
    assert download.headers["content-disposition"].endswith('rejected-rows.csv"')
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    memo = rows[0].index("memo")
    assert rows[1][memo] == "'=cmd|' /C calc'!A0", "a formula is never live in the export"
    again = c.post(f"{location}/mapping", data={"phone_column": "연락처1", "csrf_token": csrf})
    assert again.status_code == 409


@pytest.mark.parametrize(("over", "message"), [
    ({"window_start": "07:00"}, "outside 08:00-21:00"),
    ({"last_day": "2026-02-30"}, "YYYY-MM-DD"),
    ({"max_cps": "0"}, "New calls per second: &#39;0&#39; must be above 0"),
    ({"max_cps": "abc"}, "New calls per second: &#39;abc&#39; must be above 0"),
    ({"retry_busy": "-1"}, "must be a number of minutes from 0 to 43200"),
    ({"script": "/etc"}, "Choose one of the listed scripts"),
])
def test_bad_settings_come_back_with_what_was_typed(app: Any, over: dict[str, str],
                                                   message: str) -> None:
    c, csrf = login(app)
    with (DEMO / "contacts.csv").open("rb") as f:
        r = c.post("/campaigns/new", data=settings_form(csrf, name="typed name", **over),
                   files={"csv_file": ("contacts.csv", f, "text/csv")})
    assert r.status_code == 400 and message in r.text
    assert 'value="typed name"' in r.text
    assert c.get("/api/campaigns").json() == []


def test_empty_upload_and_duplicate_name(app: Any) -> None:
    c, csrf = login(app)
    r = c.post("/campaigns/new", data=settings_form(csrf),
               files={"csv_file": ("empty.csv", b"", "text/csv")})
    assert r.status_code == 400 and "empty.csv is empty" in r.text
    with (DEMO / "contacts.csv").open("rb") as f:
        assert c.post("/campaigns/new", data=settings_form(csrf),
                      files={"csv_file": ("a.csv", f, "text/csv")}).status_code == 303
    with (DEMO / "contacts.csv").open("rb") as f:
        r = c.post("/campaigns/new", data=settings_form(csrf),
                   files={"csv_file": ("a.csv", f, "text/csv")})
    assert r.status_code == 400 and "already exists" in r.text


def test_dnc_page_and_api(app: Any) -> None:
    c, csrf = login(app)
    r = c.post("/dnc", data={"phone": "010-7000-0001", "reason": "letter", "csrf_token": csrf})
    assert r.status_code == 303 and "added" in r.headers["location"]
    page = c.get("/dnc?q=7000")
    assert "+821070000001" in page.text and "letter" in page.text
    bad = c.post("/dnc", data={"phone": "hello", "csrf_token": csrf})
    assert bad.status_code == 400 and "not a phone number" in bad.text
    h = {"X-CSRF-Token": csrf}
    assert c.post("/api/dnc", json={"phone": "+82 10 7000 0002"}, headers=h).json() == {
        "phone": "+821070000002", "added": True}
    listed = [e["phone"] for e in c.get("/api/dnc", params={"q": "7000"}).json()]
    assert sorted(listed) == ["+821070000001", "+821070000002"]
    assert c.delete("/api/dnc/01070000002", headers=h).json()["removed"]
    assert c.delete("/api/dnc/01070000002", headers=h).status_code == 404
    r = c.post("/dnc", data={"phone": "010-7000-0001", "action": "remove", "csrf_token": csrf})
    assert r.status_code == 303 and c.get("/api/dnc").json() == []
    assert re.search(r"Opt-outs said during calls", c.get("/dnc").text)


def test_api_creates_edits_and_uploads_lists(app: Any) -> None:
    c, csrf = login(app)
    h = {"X-CSRF-Token": csrf}
    scripts = c.get("/api/scripts").json()
    assert {"name": "demo", "script": str(DEMO.resolve())} in scripts
    voices = {v["id"] for v in c.get("/api/voices").json()}
    assert {"ko", "gmw/en-us"} <= voices
    trunks.save_trunk(app.state.db, "carrier-b", {"host": "sip.example.net:5080",
                                                  "caller_ids": ["+8215885080"]}, by="admin")
    r = c.post("/api/campaigns", headers=h, json={
        "name": "api autumn", "script": "demo", "window": "10:00-19:00", "max_cps": 2,
        "retry_delays": {"busy": 120}, "voice": "ko", "trunk": "carrier-b",
        "caller_id": "+8215885080"})
    assert r.status_code == 201, r.text
    made = r.json()
    cid = made["id"]
    assert (made["window"], made["max_cps"], made["retry_delays"]) == (
        "10:00-19:00", 2.0, {"busy": 120})
    assert (made["voice"], made["trunk"], made["caller_id"], made["language"]) == (
        "ko", "carrier-b", "+8215885080", "ko")
    again = c.post("/api/campaigns", headers=h, json={"name": "api autumn", "script": "demo"})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    # Lists arrive over the API too, and import in the background.
    with (DEMO / "contacts.csv").open("rb") as f:
        up = c.post(f"/api/campaigns/{cid}/imports", headers=h,
                    files={"csv_file": ("list.csv", f, "text/csv")})
    assert up.status_code == 202, up.text
    done = wait_import(c, up.json()["status_url"])
    assert (done["status"], done["accepted"], done["rejected"]) == ("done", 6, 1)
    empty = c.post(f"/api/campaigns/{cid}/imports", headers=h,
                   files={"csv_file": ("empty.csv", b"", "text/csv")})
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    # PATCH changes only what is sent, and refuses what cannot work.
    patched = c.patch(f"/api/campaigns/{cid}", headers=h,
                      json={"voice": "gmw/en-us", "max_attempts": 3, "trunk": "",
                            "caller_id": ""})
    assert patched.status_code == 200, patched.text
    p = patched.json()
    assert (p["voice"], p["max_attempts"], p["trunk"], p["window"]) == (
        "gmw/en-us", 3, None, "10:00-19:00")
    for body, words in (({"voice": "klingon"}, "not installed"),
                        ({"trunk": "sip example;x"}, "not a trunk's name"),
                        ({"trunk": "sip.evil.example:5060"}, "not a trunk's name"),
                        ({"trunk": "sip.evil.example"}, "no trunk named"),
                        ({"dry_run": True}, "cannot be made a dry-run"),
                        ({"window": "06:00-20:00"}, "08:00"),
                        ({"max_attempts": 0}, "from 1 to 10"),
                        ({"script": "nowhere"}, "no script")):
        bad = c.patch(f"/api/campaigns/{cid}", headers=h, json=body)
        assert bad.status_code == 422 and words in bad.json()["detail"], (body, bad.text)
    assert c.post(f"/api/campaigns/{cid}/status", headers=h,
                  json={"action": "start"}).status_code == 200
    running = c.patch(f"/api/campaigns/{cid}", headers=h, json={"max_cps": 3})
    assert running.status_code == 409 and "pause it first" in running.json()["detail"]
    assert c.get(f"/api/campaigns/{cid}").json()["max_cps"] == 2.0


def test_edit_page(app: Any) -> None:
    c, csrf = login(app)
    with (DEMO / "contacts.csv").open("rb") as f:
        r = c.post("/campaigns/new", data=settings_form(csrf, voice="ko"),
                   files={"csv_file": ("contacts.csv", f, "text/csv")})
    cid = int(r.headers["location"].split("/")[2])
    wait_import(c, r.headers["location"])
    page = c.get(f"/campaigns/{cid}/edit")
    assert page.status_code == 200 and 'value="spring"' in page.text
    assert '<option value="ko" selected>' in page.text
    bad = c.post(f"/campaigns/{cid}/edit", data=settings_form(csrf, trunk="10.0.0.5"))
    assert bad.status_code == 400 and "no trunk named" in bad.text, re.findall(r"id=\"error\">[^<]*", bad.text)
    assert 'value="spring"' in bad.text  # what was typed comes back
    trunks.save_trunk(app.state.db, "lab", {"host": "10.0.0.5", "caller_ids": ["+8215880005"]},
                      by="admin")
    form = c.get(f"/campaigns/{cid}/edit").text
    assert '<option value="lab">lab (10.0.0.5)</option>' in form
    assert '<option value="+8215880005">' in form
    ok = c.post(f"/campaigns/{cid}/edit", data=settings_form(
        csrf, name="spring 2", trunk="lab", caller_id="+8215880005", window_start="08:30",
        max_cps="0.5"))
    assert ok.status_code == 303, ok.text[:400]
    info = c.get(f"/api/campaigns/{cid}").json()
    assert (info["name"], info["trunk"], info["window"], info["max_cps"], info["voice"]) == (
        "spring 2", "lab", "08:30-20:00", 0.5, None)
    shown = c.get(f"/campaigns/{cid}").text
    assert "lab" in shown and 'id="add-list"' in shown
    # Another list for the same campaign, from its page; duplicates of the first are dropped.
    with (DEMO / "contacts.csv").open("rb") as f:
        more = c.post(f"/campaigns/{cid}/imports", data={"csrf_token": csrf},
                      files={"csv_file": ("again.csv", f, "text/csv")})
    assert more.status_code == 303
    second = wait_import(c, more.headers["location"])
    assert second["status"] == "done" and second["accepted"] == 0
    assert c.get(f"/api/campaigns/{cid}").json()["progress"]["total"] == 6
