"""Campaign operations on the database: create from a call list, claim, record, report.

Every function takes a Database (or a Session) made by a composition root.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns import dnc, trunks
from campaigns.db import Database
from campaigns.importer import MAX_COLUMN_NAME, CallList, CsvImportError, open_call_list
from campaigns.models import (
    RETRYABLE_DISPOSITIONS,
    AttemptStatus,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
    Disposition,
    ImportBatch,
    ImportRejection,
    Turn,
    utcnow,
)
from campaigns.windows import CallWindow, WindowError, next_call_time, zones_for_number

ACTIVE_ATTEMPTS = (AttemptStatus.QUEUED, AttemptStatus.DIALING, AttemptStatus.ANSWERED)
BULK_ROWS = 5000  # rows per executemany of an import
MAX_INTERRUPTIONS = 2  # interrupted calls of one contact retried beyond max_attempts
OPT_OUT_INTENT = "opt_out"  # the intent name scripts use for "remove me" (and its key)


class CampaignError(ValueError):
    """A request the operator can correct; the message says how."""


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
        raise CampaignError(f"the file name is {len(filename):,} characters long; rename the "
                            f"file to at most {MAX_FILENAME} characters and upload it again")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in filename):
        raise CampaignError(f"the file name {filename.encode('unicode_escape').decode()[:80]!r}"
                            " contains a control character; rename the file and upload it "
                            "again")
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
        campaign_id = _new_campaign(s, name, script_dir, region, options)
        summary = _import(s, campaign_id, calls, _store_upload(uploads_dir, Path(csv_path)))
    return summary


def _new_campaign(s: Session, name: str, script_dir: Path, region: str,
                  options: dict[str, Any]) -> int:
    name = name.strip()
    if not name:
        raise CampaignError("the campaign needs a name")
    if s.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
        raise CampaignError(f"a campaign named {name!r} already exists; choose another name")
    options = check_options(options)
    _check_trunk(s, options.get("trunk"), options.get("caller_id"))
    options.setdefault("language", script_language(script_dir))
    campaign = Campaign(name=name, script_dir=str(Path(script_dir).resolve()),
                        region=region.upper(), **options)
    s.add(campaign)
    s.flush()
    return campaign.id


def script_language(script_dir: Path | str) -> str:
    """The language a script declares (script.yml `language`, default ko)."""
    import yaml

    try:
        data = yaml.safe_load((Path(script_dir) / "script.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return "ko"
    return str((data or {}).get("language", "ko")) if isinstance(data, dict) else "ko"


# What a draft or paused campaign may change (the list is imported, not edited here).
EDITABLE = frozenset({
    "name", "script_dir", "region", "caller_id", "voice", "trunk", "max_concurrent",
    "max_attempts", "retry_delay_s", "ring_timeout_s", "window_start", "window_end",
    "first_day", "last_day", "max_cps", "retry_delays"})
MAX_RETRY_DELAY_S = 30 * 86400  # a month: the bound of retry_delay_s and of each per-disposition delay


def _check_trunk(s: Session, trunk: str | None, caller_id: str | None) -> None:
    try:
        trunks.check_choice(s, trunk, caller_id)
    except trunks.TrunkError as exc:
        raise CampaignError(str(exc)) from None


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Refuse settings that cannot work, naming the fix; returns them cleaned."""
    out = dict(options)
    limits = {"max_concurrent": (1, 100_000), "max_attempts": (1, 10),
              "retry_delay_s": (0, MAX_RETRY_DELAY_S), "ring_timeout_s": (5, 120)}
    for key, (low, high) in limits.items():
        if key in out and not (isinstance(out[key], int) and low <= out[key] <= high):
            raise CampaignError(f"{key} {out[key]!r} must be a whole number from {low} to {high}")
    for key in ("caller_id", "voice", "trunk"):
        if key in out:
            out[key] = (str(out[key]).strip() or None) if out[key] is not None else None
    if out.get("trunk") and not trunks.NAME.match(out["trunk"]):
        raise CampaignError(f"trunk {out['trunk'][:80]!r} is not a trunk's name; pick one "
                            "an admin has set up, or leave it empty for the workers' trunk")
    if out.get("caller_id"):
        try:
            out["caller_id"] = trunks.check_caller_id(out["caller_id"])
        except trunks.TrunkError as exc:
            raise CampaignError(str(exc)) from None
    if out.get("voice") and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_+/.-]{0,63}",
                                             out["voice"]):
        raise CampaignError(f"voice {out['voice'][:80]!r}: an espeak-ng voice name such as "
                            "ko or gmw/en-us (letters, digits, _ + / . -, at most 64)")
    if "retry_delays" in out:
        out["retry_delays"] = check_retry_delays(out["retry_delays"])
    return out


