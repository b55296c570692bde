"""Call lists into campaigns: an upload stored and queued, its phone column chosen, its rows
read in chunks into contacts or rejections, and the import's state and rejections.

Every function takes a Database (or a Session) made by a composition root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, insert, select, update
from sqlalchemy.orm import Session

from campaigns import dnc
from campaigns.db import Database
from campaigns.import_fields import apply_mapping, read_mapping
from campaigns.importer import CallList, CsvImportError, open_call_list
from campaigns.lifecycle import CampaignError, get_campaign, new_campaign
from campaigns.models import Contact, ImportBatch, ImportRejection, utcnow
from campaigns.refusals import Phrase
from campaigns.statuses import ContactStatus
from campaigns.windows import zones_for_number

BULK_ROWS = 5000  # rows per executemany of an import


@dataclass
class ImportSummary:
    campaign_id: int
    batch_id: int
    accepted: int
    rejected: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "accepted": self.accepted,
                "rejected": self.rejected, "errors": self.errors}


def _store_upload(uploads_dir: Path, csv_path: Path, filename: str | None = None,
                  move: bool = False) -> Path:
    # Keep the file exactly as uploaded: rejected rows can always be traced back to it
    # until the retention rule deletes it (campaigns/uploads.py). `move` takes a file the
    # web app already streamed into uploads_dir, instead of copying it a second time.
    uploads_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_"
                   for ch in Path(filename or csv_path.name).name)[-100:] or "upload.csv"
    dest = uploads_dir / f"{stamp}-{safe}"
    if move:
        os.replace(csv_path, dest)
    else:
        shutil.copyfile(csv_path, dest)
    return dest


MAX_FILENAME = 255  # characters of an uploaded file's name, as most file systems allow


def check_filename(filename: str) -> str:
    """An uploaded file's name as it is kept and shown; CampaignError says what to
    rename when it cannot be (PostgreSQL text holds no NUL, and a name is one line)."""
    if len(filename) > MAX_FILENAME:
        raise CampaignError("the file name is {n:,} characters long; rename the file to at "
                            "most {most} characters and upload it again",
                            n=len(filename), most=MAX_FILENAME)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in filename):
        shown = filename.encode("unicode_escape").decode()[:80]
        raise CampaignError("the file name {name!r} contains a control character; rename the "
                            "file and upload it again", name=shown)
    return filename


def create_campaign(db: Database, *, name: str, script_dir: Path, csv_path: Path,
                    uploads_dir: Path, region: str = "KR", phone_column: str | None = None,
                    check_columns: Callable[[list[str]], None] | None = None,
                    max_rows: int | None = None, **options: Any) -> ImportSummary:
    """Create a draft campaign and import its call list in one transaction.

    The CSV's header and size are read before anything is written, so a file-level
    error (or more than `max_rows` rows) leaves the database as it was; `check_columns`
    (e.g. the script's fields) may refuse it too.
    """
    calls = open_call_list(csv_path, default_region=region, phone_column=phone_column,
                           max_rows=max_rows)
    if check_columns is not None:
        check_columns(calls.columns)
    with db.session() as s:
        campaign_id = new_campaign(s, name, script_dir, region, options)
        summary = _import(s, campaign_id, calls, _store_upload(uploads_dir, Path(csv_path)))
    return summary


def add_contacts(db: Database, campaign_id: int,
                 contacts: list[tuple[str, dict[str, Any]]]) -> int:
    """Add contacts given as (E.164 number, fields), e.g. a dry-run's personas."""
    now = utcnow()
    with db.session() as s:
        get_campaign(s, campaign_id)
        _bulk_insert(s, Contact, [
            {"campaign_id": campaign_id, "phone": phone, "fields": fields,
             "source_row": None, "status": ContactStatus.PENDING.value, "attempts": 0,
             "next_attempt_at": now, "timezones": ",".join(zones_for_number(phone)) or None}
            for phone, fields in contacts])
    return len(contacts)


def queue_import(db: Database, campaign_id: int, upload: Path, filename: str,
                 uploads_dir: Path, move: bool = False) -> int:
    """Keep the uploaded file as it came and record a queued import of it (`move`: the
    file is already in uploads_dir, see _store_upload)."""
    check_filename(filename)
    with db.session() as s:
        get_campaign(s, campaign_id)
    stored = _store_upload(uploads_dir, upload, filename, move)
    with db.session() as s:
        batch = ImportBatch(campaign_id=campaign_id, filename=filename, stored_path=str(stored),
                            status="queued", progress=0.0)
        s.add(batch)
        s.flush()
        return batch.id


MAPPING_HINTS = ("no phone number column", "no column named", "look like phone numbers",
                 "hold phone numbers")


def run_import(db: Database, batch_id: int, phone_column: str | None = None,
               check_columns: Callable[[list[str]], None] | None = None,
               max_rows: int | None = None,
               unmapped: Callable[[list[str], dict[str, str]], str] | None = None) -> str:
    """Import a queued upload (in a background thread of the web app, or from the
    command line); returns the batch's status. The batch is claimed first (queued ->
    running, a compare-and-set), so an import started twice runs once. A file whose
    phone column cannot be told waits for the person to pick it (needs_mapping, then
    claim_mapping), and so does one whose columns lack a field the script uses
    (`unmapped`: why, given the columns and the mapping chosen, "" when nothing lacks;
    campaigns/import_fields.py); any other problem with the file, or more than
    `max_rows` rows, fails the batch with the reason, naming the file as uploaded; the
    stored file is kept either way (until its retention, campaigns/uploads.py). The
    rows are stored chunk by chunk in one transaction, under the mapped field names."""
    def mark(**values: Any) -> None:
        with db.session() as s:
            s.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(**values))

    with db.session() as s:
        batch = s.get(ImportBatch, batch_id)
        if batch is None:
            raise CampaignError("no import {batch_id}", batch_id=batch_id)
        campaign = get_campaign(s, batch.campaign_id)
        stored, region, campaign_id = Path(batch.stored_path), campaign.region, campaign.id
        filename = batch.filename
        column = phone_column or batch.phone_column
        status = str(batch.status)
        claimed = s.execute(update(ImportBatch).where(
            ImportBatch.id == batch_id, ImportBatch.status == "queued").values(
            status="running", progress=0.05, message=None))
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return status  # running elsewhere, or already done: nothing to do twice
    try:
        calls = open_call_list(stored, default_region=region, phone_column=column,
                               max_rows=max_rows)
        if check_columns is not None:
            check_columns(calls.columns)
    except (CsvImportError, ValueError) as exc:
        text = str(exc).replace(str(stored), filename)
        needs = isinstance(exc, CsvImportError) and any(h in text for h in MAPPING_HINTS)
        mark(status="needs_mapping" if needs else "failed", progress=0.0, message=text,
             phone_column=None)
        return "needs_mapping" if needs else "failed"
    mapping = read_mapping(stored)
    if unmapped is not None and (why := unmapped(calls.columns, mapping)):
        mark(status="needs_mapping", progress=0.0, message=why,
             phone_column=calls.phone_column)
        return "needs_mapping"
    mark(progress=0.3, phone_column=calls.phone_column)
    try:
        with db.session() as s:
            _import(s, campaign_id, calls, stored, batch_id=batch_id, keep_errors=False,
                    mapping=mapping)
    except Exception as exc:
        # The transaction is rolled back: say so, rather than leave it "running".
        mark(status="failed", progress=0.0, message=Phrase(
            "the import stopped ({why}); nothing of it was stored; upload the file again",
            why=exc))
        if isinstance(exc, CsvImportError):
            return "failed"
        raise
    mark(status="done", progress=1.0)
    return "done"


