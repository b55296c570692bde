"""The call-list import without dead ends (issue 20), on a real app and database: a list
whose header does not name a field the script uses waits for a column to be mapped to
it (an obvious one proposed, none when two could be meant), the mapping step previews
the first prompt for the first contact, contacts are stored under the script's field
names; a new campaign whose list cannot be imported is not created, errors name no
server path; and the chosen file is kept across form errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.models import Contact
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web import kept_uploads
from dialer.web.app import create_app
from tests.dialer.web.test_web_campaigns import DEMO, PASSWORD, login, settings_form, wait_import

NAME_SELECT = re.compile(r'<select name="field.name".*?</select>', re.DOTALL)
PREVIEW = re.compile(r'<blockquote id="prompt-preview">(.*?)</blockquote>', re.DOTALL)
KOREAN = "전화번호,이름,메모\n010-5000-0001,김민수,VIP\n010-5000-0002,이서연,\n"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    for name, role in (("mina", "marketing"), ("joon", "marketing"), ("ana", "analyst")):
        create_user(application.state.db, name, PASSWORD, role)
    return application


def create(c: Any, csrf: str, body: bytes, name: str = "autumn",
           filename: str = "고객.csv", **over: str) -> Any:
    return c.post("/campaigns/new", data=settings_form(csrf, name=name, **over),
                  files={"csv_file": (filename, body, "text/csv")})


def stored_fields(app: Any, campaign_id: int) -> list[dict[str, str]]:
    with app.state.db.session() as s:
        return [dict(f) for f in s.scalars(select(Contact.fields).where(
            Contact.campaign_id == campaign_id).order_by(Contact.source_row))]


def test_a_korean_header_waits_for_its_mapping_and_imports_under_the_fields_name(
        app: Any) -> None:
    c, csrf = login(app)
    r = create(c, csrf, KOREAN.encode())
    assert r.status_code == 303, r.text[-1500:]
    location = r.headers["location"]
    cid = int(location.split("/")[2])
    status = wait_import(c, location)
    assert status["status"] == "needs_mapping"
    assert status["message"] == ("The script's first prompt uses the contact's name, but no "
                                 "column of the list is mapped to it; choose the column that "
                                 "holds it")
    assert status["phone_column"] == "전화번호"
    page = c.get(location).text
    # 이름 is proposed for {name}, and the preview already says the first contact's name.
    select_name = NAME_SELECT.search(page)
    assert select_name and "<option selected>이름</option>" in select_name.group()
    assert "<option selected>전화번호</option>" in page
    preview = PREVIEW.search(page)
    assert preview and preview.group(1).startswith("안녕하세요 김민수 고객님."), page[-3000:]
    # The preview endpoint follows the choice: another column, or none.
    url = f"{location}/preview"
    memo = c.get(url, params={"phone_column": "전화번호", "field.name": "메모"}).json()
    assert memo["prompt"].startswith("안녕하세요 VIP 고객님.") and memo["missing"] == []
    blank = c.get(url, params={"field.name": ""}).json()
    assert blank["prompt"].startswith("안녕하세요 고객님.")
    assert blank["missing"] == [status["message"]]
    assert c.get(url, params={"field.name": "주소"}).status_code == 400
    # Left unmapped, the step comes back saying what is missing, and nothing is imported.
    bare = c.post(f"{location}/mapping", data={"phone_column": "전화번호", "field.name": "",
                                               "csrf_token": csrf})
    assert bare.status_code == 400 and "uses the contact&#39;s name" in bare.text
    assert wait_import(c, location)["status"] == "needs_mapping"
    ok = c.post(f"{location}/mapping", data={"phone_column": "전화번호", "field.name": "이름",
                                             "csrf_token": csrf})
    assert ok.status_code == 303, ok.text[-800:]
    done = wait_import(c, location)
    assert (done["status"], done["accepted"], done["rejected"]) == ("done", 2, 0)
    assert stored_fields(app, cid) == [{"name": "김민수", "메모": "VIP"},
                                       {"name": "이서연", "메모": ""}]
    # The step is over: the preview says so rather than show the file.
    assert c.get(url).status_code == 409
    # Analysts see the import but never the mapping step's cells, nor its preview.
    ana, _ = login(app, "ana")
    assert ana.get(url).status_code == 403


def test_two_columns_that_could_be_the_name_are_not_guessed(app: Any) -> None:
    c, csrf = login(app)
    body = "전화번호,이름,성함\n010-5000-0001,김민수,김 민수\n"
    location = create(c, csrf, body.encode()).headers["location"]
    assert wait_import(c, location)["status"] == "needs_mapping"
    page = c.get(location).text
    select_name = NAME_SELECT.search(page)
    assert select_name and "selected" not in select_name.group()
    assert "안녕하세요 고객님." in page  # the preview has no name until one is chosen
    chosen = c.post(f"{location}/mapping", data={"phone_column": "전화번호",
                                                 "field.name": "성함", "csrf_token": csrf})
    assert chosen.status_code == 303
    assert wait_import(c, location)["status"] == "done"
    cid = int(location.split("/")[2])
    assert stored_fields(app, cid) == [{"이름": "김민수", "name": "김 민수"}]


def test_a_mapping_sent_by_hand_names_only_the_lists_columns(app: Any) -> None:
    c, csrf = login(app)
    location = create(c, csrf, KOREAN.encode()).headers["location"]
    assert wait_import(c, location)["status"] == "needs_mapping"
    for form, words in (({"phone_column": "전화번호", "field.name": "../../etc"},
                         "is not a column of the list"),
                        ({"phone_column": " ", "field.name": "이름"}, "phone numbers"),
                        ({"phone_column": "전화번호", "field.name": "x" * 300},
                         "200 characters"),
                        ({"phone_column": "전화번호",
                          **{f"field.f{i}": "이름" for i in range(60)}}, "at most 50")):
        bad = c.post(f"{location}/mapping", data={**form, "csrf_token": csrf})
        assert bad.status_code == 400 and words in bad.text, (form, bad.text[-500:])
    assert wait_import(c, location)["status"] == "needs_mapping", "it can still be mapped"


def test_a_list_that_cannot_be_imported_leaves_no_campaign_and_no_server_path(
        app: Any, tmp_path: Path) -> None:
    c, csrf = login(app)
    # A CP949 list cut in the middle of a character is still read; binary data is not.
    r = create(c, csrf, b"\x00\x01\x02" * 100, filename="photo.csv")
    assert r.status_code == 400, r.text[-800:]
    error = re.search(r'id="error">([^<]*)<', r.text)
    assert error and "photo.csv" in error.group(1), r.text[-1500:]
    assert str(tmp_path) not in r.text and "/uploads" not in r.text
    assert c.get("/api/campaigns").json() == []
    # A list that only needs its mapping is no failure: the campaign is created.
    assert create(c, csrf, KOREAN.encode()).status_code == 303
    assert [x["name"] for x in c.get("/api/campaigns").json()] == ["autumn"]


def test_the_list_is_kept_across_form_errors(app: Any, tmp_path: Path) -> None:
    c, csrf = login(app)
    contacts = (DEMO / "contacts.csv").read_bytes()
    bad = create(c, csrf, contacts, filename="spring.csv", window_start="06:00")
    assert bad.status_code == 400 and "08:00" in bad.text
    assert "spring.csv</strong> (kept) — choose another to replace it" in bad.text
    token = re.search(r'name="kept_list" value="([0-9a-f]{32})"', bad.text)
    assert token, bad.text[-2000:]
    kept_dir = tmp_path / "data" / "uploads" / "kept"
    assert (kept_dir / f"{token.group(1)}.csv").read_bytes() == contacts
    # A missing name comes back too, still with the list.
    unnamed = c.post("/campaigns/new", data=settings_form(csrf, name=" ",
                                                          kept_list=token.group(1)))
    assert unnamed.status_code == 400 and "Give the campaign a name." in unnamed.text
    assert f'value="{token.group(1)}"' in unnamed.text
    # Another marketing user cannot use the token; a made-up one is no list.
    joon, joon_csrf = login(app, "joon")
    stolen = joon.post("/campaigns/new", data=settings_form(joon_csrf,
                                                            kept_list=token.group(1)))
    assert stolen.status_code == 400 and "Choose the call list" in stolen.text
    forged = c.post("/campaigns/new", data=settings_form(csrf, kept_list="../../etc/passwd"))
    assert forged.status_code == 400 and "Choose the call list" in forged.text
    # Fixed, the form is sent without picking the file again.
    ok = c.post("/campaigns/new", data=settings_form(csrf, name="spring",
                                                     kept_list=token.group(1)))
    assert ok.status_code == 303, ok.text[-1500:]
    done = wait_import(c, ok.headers["location"])
    assert (done["status"], done["accepted"], done["filename"]) == ("done", 6, "spring.csv")
    assert list(kept_dir.iterdir()) == [], "a kept list is taken when it is used"
    again = c.post("/campaigns/new", data=settings_form(csrf, name="twice",
                                                        kept_list=token.group(1)))
    assert again.status_code == 400 and "Choose the call list" in again.text


def test_another_file_replaces_the_kept_one(app: Any, tmp_path: Path) -> None:
    c, csrf = login(app)
    first = create(c, csrf, b"phone\n010-5000-0001\n", filename="old.csv", window_end="23:00")
    token = re.search(r'name="kept_list" value="([0-9a-f]{32})"', first.text)
    assert token
    second = c.post("/campaigns/new", data=settings_form(csrf, window_end="23:00",
                                                         kept_list=token.group(1)),
                    files={"csv_file": ("new.csv", b"phone\n010-5000-0002\n", "text/csv")})
    assert second.status_code == 400 and "new.csv</strong> (kept)" in second.text
    kept_dir = tmp_path / "data" / "uploads" / "kept"
    assert not (kept_dir / f"{token.group(1)}.csv").exists()
    assert len(list(kept_dir.glob("*.csv"))) == 1


def test_kept_lists_go_after_a_day(tmp_path: Path) -> None:
    import time

    upload = tmp_path / "up.csv"
    upload.write_bytes(b"phone\n010-5000-0001\n")
    kept = kept_uploads.keep(tmp_path, upload, "a.csv", "mina")
    assert kept_uploads.find(tmp_path, kept.token, "mina") == kept
    assert kept_uploads.purge(tmp_path, now=time.time() + 3600) == []
    assert kept_uploads.purge(tmp_path, now=time.time() + 2 * 86400) == [kept.token]
    assert kept_uploads.find(tmp_path, kept.token, "mina") is None
    assert list((tmp_path / "kept").iterdir()) == []
    # One person keeps a few lists at most (forms abandoned in other tabs); others' stay.
    theirs = tmp_path / "theirs.csv"
    theirs.write_bytes(b"phone\n010-5000-0009\n")
    other = kept_uploads.keep(tmp_path, theirs, "b.csv", "joon")
    tokens = []
    for i in range(kept_uploads.KEPT_PER_USER + 2):
        upload.write_bytes(b"phone\n010-5000-0001\n")
        tokens.append(kept_uploads.keep(tmp_path, upload, f"{i}.csv", "mina").token)
    alive = [t for t in tokens if kept_uploads.find(tmp_path, t, "mina")]
    assert alive == tokens[-kept_uploads.KEPT_PER_USER:]
    assert kept_uploads.find(tmp_path, other.token, "joon") == other


def test_an_import_that_breaks_says_so_without_the_servers_details(
        app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("/srv/dialer/campaigns/list_imports.py: disk on fire")

    c, csrf = login(app)
    monkeypatch.setattr("dialer.web.import_jobs.run_import", broken)
    location = create(c, csrf, (DEMO / "contacts.csv").read_bytes()).headers["location"]
    failed = wait_import(c, location)
    assert failed["status"] == "failed"
    assert "upload the list again" in failed["message"]
    assert "/srv" not in failed["message"] and "RuntimeError" not in failed["message"]