def check_retry_delays(delays: object) -> dict[str, int] | None:
    """Seconds before a retry per disposition, with the same bounds as retry_delay_s: an
    unbounded one made finish_attempt fail and left the attempt holding a line."""
    if delays is None or delays == {}:
        return None
    if not isinstance(delays, dict):
        raise CampaignError("retry delays must map a disposition to seconds, e.g. "
                            "{\"busy\": 300}")
    out: dict[str, int] = {}
    for name, seconds in delays.items():
        if name not in RETRYABLE_DISPOSITIONS:
            raise CampaignError(f"retry delay for {str(name)[:40]!r}: only "
                                f"{', '.join(sorted(RETRYABLE_DISPOSITIONS))} are retried")
        if isinstance(seconds, bool) or not isinstance(seconds, int) \
                or not 0 <= seconds <= MAX_RETRY_DELAY_S:
            raise CampaignError(f"retry delay for {name} {str(seconds)[:40]!r} must be a "
                                f"whole number of seconds from 0 to {MAX_RETRY_DELAY_S}")
        out[str(name)] = seconds
    return out


def update_campaign(db: Database, campaign_id: int, changes: dict[str, Any]) -> None:
    """Edit a draft or paused campaign (a running one is paused first: the calls under
    way keep the settings they started with)."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise CampaignError(f"cannot change {', '.join(unknown)}; editable: "
                            f"{', '.join(sorted(EDITABLE))}")
    changes = check_options(changes)
    with db.session() as s:
        c = get_campaign(s, campaign_id)
        if c.rehearsal_of is not None:
            raise CampaignError("a dry-run cannot be edited; edit its campaign and rehearse again")
        if c.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
            hint = ("pause it first" if c.status == CampaignStatus.RUNNING
                    else "it is final; create a new campaign")
            raise CampaignError(f"a {c.status} campaign cannot be edited; {hint}")
        if "trunk" in changes or "caller_id" in changes:
            _check_trunk(s, changes.get("trunk", c.trunk), changes.get("caller_id", c.caller_id))
        if "name" in changes:
            changes["name"] = str(changes["name"]).strip()
            if not changes["name"]:
                raise CampaignError("the campaign needs a name")
            if s.scalar(select(Campaign.id).where(Campaign.name == changes["name"],
                                                  Campaign.id != campaign_id)) is not None:
                raise CampaignError(f"a campaign named {changes['name']!r} already exists; "
                                    "choose another name")
        if "script_dir" in changes:
            changes["script_dir"] = str(Path(changes["script_dir"]).resolve())
            changes["language"] = script_language(changes["script_dir"])
        if "region" in changes:
            changes["region"] = str(changes["region"]).upper()
        for key, value in changes.items():
            setattr(c, key, value)


def create_draft(db: Database, *, name: str, script_dir: Path, region: str = "KR",
                 **options: Any) -> int:
    """A draft campaign without contacts yet (the web app imports its list afterwards,
    in the background)."""
    with db.session() as s:
        return _new_campaign(s, name, script_dir, region, options)


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


def claim_mapping(db: Database, batch_id: int, phone_column: str) -> bool:
    """Queue an import that waits for its phone column, with the one chosen; False when
    it is not waiting (any more). Like the dispatcher's claims the UPDATE checks the
    status it changes, so of several requests at once exactly one wins."""
    column = phone_column.strip()
    if not column:
        raise CampaignError("choose the column that holds the phone numbers")
    if len(column) > MAX_COLUMN_NAME:
        raise CampaignError(f"the column name sent is {len(column):,} characters long, but a "
                            f"column name has at most {MAX_COLUMN_NAME} characters; choose one "
                            "of the file's columns")
    with db.session() as s:
        claimed = s.execute(update(ImportBatch).where(
            ImportBatch.id == batch_id, ImportBatch.status == "needs_mapping").values(
            status="queued", progress=0.0, message=None, phone_column=column))
        return bool(claimed.rowcount)  # type: ignore[attr-defined]


def run_import(db: Database, batch_id: int, phone_column: str | None = None,
               check_columns: Callable[[list[str]], None] | None = None,
               max_rows: int | None = None) -> str:
    """Import a queued upload (in a background thread of the web app, or from the
    command line); returns the batch's status. The batch is claimed first (queued ->
    running, a compare-and-set), so an import started twice runs once. A file whose
    phone column cannot be told waits for the person to pick it (needs_mapping, then
    claim_mapping); any other problem with the file, or more than `max_rows` rows, fails
    the batch with the reason; the stored file is kept either way (until its retention,
    campaigns/uploads.py). The rows are stored chunk by chunk in one transaction."""
    def mark(**values: Any) -> None:
        with db.session() as s:
            s.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(**values))

    with db.session() as s:
        batch = s.get(ImportBatch, batch_id)
        if batch is None:
            raise CampaignError(f"no import {batch_id}")
        campaign = get_campaign(s, batch.campaign_id)
        stored, region, campaign_id = Path(batch.stored_path), campaign.region, campaign.id
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
        text = str(exc)
        needs = isinstance(exc, CsvImportError) and any(h in text for h in MAPPING_HINTS)
        mark(status="needs_mapping" if needs else "failed", progress=0.0, message=text,
             phone_column=None)
        return "needs_mapping" if needs else "failed"
    mark(progress=0.3, phone_column=calls.phone_column)
    try:
        with db.session() as s:
            _import(s, campaign_id, calls, stored, batch_id=batch_id, keep_errors=False)
    except Exception as exc:
        # The transaction is rolled back: say so, rather than leave it "running".
        mark(status="failed", progress=0.0, message=f"the import stopped ({exc}); nothing of "
             "it was stored; upload the file again")
        if isinstance(exc, CsvImportError):
            return "failed"
        raise
    mark(status="done", progress=1.0)
    return "done"


def _import(s: Session, campaign_id: int, calls: CallList, stored: Path,
            batch_id: int | None = None, keep_errors: bool = True) -> ImportSummary:
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
                errors.append({"row": c.row, "value": c.phone, "reason":
                               f"{c.phone} is already in this campaign", "raw": c.fields})
                continue
            if c.phone in on_dnc:
                errors.append({"row": c.row, "value": c.phone, "reason":
                               f"{c.phone} is on a do-not-call list", "raw": c.fields})
                continue
            existing.add(c.phone)
            rows.append({"campaign_id": campaign_id, "phone": c.phone, "fields": c.fields,
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


def get_campaign(s: Session, campaign_id: int) -> Campaign:
    campaign = s.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"no campaign with id {campaign_id}; see `dialer campaign list`")
    return campaign


# What each state may become. Paused keeps the queue (claims stop, calls in progress end
# normally); stopped is final: what was not dialed is never dialed.
TRANSITIONS: dict[str, dict[str, str]] = {
    CampaignStatus.DRAFT: {"start": CampaignStatus.RUNNING, "stop": CampaignStatus.STOPPED},
    CampaignStatus.RUNNING: {"pause": CampaignStatus.PAUSED, "stop": CampaignStatus.STOPPED,
                             "finish": CampaignStatus.FINISHED},
    CampaignStatus.PAUSED: {"resume": CampaignStatus.RUNNING, "stop": CampaignStatus.STOPPED},
    CampaignStatus.STOPPED: {},
    CampaignStatus.FINISHED: {},
}


def next_status(current: str, action: str) -> str:
    """The state `action` leads to from `current`, or a CampaignError naming what is
    possible."""
    allowed = TRANSITIONS.get(current, {})
    if action not in allowed:
        can = ", ".join(sorted(allowed)) or "nothing (it is final)"
        raise CampaignError(f"a {current} campaign cannot {action}; it can: {can}")
    return allowed[action]


def change_status(db: Database, campaign_id: int, action: str) -> str:
    """Apply start/pause/resume/stop (checked, atomic: a concurrent change loses)."""
    with db.session() as s:
        c = get_campaign(s, campaign_id)
        current = c.status
        target = next_status(current, action)
        values: dict[str, Any] = {"status": target}
        if target == CampaignStatus.RUNNING and c.started_at is None:
            values["started_at"] = utcnow()
        if target in (CampaignStatus.STOPPED, CampaignStatus.FINISHED):
            values["finished_at"] = utcnow()
        won = s.execute(update(Campaign).where(Campaign.id == campaign_id,
                                               Campaign.status == current).values(**values))
        if won.rowcount != 1:  # type: ignore[attr-defined]
            raise CampaignError(f"campaign {campaign_id} changed meanwhile; look again")
        return target


def start_campaign(db: Database, campaign_id: int) -> None:
    with db.session() as s:
        status = get_campaign(s, campaign_id).status
    change_status(db, campaign_id, "resume" if status == CampaignStatus.PAUSED else "start")


def list_campaigns(db: Database, rehearsals: bool = True) -> list[dict[str, Any]]:
    """Every campaign; `rehearsals=False` leaves out dry-runs made to rehearse another
    (they are listed on their campaign's dry-run page)."""
    query = select(Campaign, func.count(Contact.id)).outerjoin(Contact)
    if not rehearsals:
        query = query.where(Campaign.rehearsal_of.is_(None))
    with db.session() as s:
        rows = s.execute(query.group_by(Campaign.id).order_by(Campaign.id)).all()
        return [{"id": c.id, "name": c.name, "status": c.status, "contacts": n,
                 "script_dir": c.script_dir, "created_at": c.created_at.isoformat(),
                 "rehearsal_of": c.rehearsal_of}
                for c, n in rows]


# -- dispatching ---------------------------------------------------------------------

def claim_due(db: Database, now: datetime | None = None, limit: int = 50,
              period_s: float = 2.0, fallback_zone: str = "Asia/Seoul",
              sandbox: bool = False, only_campaign: int | None = None) -> list[int]:
    """Turn due contacts of running campaigns into queued attempts; return attempt ids.

    The claim is a compare-and-set (`UPDATE ... WHERE status='pending'`), so two
    dispatchers on two hosts can never both take one contact; the unique
    (contact_id, attempt_no) key is a second lock on the same door. Numbers on a DNC
    list are closed as `blocked` without a call; contacts outside their call window
    (in their own time zone; `fallback_zone` when the number tells none) wait for it;
    at most `max_cps * period_s` calls are claimed per campaign and call.

    A production dispatcher (`sandbox` False) never claims a dry-run's contacts: those
    are simulated customers, called with no call window, and only a sandbox worker (a
    private broker and a loopback simulator, dialer.rehearsal) may dial them; a sandbox
    dispatcher claims nothing else, and `only_campaign` binds it to its one rehearsal.
    """
    now = now or utcnow()
    fallback = fallback_zone
    claimed: list[int] = []
    with db.session() as s:
        which = select(Campaign).where(Campaign.status == CampaignStatus.RUNNING,
                                       Campaign.dry_run == sandbox)
        if only_campaign is not None:
            which = which.where(Campaign.id == only_campaign)
        campaigns = s.scalars(which)
        for campaign in campaigns.all():
            active = s.scalar(select(func.count(CallAttempt.id)).where(
                CallAttempt.campaign_id == campaign.id,
                CallAttempt.status.in_(ACTIVE_ATTEMPTS))) or 0
            # Pacing: at most max_cps new calls a second of the dispatch period.
            paced = max(1, int(campaign.max_cps * period_s))
            free = min(campaign.max_concurrent - active, limit - len(claimed), paced)
            if free <= 0:
                continue
            window = campaign_window(campaign)
            due = s.execute(select(Contact.id, Contact.phone, Contact.timezones).where(
                Contact.campaign_id == campaign.id, Contact.status == ContactStatus.PENDING,
                Contact.next_attempt_at <= now).order_by(Contact.next_attempt_at, Contact.id)
                .limit(free * 4)
                # PostgreSQL: dispatchers on other hosts skip the rows this one is taking
                # instead of queueing behind them (SQLite has one writer anyway).
                .with_for_update(skip_locked=True, of=Contact)).all()
            on_dnc = dnc.blocked_among(s, [d.phone for d in due], campaign.id)
            taken = 0
            for contact_id, phone, zones in due:
                if taken >= free:
                    break
                if phone in on_dnc:  # never dialed; the contact is done
                    s.execute(update(Contact).where(
                        Contact.id == contact_id, Contact.status == ContactStatus.PENDING)
                        .values(status=ContactStatus.DONE,
                                last_disposition=Disposition.BLOCKED))
                    continue
                when = now if campaign.dry_run else \
                    next_call_time(now, _zones(zones), window, fallback)
                if when != now:  # outside their window: due again when it opens
                    s.execute(update(Contact).where(
                        Contact.id == contact_id, Contact.status == ContactStatus.PENDING)
                        .values(**({"next_attempt_at": when} if when else
                                   {"status": ContactStatus.DONE,
                                    "last_disposition": "schedule_ended"})))
                    continue
                won = s.execute(update(Contact).where(
                    Contact.id == contact_id, Contact.status == ContactStatus.PENDING)
                    .values(status=ContactStatus.CLAIMED, attempts=Contact.attempts + 1))
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                taken += 1
                attempt_no = s.scalar(select(Contact.attempts).where(Contact.id == contact_id))
                attempt = CallAttempt(campaign_id=campaign.id, contact_id=contact_id,
                                      attempt_no=attempt_no)
                try:
                    with s.begin_nested():
                        s.add(attempt)
                except IntegrityError:
                    continue
                claimed.append(attempt.id)
    return claimed


def campaign_window(c: Campaign) -> CallWindow:
    return CallWindow.parse(c.window_start or "09:00", c.window_end or "20:00",
                            c.first_day, c.last_day)


def _zones(text: str | None) -> tuple[str, ...]:
    return tuple(z for z in (text or "").split(",") if z)


def dial_check(db: Database, attempt_id: int, now: datetime | None = None,
               fallback_zone: str = "Asia/Seoul", sandbox: bool = False) -> str | None:
    """Just before dialing: None if the call may go, else why not. A number put on a DNC
    list while its call waited is closed as `blocked`; one whose window shut meanwhile is
    given back, due when it opens. A dry-run's attempt reaching a production worker (or
    a real campaign's reaching a sandbox worker) is given back undialed: the window is
    skipped only for simulated customers, and only a sandbox worker calls them."""
    now = now or utcnow()
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None or a.status != AttemptStatus.QUEUED:
            return None
        campaign, contact = s.get(Campaign, a.campaign_id), a.contact
        assert campaign is not None
        if bool(campaign.dry_run) != sandbox:
            contact.status = ContactStatus.PENDING
            contact.attempts = max(0, contact.attempts - 1)
            s.delete(a)
            return ("refused: a dry-run is dialed only by its rehearsal's sandbox worker"
                    if campaign.dry_run else
                    "refused: a sandbox worker dials dry-runs only, never a real campaign")
        entry = dnc.blocked(s, contact.phone, campaign.id)
        if entry is not None:
            a.status, a.disposition, a.ended_at = (AttemptStatus.COMPLETED,
                                                   Disposition.BLOCKED, now)
            a.reason = f"on the {entry.scope} do-not-call list ({entry.source}); not dialed"
            contact.status, contact.last_disposition = ContactStatus.DONE, Disposition.BLOCKED
            return a.reason
        when = now if campaign.dry_run else next_call_time(
            now, _zones(contact.timezones), campaign_window(campaign), fallback_zone)
        if when != now:
            contact.status = ContactStatus.PENDING if when else ContactStatus.DONE
            contact.attempts = max(0, contact.attempts - 1)
            if when:
                contact.next_attempt_at = when
            s.delete(a)
            return f"outside the call window; due again at {when}" if when \
                else "the campaign's last day has passed"
    return None


def stale_queued(db: Database, older_than_s: float = 60.0, sandbox: bool = False,
                 only_campaign: int | None = None) -> list[int]:
    """Attempts claimed but never started (lost message); safe to send again because
    begin_attempt lets only one delivery through. Only the kind this dispatcher claims
    (a dry-run's, or a real campaign's: see claim_due)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    query = (select(CallAttempt.id).join(Campaign, Campaign.id == CallAttempt.campaign_id)
             .where(CallAttempt.status == AttemptStatus.QUEUED, CallAttempt.created_at < cutoff,
                    Campaign.dry_run == sandbox))
    if only_campaign is not None:
        query = query.where(Campaign.id == only_campaign)
    with db.session() as s:
        return list(s.scalars(query))


def worker_name() -> str:
    """This process as call_attempt.worker names it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def begin_attempt(db: Database, attempt_id: int, uri: str | None = None) -> bool:
    """Move a queued attempt to dialing; False if someone else already did (redelivery)."""
    now = utcnow()
    with db.session() as s:
        won = s.execute(update(CallAttempt).where(
            CallAttempt.id == attempt_id, CallAttempt.status == AttemptStatus.QUEUED)
            .values(status=AttemptStatus.DIALING, dialed_at=now, heartbeat_at=now,
                    sip_uri=uri, worker=worker_name()))
        return won.rowcount == 1  # type: ignore[attr-defined]


def release_attempt(db: Database, attempt_id: int) -> bool:
    """Give a queued attempt back (campaign paused before it was dialed): the contact is
    due again and the attempt never counted."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None or a.status != AttemptStatus.QUEUED:
            return False
        a.contact.status = ContactStatus.PENDING
        a.contact.attempts = max(0, a.contact.attempts - 1)
        s.delete(a)
        return True


def attempt_context(db: Database, attempt_id: int) -> dict[str, Any]:
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None:
            raise CampaignError(f"no call attempt {attempt_id}")
        c, camp = a.contact, s.get(Campaign, a.campaign_id)
        assert camp is not None
        return {"attempt_id": a.id, "campaign_id": camp.id, "campaign_status": camp.status,
                "attempt_status": a.status,
                "script_dir": camp.script_dir, "language": camp.language,
                "ring_timeout_s": camp.ring_timeout_s, "caller_id": camp.caller_id,
                "voice": camp.voice, "trunk": camp.trunk, "dry_run": bool(camp.dry_run),
                "phone": c.phone, "fields": dict(c.fields), "attempt_no": a.attempt_no}


def handoff_context(db: Database, attempt_id: int,
                    fallback_zone: str = "Asia/Seoul") -> dict[str, Any]:
    """What a handed-off call's screen pop shows and how its queue is chosen: the
    campaign, the contact, the callee's zone, the agent who last spoke to this contact."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None:
            raise CampaignError(f"no call attempt {attempt_id}")
        camp, contact = s.get(Campaign, a.campaign_id), a.contact
        assert camp is not None
        last_agent = s.scalar(
            select(CallAttempt.agent).join(Contact, Contact.id == CallAttempt.contact_id)
            .where(Contact.phone == contact.phone, CallAttempt.agent.is_not(None),
                   CallAttempt.id != attempt_id)
            .order_by(CallAttempt.id.desc()).limit(1))
        zones = _zones(contact.timezones)
        return {"queue": f"campaign-{camp.id}", "prefer": last_agent,
                "timezone": zones[0] if zones else fallback_zone,
                "info": {"attempt_id": a.id, "campaign_id": camp.id, "campaign": camp.name,
                         "phone": contact.phone, "fields": dict(contact.fields),
                         "attempt_no": a.attempt_no}}


def callback_time(db: Database, attempt_id: int, at: datetime,
                  fallback_zone: str = "Asia/Seoul") -> datetime:
    """The first moment from `at` the campaign may call this contact again (its window
    in the callee's zones); `at` itself for dry-runs or when the schedule has ended."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None:
            raise CampaignError(f"no call attempt {attempt_id}")
        camp = s.get(Campaign, a.campaign_id)
        assert camp is not None
        if camp.dry_run:
            return at
        when = next_call_time(at, _zones(a.contact.timezones), campaign_window(camp),
                              fallback_zone)
        return when or at


# What an agent may record after a handed-off call (the console's disposition form).
AGENT_OUTCOMES = ("resolved", "interested", "not_interested", "callback", "complaint",
                  "wrong_number", "opt_out")


def save_agent_disposition(db: Database, attempt_id: int, agent: str, outcome: str,
                           notes: str = "", callback_at: datetime | None = None) -> None:
    """The agent's form after the call: their outcome and notes; a callback they agreed
    with the customer schedules the contact; an opt-out puts the number on the DNC list."""
    if outcome not in AGENT_OUTCOMES:
        raise CampaignError(f"outcome {outcome!r}: one of {', '.join(AGENT_OUTCOMES)}")
    if (outcome == "callback") != (callback_at is not None):
        raise CampaignError("a callback needs its time, and only a callback has one")
    if callback_at is not None and callback_at <= utcnow():
        raise CampaignError("the callback time has passed; pick a later one")
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None:
            raise CampaignError(f"no call attempt {attempt_id}")
        if a.agent != agent:
            raise CampaignError(f"call {attempt_id} was not taken by {agent}")
        a.agent_disposition, a.agent_notes = outcome, (notes or "").strip()[:4000] or None
        contact = a.contact
        if callback_at is not None:
            a.callback_at = callback_at
            contact.status, contact.next_attempt_at = ContactStatus.PENDING, callback_at
        if outcome == "opt_out":
            dnc.add(s, contact.phone, source="agent",
                    reason=f"asked agent {agent} in call attempt {attempt_id}",
                    added_by=agent)


def mark_answered(db: Database, attempt_id: int) -> None:
    with db.session() as s:
        # Only a call not yet ended: one closed meanwhile (campaigns.leases) stays closed.
        now = utcnow()
        s.execute(update(CallAttempt).where(
            CallAttempt.id == attempt_id,
            CallAttempt.status.in_((AttemptStatus.QUEUED, AttemptStatus.DIALING)))
                  .values(status=AttemptStatus.ANSWERED, answered_at=now, heartbeat_at=now))


def save_turn(db: Database, attempt_id: int, turn: Any) -> None:
    """Insert or update one turn (the customer turn gets its latency after the reply)."""
    values = {k: getattr(turn, k) for k in (
        "speaker", "node", "text", "intent", "confidence", "asr_confidence", "latency_ms",
        "asr_ms", "nlu_ms", "offset_ms", "duration_ms", "processing_ms", "tts_ms",
        "interrupted")}
    values.update({k: getattr(turn, k, None) for k in ("confirmation", "commits")})
    with db.session() as s:
        row = s.scalar(select(Turn).where(Turn.attempt_id == attempt_id, Turn.seq == turn.seq))
        if row is None:
            s.add(Turn(attempt_id=attempt_id, seq=turn.seq, **values))
        else:
            for k, v in values.items():
                setattr(row, k, v)
        if values["speaker"] == "customer" and values["commits"] == OPT_OUT_INTENT:
            # The moment the robot takes the opt-out (a key, a confident reply, or a
            # confirmed one), not when the call ends; a reply it only asked about is not.
            a = s.get(CallAttempt, attempt_id)
            if a is not None:
                by_key = str(values["text"] or "").startswith("DTMF")
                dnc.add(s, a.contact.phone, source="dtmf" if by_key else "opt_out",
                        reason=f"said {values['text']!r} in call attempt {attempt_id}",
                        added_by=f"campaign {a.campaign_id}")


HANDOFF_FIELDS = ("handoff_result", "agent", "handoff_at", "agent_ringing_at",
                  "agent_connected_at", "callback_at")


def finish_attempt(db: Database, attempt_id: int, *, disposition: str,
                   sip_status: int | None, sip_reason: str | None, reason: str | None,
                   handoff: bool, end_node: str | None, recording: str | None,
                   error: str | None = None, slots: dict[str, str] | None = None,
                   handoff_info: dict[str, Any] | None = None) -> None:
    """Store the outcome and decide the contact's future (done, a retry later, or the
    callback the robot promised when no agent came)."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        assert a is not None
        # Closed meanwhile as interrupted (this process's lease went stale: a long pause
        # or a partition): the call went on after all, so its record says how it ended,
        # but a newer attempt may own the contact now and must not be overruled.
        reaped = a.status in (AttemptStatus.COMPLETED, AttemptStatus.FAILED)
        if reaped:
            reason = f"{reason or disposition} (the call went on after it was closed as " \
                     f"interrupted: {a.reason})"
        a.status = AttemptStatus.FAILED if error else AttemptStatus.COMPLETED
        a.disposition, a.sip_status, a.sip_reason = disposition, sip_status, sip_reason
        a.reason, a.handoff, a.end_node = reason, handoff, end_node
        a.slots = slots or None
        a.recording_path, a.error, a.ended_at = recording, error, utcnow()
        for key, value in (handoff_info or {}).items():
            if key in HANDOFF_FIELDS:
                setattr(a, key, value)
        if not reaped or a.contact.status == ContactStatus.PENDING:
            plan_next(s, a, disposition)


