"""CDR exports through the real app and database: CSV and XLSX as an admin (whole
numbers) and as an analyst (masked), the filters, an audit entry per export with its row
count, the export page with the user's own last exports, the admin's audit log (pages,
JSON) that nobody else may read, and a 20,000-call export."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import insert

from campaigns.cdr import CDR_COLUMNS, iter_cdr, record_audit, write_csv
from campaigns.models import CallAttempt, Campaign, Contact
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from tests.campaigns.test_cdr import FORMULA, T0, make_calls

PASSWORD = "a long password"
USERS = {"boss": "admin", "mina": "marketing", "ana": "analyst", "sup": "supervisor",
         "ag": "agent"}


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    # XLSX files are built in the temp directory: a private one, to see them go.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    for name, role in USERS.items():
        create_user(application.state.db, name, PASSWORD, role)
    return application


def login(app: Any, user: str, zone: str | None = "UTC") -> TestClient:
    """A client logged in as `user`, who reads times in `zone` (None: the default)."""
    c = TestClient(app, follow_redirects=False)
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    if zone is not None:
        assert c.patch("/api/me/preferences", json={"time_zone": zone}).json()[
            "time_zone"] == zone
    return c


def csv_rows(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == list(CDR_COLUMNS)
    return [dict(zip(CDR_COLUMNS, r, strict=True)) for r in rows[1:]]


def xlsx_rows(content: bytes) -> list[dict[str, Any]]:
    ws = load_workbook(io.BytesIO(content)).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == list(CDR_COLUMNS)
    return [dict(zip(CDR_COLUMNS, r, strict=True)) for r in rows[1:]]


def test_admin_exports_csv_and_xlsx_and_each_is_audited(app: Any, tmp_path: Path) -> None:
    ids = make_calls(app.state.db)
    c = login(app, "boss")
    r = c.get("/api/cdr.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(r"attachment; filename=cdr-\d{8}T\d{6}Z\.csv",
                        r.headers["content-disposition"])
    assert r.content.startswith("\ufeff".encode())
    rows = csv_rows(r.text)
    assert [int(x["call_id"]) for x in rows] == sorted(ids.values())
    assert rows[0]["callee"] == "+821011110001" and rows[0]["campaign"] == "봄 캠페인"
    assert rows[0]["billable_s"] == "61"
    assert (rows[0]["audio_codec"], rows[1]["audio_codec"]) == ("PCMU/8000", "")  # no media
    assert next(x for x in rows if int(x["call_id"]) == ids["odd"])["campaign"] == "'" + FORMULA

    x = c.get("/api/cdr.xlsx")
    assert x.status_code == 200 and x.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert re.fullmatch(r'attachment; filename="cdr-\d{8}T\d{6}Z\.xlsx"',
                        x.headers["content-disposition"])
    book = xlsx_rows(x.content)
    assert (book[0]["audio_codec"], book[1]["audio_codec"]) == ("PCMU/8000", None)
    want = list(iter_cdr(app.state.db))
    assert [b["call_id"] for b in book] == [w["call_id"] for w in want]
    for b, w in zip(book, want, strict=True):
        for col in CDR_COLUMNS:
            v = w[col]
            assert b[col] == (v.replace(tzinfo=None) if col in ("start", "answer", "end")
                              and v is not None else v), (col, b[col], v)
    assert not list((tmp_path / "tmp").iterdir()), "the XLSX file is deleted once sent"

    audit = c.get("/api/audit").json()
    assert audit["total"] == 2 and audit["page"] == 1 and audit["per_page"] == 100
    newest, first = audit["entries"]
    assert (newest["username"], newest["role"], newest["action"]) == (
        "boss", "admin", "cdr_export")
    assert newest["detail"] == {"format": "xlsx", "filters": {}, "rows": 6,
                                "masked": False, "complete": True}
    assert first["detail"]["format"] == "csv" and first["detail"]["rows"] == 6
    assert first["detail"]["complete"] is True


def test_filters_through_the_api(app: Any) -> None:
    ids = make_calls(app.state.db)
    with app.state.db.session() as s:
        spring = s.query(Campaign).filter_by(name="봄 캠페인").one().id
    c = login(app, "mina")
    r = c.get("/api/cdr.csv", params={"campaign": [spring, spring + 50], "start": "2026-11-02",
                                      "end": "2026-11-02", "phone": "0001"})
    assert [int(x["call_id"]) for x in csv_rows(r.text)] == [ids["answered"]]
    r = c.get("/api/cdr.xlsx", params={"disposition": "busy"})
    assert [b["call_id"] for b in xlsx_rows(r.content)] == [ids["odd"]]
    entries = c.get("/api/audit")  # marketing may export, not read the audit log
    assert entries.status_code == 403
    admin = login(app, "boss").get("/api/audit", params={"user": "mina"}).json()
    assert [e["detail"]["rows"] for e in admin["entries"]] == [1, 1]
    assert admin["entries"][1]["detail"]["filters"] == {
        "campaign_ids": [spring, spring + 50], "start": "2026-11-02T00:00:00.000Z",
        "end": "2026-11-03T00:00:00.000Z", "phone": "0001"}
    assert admin["entries"][0]["detail"]["filters"] == {"disposition": "busy"}
    for bad in ({"start": "soon"}, {"disposition": "maybe"}, {"campaign": "x"},
                {"start": "2026-11-03", "end": "2026-11-01"}):
        r = c.get("/api/cdr.csv", params=bad)
        assert r.status_code in (400, 422) and r.json()["detail"], bad
    assert login(app, "boss").get("/api/audit").json()["total"] == 2, "refused: not logged"


def test_analysts_get_masked_numbers_and_no_longer_number_filter(app: Any) -> None:
    ids = make_calls(app.state.db)
    c = login(app, "ana")
    text = c.get("/api/cdr.csv").text
    rows = csv_rows(text)
    assert len(rows) == len(ids) and "+8210" not in text
    assert rows[0]["callee"] == "•••••••••0001"
    book = xlsx_rows(c.get("/api/cdr.xlsx").content)
    assert [b["callee"] for b in book] == [x["callee"] for x in rows]
    assert not any("+82" in str(b["callee"]) for b in book)
    assert len(csv_rows(c.get("/api/cdr.csv", params={"phone": "0003"}).text)) == 1
    r = c.get("/api/cdr.csv", params={"phone": "11110003"})
    assert r.status_code == 400 and "last 4 digits" in r.json()["detail"]
    supervisor = csv_rows(login(app, "sup").get("/api/cdr.csv").text)
    assert supervisor[0]["callee"] == "+821011110001"
    assert login(app, "ag").get("/api/cdr.csv").status_code == 403
    entries = login(app, "boss").get("/api/audit", params={"user": "ana"}).json()["entries"]
    assert [(e["role"], e["detail"]["format"], e["detail"]["masked"], e["detail"]["rows"])
            for e in entries] == [("analyst", "csv", True, 1), ("analyst", "xlsx", True, 6),
                                  ("analyst", "csv", True, 6)]


def test_the_export_page_lists_the_users_own_exports(app: Any) -> None:
    make_calls(app.state.db)
    mina, ana = login(app, "mina"), login(app, "ana")
    page = mina.get("/cdr")
    assert page.status_code == 200
    # The form goes through the page, which sends good filters on to the file.
    assert 'name="format" value="csv" formaction="/cdr"' in page.text
    assert 'name="format" value="xlsx" formaction="/cdr"' in page.text
    assert "봄 캠페인" in page.text and 'value="busy"' in page.text
    assert "No exports yet" in page.text and 'href="/cdr"' in page.text
    mina.get("/api/cdr.csv", params={"disposition": "handoff"})
    ana.get("/api/cdr.xlsx")
    html = mina.get("/cdr").text
    table = html.split('id="recent-exports"', 1)[1].split("</table>", 1)[0]
    assert "disposition Handed to an agent" in table and table.count("<tr>") == 2  # header + 1
    assert "xlsx" not in table, "another user's export is not listed"
    assert "last 4 digits" in ana.get("/cdr").text
    for _ in range(25):
        record_audit(app.state.db, "mina", "marketing", "cdr_export",
                     {"format": "csv", "filters": {}, "rows": 0, "complete": True})
    table = mina.get("/cdr").text.split('id="recent-exports"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 21  # the last 20 only
    assert 'href="/cdr"' not in login(app, "ag").get("/").text, "not in an agent's menu"


def test_the_audit_log_page_is_the_admins_in_pages_of_100(app: Any) -> None:
    for i in range(150):
        record_audit(app.state.db, "mina" if i % 3 else "ana", "marketing", "cdr_export",
                     {"format": "csv", "filters": {"disposition": "busy"}, "rows": i,
                      "masked": False, "complete": i != 149})
    c = login(app, "boss")
    first = c.get("/admin/audit")
    assert first.status_code == 200 and "150 entries" in first.text
    assert first.text.count("<tr data-entry=") == 100
    assert 'data-entry="150"' in first.text and 'data-entry="50"' not in first.text
    assert "interrupted" in first.text and "disposition Busy" in first.text
    assert "<td title=\"cdr_export\">CDR export</td>" in first.text  # the action in words
    assert 'href="/admin/audit?page=2&amp;user=&amp;action="' in first.text
    second = c.get("/admin/audit", params={"page": 2})
    assert second.text.count("<tr data-entry=") == 50 and "page 2 of 2" in second.text
    assert c.get("/admin/audit", params={"user": "x" * 5000}).status_code == 422
    only = c.get("/admin/audit", params={"user": "ana"})
    assert only.text.count("<tr data-entry=") == 50
    assert c.get("/api/audit", params={"page": 2, "per_page": 40}).json()["entries"][0][
        "id"] == 110
    for user in ("mina", "ana", "sup", "ag"):
        other = login(app, user)
        page = other.get("/admin/audit")
        assert page.status_code == 403 and USERS[user] in page.text
        assert other.get("/api/audit").status_code == 403
    assert TestClient(app, follow_redirects=False).get("/api/audit").status_code == 401


def test_a_20000_call_export_streams(app: Any) -> None:
    db = app.state.db
    n = 20_000
    with db.session() as s:
        campaign = Campaign(name="big", script_dir="/x")
        s.add(campaign)
        s.flush()
        cid = campaign.id
        s.execute(insert(Contact), [{"id": i, "campaign_id": cid, "phone": f"+8210{i:08d}",
                                     "fields": {}, "next_attempt_at": T0}
                                    for i in range(1, n + 1)])
        s.execute(insert(CallAttempt), [
            {"campaign_id": cid, "contact_id": i, "attempt_no": 1, "status": "completed",
             "created_at": T0, "dialed_at": T0 + timedelta(seconds=i),
             "answered_at": T0 + timedelta(seconds=i + 2) if i % 2 else None,
             "ended_at": T0 + timedelta(seconds=i + 30), "sip_status": 200 if i % 2 else 480,
             "disposition": "interested" if i % 2 else "no_answer", "handoff": False}
            for i in range(1, n + 1)])
    # Streamed: many small chunks, never the whole file at once.
    chunks = [len(b) for b in write_csv(iter_cdr(db, chunk=1000))]
    assert len(chunks) == 1 + n // 500 and max(chunks) < 100_000
    c = login(app, "mina")
    r = c.get("/api/cdr.csv")
    assert r.status_code == 200
    lines = r.text.lstrip("\ufeff").splitlines()
    assert len(lines) == n + 1 and lines[-1].startswith(f"{n},big,,+821000020000,")
    x = c.get("/api/cdr.xlsx", params={"campaign": cid})
    ws = load_workbook(io.BytesIO(x.content), read_only=True).active
    assert ws is not None
    book = list(ws.iter_rows(values_only=True))
    assert len(book) == n + 1 and book[-1][:4] == (n, "big", None, "+821000020000")
    assert book[-1][4] == (T0 + timedelta(seconds=n)).replace(tzinfo=None)
    audit = login(app, "boss").get("/api/audit").json()["entries"]
    assert [(e["detail"]["format"], e["detail"]["rows"], e["detail"]["complete"])
            for e in audit] == [("xlsx", n, True), ("csv", n, True)]


def test_the_export_form_says_what_is_wrong_on_the_page(app: Any) -> None:
    """The page's form goes through /cdr: good filters are sent on to the file, bad
    ones are said in a sentence on the page with what was chosen kept, never as JSON."""
    make_calls(app.state.db)
    mina, ana = login(app, "mina"), login(app, "ana")
    ok = mina.get("/cdr", params=[("format", "csv"), ("campaign", "1"), ("campaign", "2"),
                                  ("start", "2026-03-01"), ("disposition", "busy"),
                                  ("tz", "UTC"), ("end", "")])
    assert ok.status_code == 303
    to = ok.headers["location"]
    assert to.startswith("/api/cdr.csv?") and "campaign=1&campaign=2" in to
    assert "start=2026-03-01" in to and "disposition=busy" in to and "end=" not in to
    assert mina.get(to).status_code == 200
    assert mina.get("/cdr", params={"format": "xlsx"}).headers["location"] == "/api/cdr.xlsx?"
    reversed_ = mina.get("/cdr", params={"format": "csv", "start": "2026-03-09",
                                         "end": "2026-03-01", "phone": "0001"})
    assert reversed_.status_code == 400
    assert reversed_.headers["content-type"].startswith("text/html")
    assert "The range ends before it starts" in reversed_.text
    assert 'value="2026-03-09"' in reversed_.text and 'value="0001"' in reversed_.text
    assert '"detail"' not in reversed_.text
    ko = mina.get("/cdr", params={"format": "csv", "start": "2026-03-09", "end": "2026-03-01"},
                  headers={"Accept-Language": "ko"})
    assert "종료일이 시작일보다 앞섭니다" in ko.text
    many = ana.get("/cdr", params={"format": "csv", "phone": "11110001"})
    assert many.status_code == 400 and "last 4 digits of a number at most" in many.text
    said = many.text.split('id="error">')[1].split("</p>")[0]
    assert "analyst" not in said  # no role code in the sentence
    for bad in ({"format": "pdf"}, {"format": "csv", "campaign": "x"},
                {"format": "csv", "tz": "Mars/Olympus"}, {"format": "csv", "disposition": "?"}):
        r = mina.get("/cdr", params=bad)
        assert r.status_code == 400 and 'role="alert"' in r.text, bad
        assert "Traceback" not in r.text
    assert mina.get("/cdr").status_code == 200 and 'role="alert"' not in mina.get("/cdr").text
