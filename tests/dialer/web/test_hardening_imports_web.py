"""Imports and do-not-call lists on the web under the security review (issue 15): an
upload over its own cap is refused with 413, a list over the row limit fails naming it,
analysts see rejected rows masked and cannot download them, a column mapping posted
three times at once imports once, a huge cell cannot break the mapping page, lengths are
checked before the database, a do-not-call change for a missing campaign is 404, and DNC
changes and rejection downloads are in the audit log.

Fixtures and helpers come from tests/dialer/web/test_web_campaigns.py."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from campaigns.models import ImportBatch, utcnow
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from dialer.web.routes import imports as web_imports
from tests.dialer.web.test_web_campaigns import DEMO, PASSWORD, login, settings_form, wait_import

MB = 1 << 20
FULL_NUMBER = re.compile(r"\+8210\d{8}|010-\d{4}-\d{4}")
UNMAPPED = ("name,연락처1,연락처2\n김민수,010-4000-0001,010-4000-0101\n"
            "이서연,010-4000-0002,010-4000-0102\n이서연,010-4000-0001,010-4000-0103\n")


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Any:
    """The web app with a 1 MB upload cap and lists of at most 10 rows, on SQLite and on
    PostgreSQL (whose column lengths are what the length checks guard)."""
    application = create_app(CampaignSettings(data_dir=tmp_path / "data", database_url=db_url,
                                              max_upload_mb=1, max_list_rows=10))
    for name, role in (("mina", "marketing"), ("ana", "analyst"), ("root", "admin")):
        create_user(application.state.db, name, PASSWORD, role)
    return application


def new_campaign(c: TestClient, csrf: str, body: bytes | None = None,
                 name: str = "spring") -> str:
    """Create a campaign with a list (the demo's by default); the import's page."""
    data = body if body is not None else (DEMO / "contacts.csv").read_bytes()
    r = c.post("/campaigns/new", data=settings_form(csrf, name=name),
               files={"csv_file": ("contacts.csv", data, "text/csv")})
    assert r.status_code == 303, r.text[:400]
    return str(r.headers["location"])


def batch_ids(app: Any) -> list[int]:
    with app.state.db.session() as s:
        return list(s.scalars(select(ImportBatch.id)))


# -- sizes ----------------------------------------------------------------------------------

def test_an_upload_over_its_cap_is_refused_with_413_naming_it(site: Any,
                                                               tmp_path: Path) -> None:
    c, csrf = login(site)
    page = new_campaign(c, csrf)
    cid = page.split("/")[2]
    big = b"name,phone\n" + b"kim,010-1234-5678\n" * (MB // 18 + 1000)
    h = {"X-CSRF-Token": csrf}
    before = batch_ids(site)
    api = c.post(f"/api/campaigns/{cid}/imports", headers=h,
                 files={"csv_file": ("big.csv", big, "text/csv")})
    assert api.status_code == 413, api.text[:300]
    assert "1 MB" in api.json()["detail"] and "DIALER_MAX_UPLOAD_MB" in api.json()["detail"]
    form = c.post(f"/campaigns/{cid}/imports", data={"csrf_token": csrf},
                  files={"csv_file": ("big.csv", big, "text/csv")})
    assert form.status_code == 413 and "1 MB" in form.text
    new = c.post("/campaigns/new", data=settings_form(csrf, name="autumn"),
                 files={"csv_file": ("big.csv", big, "text/csv")})
    assert new.status_code == 413 and "1 MB" in new.text
    assert batch_ids(site) == before
    uploads = tmp_path / "data" / "uploads"
    stored = sorted(p.name for p in uploads.iterdir() if p.name != "kept")
    assert len(stored) == 1, f"nothing of a refused upload is kept: {stored}"
    kept = list((uploads / "kept").glob("*")) if (uploads / "kept").is_dir() else []
    assert kept == [], f"nothing of a refused upload is kept for the form either: {kept}"


def test_the_upload_route_streams_to_disk_and_stops_at_its_cap(tmp_path: Path) -> None:
    # Behind the body guard (dialer/web/guard.py) this is the second line: the file's
    # own bytes, counted as they are written, a chunk at a time.
    import asyncio
    import io

    from fastapi import HTTPException, UploadFile

    from dialer.web.uploads import save_upload

    reads: list[int] = []

    class Counted(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    upload = UploadFile(Counted(b"x" * (MB + 1)), filename="big.csv")
    with pytest.raises(HTTPException) as info:
        asyncio.run(save_upload(upload, tmp_path / "up.csv", 1))
    assert info.value.status_code == 413
    assert "big.csv" in str(info.value.detail) and "1 MB" in str(info.value.detail)
    assert reads and all(0 < n <= MB for n in reads), f"read whole: {reads}"
    ok = UploadFile(Counted(b"phone\n010-1234-5678\n"), filename="ok.csv")
    assert asyncio.run(save_upload(ok, tmp_path / "ok.csv", 1)) == 20


def test_a_list_over_the_row_limit_fails_naming_limit_and_count(site: Any) -> None:
    c, csrf = login(site)
    rows = "".join(f"n{i},010-3000-{i:04d}\n" for i in range(12))
    body = f"name,phone\n{rows}".encode()
    # With a new campaign the form says so, and no empty campaign is left behind.
    r = c.post("/campaigns/new", data=settings_form(csrf, name="too long"),
               files={"csv_file": ("long.csv", body, "text/csv")})
    assert r.status_code == 400 and "long.csv: has 12 rows" in r.text, r.text[-2000:]
    assert "10 " in r.text and "/uploads" not in r.text
    assert c.get("/api/campaigns").json() == []
    # A list added to a campaign imports in the background and fails there.
    cid = new_campaign(c, csrf).split("/")[2]
    up = c.post(f"/api/campaigns/{cid}/imports", headers={"X-CSRF-Token": csrf},
                files={"csv_file": ("long.csv", body, "text/csv")})
    status = wait_import(c, up.json()["status_url"])
    assert status["status"] == "failed"
    assert "12 rows" in status["message"] and "10" in status["message"], status["message"]
    assert status["message"].startswith("long.csv: "), "the file by its name, not its path"


# -- who sees what ---------------------------------------------------------------------------

def test_analysts_see_rejected_rows_masked_and_cannot_download_them(site: Any) -> None:
    c, csrf = login(site)
    first = new_campaign(c, csrf)
    wait_import(c, first)
    cid = first.split("/")[2]
    again = c.post(f"/campaigns/{cid}/imports", data={"csrf_token": csrf},
                   files={"csv_file": ("again.csv", (DEMO / "contacts.csv").read_bytes(),
                                       "text/csv")})
    second = again.headers["location"]
    bid = second.rsplit("/", 1)[1]
    full = wait_import(c, second)
    assert full["rejected"] == 7 and FULL_NUMBER.search(str(full["rejections"]))
    assert c.get(f"{second}/rejections.csv").status_code == 200

    ana, _ = login(site, "ana")
    seen = ana.get(f"/api/imports/{bid}")
    assert seen.status_code == 200 and seen.json()["rejected"] == 7
    assert not FULL_NUMBER.search(seen.text), seen.text[:500]
    reasons = [r["reason"] for r in seen.json()["rejections"]]
    assert "•••••••••0001 is already in this campaign" in reasons, reasons
    page = ana.get(second)
    assert page.status_code == 200 and "already in this campaign" in page.text
    assert not FULL_NUMBER.search(page.text) and "rejections.csv" not in page.text
    refused = ana.get(f"{second}/rejections.csv")
    assert refused.status_code == 403

    # A file-level message quoting the first row is masked as well.
    data = c.post(f"/api/campaigns/{cid}/imports", headers={"X-CSRF-Token": csrf},
                  files={"csv_file": ("noheader.csv", b"kim,010-5000-0001\nlee,010-5000-0002\n",
                                      "text/csv")})
    failed = wait_import(c, data.json()["status_url"])
    assert "010-5000-0001" in failed["message"]
    masked = ana.get(data.json()["status_url"]).json()["message"]
    assert "010-5000-0001" not in masked and "0001" in masked


# -- the column mapping -------------------------------------------------------------------

def test_a_mapping_posted_three_times_at_once_imports_once(site: Any,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    c, csrf = login(site)
    location = new_campaign(c, csrf, UNMAPPED.encode())
    assert wait_import(c, location)["status"] == "needs_mapping"
    real = web_imports.import_status

    def slow(*args: Any, **kw: Any) -> Any:  # every post reads the status before any acts
        status = real(*args, **kw)
        time.sleep(0.3)
        return status

    monkeypatch.setattr(web_imports, "import_status", slow)
    answers: list[int] = []

    def post() -> None:
        r = c.post(f"{location}/mapping", data={"phone_column": "연락처1",
                                                "csrf_token": csrf})
        answers.append(r.status_code)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.setattr(web_imports, "import_status", real)
    assert sorted(answers) == [303, 409, 409]
    done = wait_import(c, location)
    time.sleep(0.3)  # a second run, were one queued, would have started by now
    done = wait_import(c, location)
    assert (done["status"], done["accepted"], done["rejected"]) == ("done", 2, 1)
    assert len(done["rejections"]) == 1


def test_a_huge_cell_does_not_break_the_mapping_page(site: Any) -> None:
    c, csrf = login(site)
    body = ("name,tel1,tel2\n" + "가" * 150_000 + ",010-4000-0001,010-4000-0101\n"
            "kim,010-4000-0002,010-4000-0102\n").encode()
    location = new_campaign(c, csrf, body)
    assert wait_import(c, location)["status"] == "needs_mapping"
    page = c.get(location)
    assert page.status_code == 200, page.text[:300]
    assert "<option>tel1</option>" in page.text and "<td>kim</td>" in page.text
    assert len(page.text) < 20_000


# -- lengths -------------------------------------------------------------------------------------

def test_lengths_are_checked_before_the_database(site: Any) -> None:
    c, csrf = login(site)
    location = new_campaign(c, csrf, UNMAPPED.encode())
    assert wait_import(c, location)["status"] == "needs_mapping"
    long = c.post(f"{location}/mapping", data={"phone_column": "x" * 300, "csrf_token": csrf})
    assert long.status_code == 400 and "200 characters" in long.text
    assert wait_import(c, location)["status"] == "needs_mapping", "the mapping can be retried"

    cid = location.split("/")[2]
    h = {"X-CSRF-Token": csrf}
    named = c.post(f"/api/campaigns/{cid}/imports", headers=h,
                   files={"csv_file": ("n" * 300 + ".csv", b"phone\n010-1234-5678\n",
                                       "text/csv")})
    assert named.status_code == 422 and "255 characters" in named.json()["detail"]
    boundary = "b0undary"
    raw = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csv_file\"; "
           f"filename=\"a\x00b.csv\"\r\nContent-Type: text/csv\r\n\r\nphone\r\n010-1234-5678"
           f"\r\n--{boundary}--\r\n").encode()
    nul = c.post(f"/api/campaigns/{cid}/imports", content=raw, headers={
        **h, "content-type": f"multipart/form-data; boundary={boundary}"})
    assert nul.status_code == 422 and "control character" in nul.json()["detail"]

    header = c.post(f"/api/campaigns/{cid}/imports", headers=h, files={"csv_file": (
        "h.csv", ("name," + "p" * 300 + "\nkim,010-1234-5678\n").encode(), "text/csv")})
    failed = wait_import(c, header.json()["status_url"])
    assert failed["status"] == "failed" and "200 characters" in failed["message"]

    for body, words in (({"phone": "1" * 5000}, "64 characters"),
                        ({"phone": "010-1234-5678", "reason": "r" * 600}, "500 characters"),
                        ({"phone": "010-1234-5678", "reason": "a\x00b"}, "control character")):
        r = c.post("/api/dnc", headers=h, json=body)
        assert r.status_code == 400 and words in r.json()["detail"], r.text[:300]
        assert len(r.json()["detail"]) < 300
    gone = c.delete("/api/dnc/" + "1" * 3000, headers=h)
    assert gone.status_code == 400 and "64 characters" in gone.json()["detail"]


# -- do-not-call lists ------------------------------------------------------------------------

def test_a_dnc_change_for_a_missing_campaign_is_404(site: Any) -> None:
    c, csrf = login(site)
    h = {"X-CSRF-Token": csrf}
    for cid in (999, 2**63):
        add = c.post("/api/dnc", headers=h, json={"phone": "010-1234-5678",
                                                   "campaign_id": cid})
        assert add.status_code == 404 and f"no campaign {cid}" in add.json()["detail"]
        remove = c.delete("/api/dnc/010-1234-5678", headers=h, params={"campaign_id": cid})
        assert remove.status_code == 404 and f"no campaign {cid}" in remove.json()["detail"]
    form = c.post("/dnc", data={"phone": "010-1234-5678", "campaign": "999",
                                "csrf_token": csrf})
    assert form.status_code == 404 and "no campaign 999" in form.text
    typo = c.post("/dnc", data={"phone": "010-1234-5678", "campaign": "12a",
                                "csrf_token": csrf})
    assert typo.status_code == 400 and "campaign" in typo.text
    assert c.get("/api/dnc").json() == [], "nothing was added to the global list instead"


# -- audit ------------------------------------------------------------------------------------

def test_dnc_changes_and_rejection_downloads_are_audited(site: Any) -> None:
    c, csrf = login(site)
    h = {"X-CSRF-Token": csrf}
    location = new_campaign(c, csrf)
    wait_import(c, location)
    cid = int(location.split("/")[2])
    assert c.post("/dnc", data={"phone": "010-7000-0001", "reason": "letter",
                                "csrf_token": csrf}).status_code == 303
    assert c.post("/api/dnc", headers=h, json={"phone": "010-7000-0002",
                                               "campaign_id": cid}).status_code == 201
    assert c.delete("/api/dnc/010-7000-0002", headers=h,
                    params={"campaign_id": cid}).status_code == 200
    assert c.post("/dnc", data={"phone": "010-7000-0001", "action": "remove",
                                "csrf_token": csrf}).status_code == 303
    assert c.get(f"{location}/rejections.csv").status_code == 200

    root, _ = login(site, "root")
    entries = root.get("/api/audit").json()["entries"]
    seen = [(e["username"], e["action"], e["detail"].get("phone"), e["detail"].get("list"))
            for e in reversed(entries)]
    assert seen == [("mina", "dnc_add", "+821070000001", "global"),
                    ("mina", "dnc_add", "+821070000002", f"campaign:{cid}"),
                    ("mina", "dnc_remove", "+821070000002", f"campaign:{cid}"),
                    ("mina", "dnc_remove", "+821070000001", "global"),
                    ("mina", "rejections_download", None, None)]
    download = entries[0]["detail"]
    assert download["import_id"] == int(location.rsplit("/", 1)[1]) and download["rows"] == 1
    assert "dnc_add" in root.get("/admin/audit").text


# -- retention --------------------------------------------------------------------------------

def test_a_purged_upload_is_said_on_its_page(site: Any, tmp_path: Path) -> None:
    from campaigns.uploads import purge_uploads

    c, csrf = login(site)
    location = new_campaign(c, csrf)
    wait_import(c, location)
    db = site.state.db
    with db.session() as s:
        s.execute(update(ImportBatch).values(created_at=utcnow() - timedelta(days=100)))
    assert len(purge_uploads(db, tmp_path / "data" / "uploads", retention_days=90)) == 1
    page = c.get(location)
    assert page.status_code == 200 and "deleted" in page.text
    assert "rejected rows stay" in page.text
    assert c.get(f"{location}/rejections.csv").status_code == 200