def _import(s: Session, campaign_id: int, calls: CallList, stored: Path,
            batch_id: int | None = None, keep_errors: bool = True,
            mapping: dict[str, str] | None = None) -> ImportSummary:
    """Store a list's contacts and rejected rows in the caller's transaction, a chunk at
    a time (CallList.chunks): numbers already in the campaign or on a do-not-call list
    are rejected rows too. `keep_errors` also returns every rejection (the CLI prints
    them); the web app reads them from the database instead."""
    existing = set(s.scalars(select(Contact.phone).where(Contact.campaign_id == campaign_id)))
    if batch_id is None:
        batch = ImportBatch(campaign_id=campaign_id, filename=calls.path.name,
                            stored_path=str(stored), total_rows=calls.total_rows)
        s.add(batch)
        s.flush()
    else:
        found = s.get(ImportBatch, batch_id)
        assert found is not None
        batch = found
        batch.total_rows = calls.total_rows
    accepted = rejected = 0
    kept: list[dict[str, Any]] = []
    now = utcnow()
    for contacts, refused in calls.chunks():
        errors: list[dict[str, Any]] = [
            {"row": e.row, "value": e.value, "reason": e.reason, "raw": e.raw} for e in refused]
        on_dnc = dnc.blocked_among(s, [c.phone for c in contacts], campaign_id)
        rows: list[dict[str, Any]] = []
        for c in contacts:
            if c.phone in existing:
                errors.append({"row": c.row, "value": c.phone, "reason": Phrase(
                    "{phone} is already in this campaign", phone=c.phone), "raw": c.fields})
                continue
            if c.phone in on_dnc:
                errors.append({"row": c.row, "value": c.phone, "reason": Phrase(
                    "{phone} is on a do-not-call list", phone=c.phone), "raw": c.fields})
                continue
            existing.add(c.phone)
            rows.append({"campaign_id": campaign_id, "phone": c.phone,
                         "fields": apply_mapping(mapping or {}, c.fields),
                         "source_row": c.row, "status": ContactStatus.PENDING.value,
                         "attempts": 0, "next_attempt_at": now,
                         "timezones": c.zone or ",".join(zones_for_number(c.phone)) or None})
        errors.sort(key=lambda e: e["row"])  # chunks come in row order, so all rows are
        _bulk_insert(s, Contact, rows)
        _bulk_insert(s, ImportRejection, [{"batch_id": batch.id, **e} for e in errors])
        accepted += len(rows)
        rejected += len(errors)
        if keep_errors:
            kept += [{k: e[k] for k in ("row", "value", "reason")} for e in errors]
    batch.accepted, batch.rejected = accepted, rejected
    return ImportSummary(campaign_id=campaign_id, batch_id=batch.id, accepted=accepted,
                         rejected=rejected, errors=kept)


