"""One time zone per user, through the real app and database: the preference (the
default region's zone, a chosen one, an unknown one refused with a sentence, the
settings page and its CSRF), and one call dialed at 2026-03-06T22:23:00Z that every
page and export shows at 07:23 on Saturday 2026-03-07 for a user in Asia/Seoul (and
at 17:23 on the Friday for one in New York): the call explorer, the call page, the CDR
CSV and XLSX with their headers and local-day filters, the dashboard's days and hours,
the wallboard's clock and the audit log."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from campaigns.cdr import CDR_COLUMNS, cdr_header
from campaigns.preferences import check_zone, region_zone, zone_choices, zone_label
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from tests.support.calls import campaign_and_contact, finished_call

PASSWORD = "a long password"
SEOUL, KOLKATA = ZoneInfo("Asia/Seoul"), ZoneInfo("Asia/Kolkata")
DIALED = datetime(2026, 3, 6, 22, 23, tzinfo=UTC)  # Sat 07:23 in Seoul, Fri 17:23 in NY
USERS = {"boss": "admin", "ana": "analyst", "mina": "marketing", "ag": "agent"}


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    for name, role in USERS.items():
        create_user(application.state.db, name, PASSWORD, role)
    with application.state.db.session() as s:
        application.state.call_id = finished_call(s, *campaign_and_contact(s), DIALED).id
    return application


def login(app: Any, user: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def csv_table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


# -- the preference ---------------------------------------------------------------------

def test_zones_of_regions_and_names() -> None:
    assert region_zone("KR") == "Asia/Seoul" and region_zone("kr") == "Asia/Seoul"
    assert region_zone("US") == "America/New_York"  # several zones: its example number's
    assert region_zone("ZZ") == "UTC" and region_zone("") == "UTC"
    assert check_zone("  Europe/Paris ") == "Europe/Paris"
    for bad in ("", "Mars/Olympus", "../../etc/passwd", "Asia/Seoul\x00", "x" * 5000,
                "asia/seoul"):
        with pytest.raises(ValueError, match="not a time zone we know") as exc:
            check_zone(bad)
        assert len(str(exc.value)) < 160
    choices = zone_choices()
    assert choices[0] == "Asia/Seoul" and "UTC" in choices and "Africa/Abidjan" in choices
    assert len(choices) == len(set(choices)) > 300
    assert zone_label("Asia/Seoul") == "Asia/Seoul (KST)"
    assert zone_label("America/New_York", DIALED) == "America/New_York (EST)"


def test_the_preference_defaults_to_the_region_and_refuses_unknown_zones(app: Any) -> None:
    c = login(app, "ana")
    assert c.get("/api/me/preferences").json() == {
        "username": "ana", "time_zone": "Asia/Seoul", "label": "Asia/Seoul (KST)",
        "chosen": False, "default_time_zone": "Asia/Seoul", "language": None}
    r = c.patch("/api/me/preferences", json={"time_zone": "America/New_York"})
    assert r.status_code == 200 and r.json()["time_zone"] == "America/New_York"
    assert r.json()["chosen"] is True
    for bad in ("Mars/Olympus", "Asia/Seoul; DROP TABLE app_user", "../Seoul", "x" * 150):
        r = c.patch("/api/me/preferences", json={"time_zone": bad})
        assert r.status_code == 400, bad
        assert r.json()["detail"].endswith("pick one from the list, such as Asia/Seoul or UTC.")
    assert c.patch("/api/me/preferences", json={"time_zone": "x" * 5000}).status_code == 422
    assert c.patch("/api/me/preferences", json={"time_zone": 9}).status_code == 422
    assert c.get("/api/me/preferences").json()["time_zone"] == "America/New_York"
    # another user is not touched; null goes back to the default
    assert login(app, "boss").get("/api/me/preferences").json()["chosen"] is False
    assert c.patch("/api/me/preferences", json={"time_zone": None}).json()["chosen"] is False
    no_csrf = TestClient(app, follow_redirects=False, cookies=c.cookies)
    assert no_csrf.patch("/api/me/preferences", json={"time_zone": "UTC"}).status_code == 403
    assert TestClient(app).get("/api/me/preferences").status_code == 401


def test_the_default_zone_is_where_the_campaigns_call(tmp_path: Path) -> None:
    """A dialer whose campaigns call the United States, installed with the default
    region KR: who has not chosen a zone reads times in New York's, not Seoul's; a
    dry-run's region does not count; before any campaign, the app's default region."""
    from campaigns.models import Campaign

    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    create_user(application.state.db, "ana", PASSWORD, "analyst")
    c = login(application, "ana")
    assert c.get("/api/me/preferences").json()["time_zone"] == "Asia/Seoul"
    with application.state.db.session() as s:
        s.add(Campaign(name="kr", script_dir="/x", region="KR"))
        s.add_all(Campaign(name=f"us {n}", script_dir="/x", region="US") for n in range(2))
        s.flush()
        s.add_all(Campaign(name=f"kr rehearsal {n}", script_dir="/x", region="KR",
                           rehearsal_of=1, dry_run=True) for n in range(3))
    prefs = c.get("/api/me/preferences").json()
    assert prefs["time_zone"] == prefs["default_time_zone"] == "America/New_York"
    assert prefs["chosen"] is False
    page = c.get("/calls").text
    assert "America/New_York" in page and "Asia/Seoul" not in page
    assert "America/New_York" in c.get("/account").text


def test_the_settings_page_saves_a_zone_for_every_role(app: Any) -> None:
    for user in USERS:
        c = login(app, user)
        first = c.get("/account")
        assert first.status_code == 200
        assert 'id="user-zone"' in first.text and "Asia/Seoul (KST)" in first.text
        assert '<option value="Europe/Paris">' in first.text
        token = c.headers["X-CSRF-Token"]
        del c.headers["X-CSRF-Token"]
        assert c.post("/account", data={"time_zone": "Europe/Paris"}).status_code == 403
        r = c.post("/account", data={"time_zone": "Mars/Olympus", "csrf_token": token})
        assert r.status_code == 400
        assert "is not a time zone we know" in r.text and "Traceback" not in r.text
        r = c.post("/account", data={"time_zone": "Europe/Paris", "csrf_token": token})
        assert r.status_code == 303 and r.headers["location"] == "/account?done=1"
        page = c.get("/account?done=1").text
        assert "Saved" in page and 'id="user-zone"' in page
        assert '<option value="Europe/Paris" selected>' in page
        assert c.get("/api/me/preferences").json()["time_zone"] == "Europe/Paris"


# -- one call, one local time on every page -----------------------------------------------

def test_the_call_shows_at_the_same_local_time_everywhere(app: Any) -> None:
    c, cid = login(app, "boss"), app.state.call_id
    calls = c.get("/calls").text
    assert "Started (Asia/Seoul)" in calls and "2026-03-07 07:23:00" in calls
    assert "22:23" not in calls
    page = c.get(f"/calls/{cid}").text
    assert '<dd id="dialed">2026-03-07 07:23:00 <small>Asia/Seoul</small>' in page
    assert '<dd id="ended">2026-03-07 07:24:04' in page and "UTC" not in page.split("<main>")[1]
    # the explorer's days are the user's local days: Saturday has it, Friday does not
    assert c.get("/api/calls", params={"start": "2026-03-07", "end": "2026-03-07"}
                 ).json()["total"] == 1
    assert c.get("/api/calls", params={"start": "2026-03-06", "end": "2026-03-06"}
                 ).json()["total"] == 0
    assert c.get("/api/calls", params={"start": "2026-03-06", "end": "2026-03-06",
                                       "tz": "UTC"}).json()["total"] == 1
    assert c.get("/api/calls", params={"tz": "Mars/Olympus"}).status_code == 400
    bad = c.get("/calls", params={"tz": "<script>"})
    assert bad.status_code == 200 and "is not a time zone we know" in bad.text
    assert "<script>" not in bad.text

    table = csv_table(c.get("/api/cdr.csv").text)
    assert table[0] == cdr_header("Asia/Seoul")
    assert table[0][4:7] == ["start (Asia/Seoul)", "answer (Asia/Seoul)", "end (Asia/Seoul)"]
    assert table[1][4:7] == ["2026-03-07T07:23:00.000+09:00", "2026-03-07T07:23:04.000+09:00",
                             "2026-03-07T07:24:04.000+09:00"]
    day = {"start": "2026-03-07", "end": "2026-03-07"}
    assert len(csv_table(c.get("/api/cdr.csv", params=day).text)) == 2
    assert len(csv_table(c.get("/api/cdr.csv", params={"start": "2026-03-06",
                                                       "end": "2026-03-06"}).text)) == 1
    utc = csv_table(c.get("/api/cdr.csv", params={"tz": "UTC", "start": "2026-03-06",
                                                  "end": "2026-03-06"}).text)
    assert utc[0] == list(CDR_COLUMNS) and utc[1][4] == "2026-03-06T22:23:00.000Z"
    assert c.get("/api/cdr.csv", params={"tz": "Nowhere"}).status_code == 400

    ws = load_workbook(io.BytesIO(c.get("/api/cdr.xlsx", params=day).content)).active
    assert ws is not None
    header, row = [list(r) for r in ws.iter_rows(values_only=True)]
    assert header == cdr_header("Asia/Seoul")
    assert row[4] == datetime(2026, 3, 7, 7, 23)

    report = c.get("/api/dashboard", params=day).json()
    assert report["filters"]["tz"] == "Asia/Seoul" and report["metrics"]["attempts"] == 1
    assert report["over_time"]["labels"] == ["2026-03-07 07:00"]
    assert report["heatmap"]["dialed"][5][7] == 1  # Saturday, 07:00
    friday = c.get("/api/dashboard", params={"start": "2026-03-06", "end": "2026-03-06"})
    assert friday.json()["metrics"]["attempts"] == 0
    board = c.get("/dashboard").text
    assert 'data-tz="Asia/Seoul"' in board and "Days and hours in Asia/Seoul" in board

    cdr_page = c.get("/cdr").text
    assert "When (Asia/Seoul)" in cdr_page and '<option value="Asia/Seoul" selected>' in cdr_page
    audit = c.get("/admin/audit").text
    assert "When (Asia/Seoul)" in audit and "Times in Asia/Seoul" in audit
    logged = c.get("/api/audit").json()["entries"][0]
    assert logged["detail"]["filters"]["tz"] == "Asia/Seoul"
    at = datetime.fromisoformat(logged["at"])
    assert f"<td>{at.astimezone(SEOUL):%Y-%m-%d %H:%M:%S}</td>" in audit
    assert f"<td>{at.astimezone(SEOUL):%Y-%m-%d %H:%M:%S}</td>" in cdr_page


def test_a_user_in_new_york_sees_friday_afternoon(app: Any) -> None:
    c, cid = login(app, "ana"), app.state.call_id
    c.patch("/api/me/preferences", json={"time_zone": "America/New_York"})
    assert "Started (America/New_York)" in c.get("/calls").text
    assert "2026-03-06 17:23:00" in c.get("/calls").text
    assert '<dd id="dialed">2026-03-06 17:23:00' in c.get(f"/calls/{cid}").text
    row = csv_table(c.get("/api/cdr.csv").text)[1]
    assert row[4] == "2026-03-06T17:23:00.000-05:00"
    report = c.get("/api/dashboard", params={"start": "2026-03-06", "end": "2026-03-06"})
    assert report.json()["heatmap"]["dialed"][4][17] == 1  # Friday, 17:00
    assert f'id="user-zone" title="Times on every page are in this zone: change it">' \
           f'{zone_label("America/New_York")}</a>' in c.get("/calls").text


def test_the_wallboard_clock_is_the_users_on_24_hours(app: Any) -> None:
    c = login(app, "ana")
    c.patch("/api/me/preferences", json={"time_zone": "Asia/Kolkata"})
    page = c.get("/wallboard").text
    assert 'data-tz="Asia/Kolkata"' in page and "Clock in Asia/Kolkata (24-hour)" in page
    before = datetime.now(KOLKATA)
    page = c.get("/wallboard").text
    after = datetime.now(KOLKATA)
    shown = page.split('id="updated" data-tz="Asia/Kolkata">')[1].split("<")[0]
    assert shown in {f"{before:%H:%M:%S}", f"{after:%H:%M:%S}"} or \
        f"{before:%H:%M}" <= shown[:5] <= f"{after:%H:%M}", shown