def plan_next(s: Session, a: CallAttempt, disposition: str) -> None:
    """The contact's future after attempt `a` ended with `disposition`: done, a retry
    later, or the callback the robot promised when no agent came."""
    contact, campaign = a.contact, s.get(Campaign, a.campaign_id)
    assert campaign is not None
    contact.last_disposition = disposition
    if a.callback_at is not None and not campaign.dry_run:
        # Promised to the customer: kept whatever the attempt limit. (A dry-run's
        # simulated customers are not called back: it rehearses one pass.)
        contact.status = ContactStatus.PENDING
        contact.next_attempt_at = a.callback_at
    elif disposition in RETRYABLE_DISPOSITIONS and (
            contact.attempts < campaign.max_attempts
            or (disposition == Disposition.INTERRUPTED and _interruptions(s, contact.id)
                <= MAX_INTERRUPTIONS)):
        # An interruption is the dialer's failure, not the contact's answer: it does not
        # use up their attempts, up to MAX_INTERRUPTIONS (a number whose call keeps
        # killing its process must not take the workers down for ever).
        delays = campaign.retry_delays or {}
        contact.status = ContactStatus.PENDING
        contact.next_attempt_at = utcnow() + timedelta(seconds=_retry_delay(
            delays.get(disposition), campaign.retry_delay_s))
    else:
        contact.status = ContactStatus.DONE