def _bulk_insert(s: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: PostgreSQL's COPY (a million
    contacts in seconds), elsewhere Core executemany in chunks (a million ORM objects
    would take minutes)."""
    if not rows:
        return
    if s.get_bind().dialect.name == "postgresql":
        import json

        table = model.__table__
        names = list(rows[0])
        is_json = [isinstance(table.c[n].type, JSON) for n in names]
        cursor = s.connection().connection.cursor()  # the psycopg connection, same tx
        with cursor.copy(f'COPY {table.name} ({", ".join(names)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n], ensure_ascii=False) if j else row[n]
                                for n, j in zip(names, is_json)])
        return
    for i in range(0, len(rows), BULK_ROWS):
        s.execute(insert(model), rows[i:i + BULK_ROWS])


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell as text that a spreadsheet will not run: a value starting like a formula
    (=, +, -, @) gets a leading apostrophe (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def import_status(db: Database, batch_id: int, limit: int = 200) -> dict[str, Any]:
    """An import's state and its first `limit` rejected rows. Numbers are whole: the
    web app masks them for the roles that see masked numbers."""
    with db.session() as s:
        b = s.get(ImportBatch, batch_id) if 0 < batch_id <= dnc.MAX_ID else None
        if b is None:
            raise CampaignError("no import {batch_id}", batch_id=batch_id)
        rows = s.scalars(select(ImportRejection).where(ImportRejection.batch_id == batch_id)
                         .order_by(ImportRejection.row).limit(limit)).all()
        return {"id": b.id, "campaign_id": b.campaign_id, "filename": b.filename,
                "status": b.status, "progress": b.progress, "message": b.message,
                "phone_column": b.phone_column, "total_rows": b.total_rows,
                "accepted": b.accepted, "rejected": b.rejected,
                "created_at": _iso(b.created_at), "purged_at": _iso(b.purged_at),
                "rejections": [{"row": r.row, "value": r.value, "reason": r.reason}
                               for r in rows]}


def _iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


REJECTIONS_PAGE = 1000  # rejected rows read (and sent) at a time


def rejections_csv(db: Database, batch_id: int) -> Iterator[str]:
    """Every rejected row of an import as CSV (row, value, reason, then the row's own
    cells), every cell and the header neutralised (the column names come from the
    uploaded file), streamed a page at a time: a million rejected rows are not held."""
    import csv
    import io

    columns: list[str] = []
    known: set[str] = set()
    for page in _rejection_pages(db, batch_id):
        for r in page:
            for name in r.raw:
                if name not in known:
                    known.add(name)
                    columns.append(name)
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow([safe_cell(c) for c in ("row", "value", "reason", *columns)])
    yield "\ufeff" + buf.getvalue()  # a BOM: Excel reads UTF-8 (Korean, Chinese) right
    for page in _rejection_pages(db, batch_id):
        buf.seek(0)
        buf.truncate()
        for r in page:
            out.writerow([r.row, safe_cell(r.value), safe_cell(r.reason),
                          *(safe_cell(r.raw.get(c, "")) for c in columns)])
        yield buf.getvalue()


def _rejection_pages(db: Database, batch_id: int) -> Iterator[list[ImportRejection]]:
    """An import's rejected rows in row order (the order they were stored in), a page
    per short session: a download may take minutes."""
    after = 0
    while True:
        with db.session() as s:
            page = list(s.scalars(select(ImportRejection).where(
                ImportRejection.batch_id == batch_id, ImportRejection.id > after)
                .order_by(ImportRejection.id).limit(REJECTIONS_PAGE)))
        if not page:
            return
        yield page
        after = page[-1].id
