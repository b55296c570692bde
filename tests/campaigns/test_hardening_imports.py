"""Call-list imports under the security review (issue 15): lists are read in chunks
with a bound on rows and on the length of a row, an import runs once however often it
is started, the rejections export neutralises its header too, stored uploads are deleted
after their retention, and a do-not-call change names a campaign that exists.

New interfaces are imported inside the tests, so each one fails on its own before the
change it checks."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from campaigns import dnc, import_fields, lifecycle, list_imports
from campaigns.db import Database
from campaigns.importer import CsvImportError, read_call_list
from campaigns.models import Contact, ImportBatch, ImportRejection, utcnow

DEMO = Path(__file__).resolve().parents[2] / "campaigns" / "examples" / "demo"
MB = 1 << 20


def draft(db: Database, name: str = "spring") -> int:
    return lifecycle.create_draft(db, name=name, script_dir=DEMO, dry_run=True)


def queued(db: Database, tmp_path: Path, text: str, campaign_id: int | None = None,
           name: str = "list.csv") -> tuple[int, int]:
    """A campaign (made unless given) and a queued import of `text`."""
    cid = campaign_id if campaign_id is not None else draft(db)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return cid, list_imports.queue_import(db, cid, path, name, tmp_path / "uploads")


# -- bounds -----------------------------------------------------------------------------

def test_a_list_longer_than_the_row_limit_is_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("name,phone\n" + "".join(f"n{i},010-3000-{i:04d}\n" for i in range(7)))
    from campaigns.importer import open_call_list

    with pytest.raises(CsvImportError) as info:
        open_call_list(path, max_rows=5)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert "7 rows" in message and "5" in message and "split" in message, message
    assert open_call_list(path, max_rows=7).total_rows == 7


def test_a_row_longer_than_the_limit_is_one_rejected_row(tmp_path: Path) -> None:
    from campaigns.importer import MAX_ROW_CHARS

    memo = "m" * (MAX_ROW_CHARS + 50_000)
    path = tmp_path / "long.csv"
    path.write_text(f"name,phone,memo\nkim,010-1234-5678,short\nlee,010-1234-5679,{memo}\n"
                    "park,010-1234-5670,ok\n")
    parsed = read_call_list(path)
    assert [c.row for c in parsed.contacts] == [2, 4]
    (error,) = parsed.errors
    assert error.row == 3 and f"{MAX_ROW_CHARS:,}" in error.reason, error.reason
    assert error.raw["name"] == "lee" and len(error.raw["memo"]) < 2100
    assert error.raw["memo"].endswith(f"({len(memo):,} characters in the file)")


def test_an_import_is_read_in_chunks_not_whole(db: Database, tmp_path: Path) -> None:
    # ~24 MB of rows of ~99,000 characters whose phone is not a number: read whole, the
    # text, its decoded copy and the table of cells are each as big as the file.
    row = "x" * 99_000
    text = "name,phone\n" + "".join(f"n{i},{row}\n" for i in range(240))
    _, batch = queued(db, tmp_path, text)
    size = (tmp_path / "list.csv").stat().st_size
    tracemalloc.start()
    try:
        assert list_imports.run_import(db, batch) == "done"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert list_imports.import_status(db, batch)["rejected"] == 240
    assert peak < size / 3, f"peak {peak / MB:.1f} MB while importing a {size / MB:.1f} MB file"


def test_preview_of_a_huge_cell_is_short(tmp_path: Path) -> None:
    from campaigns.importer import preview

    path = tmp_path / "wide.csv"
    path.write_text("a,b\n" + "y" * 200_000 + ",010-1234-5678\nz,010-1234-5679\n")
    header, rows = preview(path)
    assert header == ["a", "b"]
    assert rows[1] == ["z", "010-1234-5679"]
    assert len(rows[0][0]) < 300 and rows[0][0].startswith("yyy")


def test_a_header_longer_than_a_column_name_may_be_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("name," + "p" * 300 + "\nkim,010-1234-5678\n")
    with pytest.raises(CsvImportError) as info:
        read_call_list(path)
    assert "200 characters" in str(info.value) and "column 2" in str(info.value)


# -- one import at a time ---------------------------------------------------------------------

def test_an_import_started_twice_runs_once(db: Database, tmp_path: Path) -> None:
    _, batch = queued(db, tmp_path, (DEMO / "contacts.csv").read_text())
    assert list_imports.run_import(db, batch) == "done"
    assert list_imports.run_import(db, batch) == "done"  # a second delivery: nothing to do
    status = list_imports.import_status(db, batch)
    assert (status["accepted"], status["rejected"]) == (6, 1)
    with db.session() as s:
        assert s.scalar(select(func.count(ImportRejection.id))) == 1


def test_a_mapping_is_claimed_once(db: Database, tmp_path: Path) -> None:
    _, batch = queued(db, tmp_path, "name,tel1,tel2\nkim,010-1234-5678,010-1234-5679\n")
    assert list_imports.run_import(db, batch) == "needs_mapping"
    assert import_fields.claim_mapping(db, batch, "tel1") is True
    assert import_fields.claim_mapping(db, batch, "tel2") is False
    assert list_imports.run_import(db, batch) == "done"
    assert list_imports.import_status(db, batch)["phone_column"] == "tel1"


# -- the rejections export ---------------------------------------------------------------------

def test_the_rejections_header_is_neutralised_too(db: Database, tmp_path: Path) -> None:
    text = 'name,phone,"=HYPERLINK(""http://evil.example"",""x"")"\nkim,12345,a\n'
    _, batch = queued(db, tmp_path, text)
    assert list_imports.run_import(db, batch) == "done"
    rows = list(csv.reader(io.StringIO("".join(list_imports.rejections_csv(db, batch))
                                       .lstrip("\ufeff"))))
    assert rows[0][-1] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


# -- retention ------------------------------------------------------------------------------

def test_uploads_are_deleted_after_their_retention(db: Database, tmp_path: Path) -> None:
    from campaigns.uploads import purge_uploads

    uploads = tmp_path / "uploads"
    cid, old = queued(db, tmp_path, (DEMO / "contacts.csv").read_text())
    assert list_imports.run_import(db, old) == "done"
    _, recent = queued(db, tmp_path, (DEMO / "contacts.csv").read_text(), cid, "b.csv")
    assert list_imports.run_import(db, recent) == "done"
    _, unmapped = queued(db, tmp_path, "name,t1,t2\nkim,010-1234-5678,010-1234-5679\n", cid,
                         "c.csv")
    assert list_imports.run_import(db, unmapped) == "needs_mapping"
    _, waiting = queued(db, tmp_path, "phone\n010-1234-5678\n", cid, "d.csv")
    with db.session() as s:
        s.execute(update(ImportBatch).where(ImportBatch.id.in_([old, unmapped, waiting]))
                  .values(created_at=utcnow() - timedelta(days=91)))
        paths = {b.id: Path(b.stored_path) for b in s.scalars(select(ImportBatch))}
    assert purge_uploads(db, uploads, retention_days=90) == [old, unmapped]
    assert not paths[old].exists() and not paths[unmapped].exists()
    assert paths[recent].exists() and paths[waiting].exists(), "only finished imports"
    gone = list_imports.import_status(db, old)
    assert gone["purged_at"] is not None and gone["status"] == "done"
    assert (gone["accepted"], gone["rejected"]) == (6, 1)
    assert len(list(list_imports.rejections_csv(db, old))) == 2, "rejections stay in the database"
    lapsed = list_imports.import_status(db, unmapped)
    assert lapsed["status"] == "failed" and "90 days" in lapsed["message"]
    assert purge_uploads(db, uploads, retention_days=90) == [], "purging twice is harmless"
    with db.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 6


def test_purge_never_deletes_outside_the_uploads_directory(db: Database,
                                                           tmp_path: Path) -> None:
    from campaigns.uploads import purge_uploads

    _, batch = queued(db, tmp_path, (DEMO / "contacts.csv").read_text())
    assert list_imports.run_import(db, batch) == "done"
    elsewhere = tmp_path / "precious.csv"
    elsewhere.write_text("keep me")
    with db.session() as s:
        s.execute(update(ImportBatch).values(stored_path=str(elsewhere),
                                             created_at=utcnow() - timedelta(days=400)))
    assert purge_uploads(db, tmp_path / "uploads", retention_days=90) == [batch]
    assert elsewhere.read_text() == "keep me"


def test_the_purge_command(db: Database, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from dialer.cli.main import app

    data = tmp_path / "data"
    _, batch = queued(db, data, (DEMO / "contacts.csv").read_text())
    assert list_imports.run_import(db, batch) == "done"
    with db.session() as s:
        s.execute(update(ImportBatch).values(created_at=utcnow() - timedelta(days=10)))
    monkeypatch.setenv("DIALER_DATABASE_URL", db.url)
    monkeypatch.setenv("DIALER_DATA_DIR", str(data))
    kept = CliRunner().invoke(app, ["imports", "purge"])
    assert kept.exit_code == 0 and "0 uploaded files deleted" in kept.output, kept.output
    done = CliRunner().invoke(app, ["imports", "purge", "--days", "7"])
    assert done.exit_code == 0 and "1 uploaded file deleted" in done.output, done.output
    assert list_imports.import_status(db, batch)["purged_at"] is not None


# -- do-not-call lists ------------------------------------------------------------------------

@pytest.mark.parametrize("campaign_id", [999, 2**63])
def test_a_dnc_change_for_a_missing_campaign_is_refused(db: Database,
                                                       campaign_id: int) -> None:
    with pytest.raises(dnc.DncError, match=f"no campaign {campaign_id}"):
        dnc.add_number(db, "010-1234-5678", campaign_id=campaign_id)
    with pytest.raises(dnc.DncError, match=f"no campaign {campaign_id}"):
        dnc.remove_number(db, "010-1234-5678", campaign_id=campaign_id)


def test_dnc_input_lengths_are_checked_before_the_database(db: Database) -> None:
    with pytest.raises(dnc.DncError) as info:
        dnc.add_number(db, "1" * 5000)
    assert "64 characters" in str(info.value) and len(str(info.value)) < 300
    with pytest.raises(dnc.DncError, match="500 characters"):
        dnc.add_number(db, "010-1234-5678", reason="r" * 501)
    with pytest.raises(dnc.DncError, match="control character"):
        dnc.add_number(db, "010-1234-5678", reason="a\x00b")
    assert dnc.add_number(db, "010-1234-5678", reason="asked by letter\n(2nd time)") == (
        "+821012345678", True)