def _interruptions(s: Session, contact_id: int) -> int:
    return s.scalar(select(func.count(CallAttempt.id)).where(
        CallAttempt.contact_id == contact_id,
        CallAttempt.disposition == Disposition.INTERRUPTED)) or 0


def _retry_delay(value: object, default: int) -> int:
    """A stored delay, bounded: a row written before the bounds were checked must not
    keep the attempt from closing."""
    for candidate in (value, default, 600):
        try:
            seconds = int(candidate)  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            continue
        return max(0, min(seconds, MAX_RETRY_DELAY_S))
    return 600


def finish_campaigns(db: Database) -> list[int]:
    """Running campaigns with nothing left to dial or in progress become finished."""
    done = []
    with db.session() as s:
        for c in s.scalars(select(Campaign).where(Campaign.status == CampaignStatus.RUNNING)):
            open_contacts = s.scalar(select(func.count(Contact.id)).where(
                Contact.campaign_id == c.id, Contact.status != ContactStatus.DONE)) or 0
            if open_contacts == 0:
                c.status, c.finished_at = CampaignStatus.FINISHED, utcnow()
                done.append(c.id)
    return done


def progress(db: Database, campaign_id: int) -> dict[str, Any]:
    with db.session() as s:
        c = get_campaign(s, campaign_id)
        by_status = dict(s.execute(select(Contact.status, func.count()).where(
            Contact.campaign_id == campaign_id).group_by(Contact.status)).all())
        total = sum(by_status.values())
        return {"status": c.status, "total": total,
                "done": by_status.get(ContactStatus.DONE, 0),
                "in_progress": by_status.get(ContactStatus.CLAIMED, 0)}


def schedule_options(window: str, first_day: str | None, last_day: str | None,
                    max_cps: float, retry: list[str], dry_run: bool) -> dict[str, Any]:
    """A campaign's schedule options from what a person typed (command line or web form),
    checked: a window the law does not allow is refused, and so on."""
    def day(text: str | None, what: str) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError:
            raise CampaignError(f"{what} {text!r} must be YYYY-MM-DD") from None

    start, sep, end = window.partition("-")
    if not sep:
        raise CampaignError(f"--window {window!r} must be HH:MM-HH:MM, e.g. 09:00-20:00")
    try:
        w = CallWindow.parse(start, end, day(first_day, "--first-day"),
                             day(last_day, "--last-day"))
    except WindowError as exc:
        raise CampaignError(str(exc)) from None
    if not 0 < max_cps <= 100:
        raise CampaignError(f"--max-cps {max_cps} must be above 0 and at most 100")
    delays: dict[str, int] = {}
    for item in retry:
        name, sep, seconds = item.partition("=")
        if not sep or not seconds.strip().isdigit() or len(seconds.strip()) > 12:
            raise CampaignError(f"--retry {item!r} must be DISPOSITION=SECONDS, e.g. busy=300")
        if name not in RETRYABLE_DISPOSITIONS:
            raise CampaignError(f"--retry {name!r}: only {', '.join(sorted(RETRYABLE_DISPOSITIONS))}"
                                " are retried")
        delays[name] = int(seconds)
    delays = check_retry_delays(delays) or {}
    return {"window_start": f"{w.start:%H:%M}", "window_end": f"{w.end:%H:%M}",
            "first_day": w.first_day, "last_day": w.last_day, "max_cps": max_cps,
            "retry_delays": delays or None, "dry_run": dry_run}


# -- import results ----------------------------------------------------------------------

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
            raise CampaignError(f"no import {batch_id}")
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
