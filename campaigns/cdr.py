"""Call detail records (CDRs, 话单): one row per call attempt with the standard columns,
read from the database in chunks and written as CSV (streamed) or XLSX (openpyxl's
write-only workbook, so memory stays flat however many calls), and the audit log of who
exported what.

Times are to the millisecond, in the export's time zone (`tz`, an IANA name): ISO 8601
with the zone's offset in CSV (`Z` for UTC), real date cells in XLSX; every time column
names its zone in the header ("start (Asia/Seoul)"), except in UTC, whose files are as
they always were (plain "start", `Z`). Date filters are whole days of that zone.
A call starts when it was dialed, or when its attempt was made if it never was (closed
as blocked, still queued); `duration_s` runs from start to end, `billable_s` from the
answer to the end in whole seconds rounded up (0 when nobody answered).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from campaigns.db import Database
from campaigns.list_imports import safe_cell
from campaigns.models import AuditEntry, CallAttempt, Campaign, Contact
from campaigns.privacy import mask_phone, phone_suffix, scrub
from campaigns.queries.calls import CallSearch
from campaigns.refusals import Refusal
from campaigns.statuses import Disposition

CDR_COLUMNS: tuple[str, ...] = (
    "call_id", "campaign", "caller_id", "callee", "start", "answer", "end", "duration_s",
    "billable_s", "sip_status", "sip_reason", "disposition", "handoff", "agent",
    "agent_disposition", "audio_codec",
)
# What each column holds, for the export page and anyone reading a file.
CDR_DEFINITIONS: dict[str, str] = {
    "call_id": "the call attempt's number (the same in the call explorer and the API)",
    "campaign": "the campaign's name",
    "caller_id": "the number the campaign calls from (empty: the trunk's default)",
    "callee": "the customer's number, E.164 (analysts see only its last four digits)",
    "start": "when the call was dialed (in the zone its header names; UTC if none); for "
             "a call never dialed, when it was queued",
    "answer": "when the callee answered (same zone); empty if nobody did",
    "end": "when the call ended (same zone); empty while it is under way",
    "duration_s": "seconds from start to end, to the millisecond",
    "billable_s": "seconds from answer to end, whole seconds rounded up; 0 if unanswered",
    "sip_status": "the final SIP status code (200, 486 busy, 480, ...)",
    "sip_reason": "the SIP reason phrase with it",
    "disposition": "how the call ended (interested, busy, no_answer, handoff, ...)",
    "handoff": "no, or what became of the handoff to a person (connected, abandoned, "
               "failed; yes while undecided)",
    "agent": "the agent who took the handed-off call",
    "agent_disposition": "the agent's own disposition of the call",
    "audio_codec": "the audio codec of the call's line, as negotiated: PCMU/8000 and "
                   "PCMA/8000 are G.711 (8 kHz, telephone band: the recogniser understands "
                   "less), G722/16000 is G.722 (16 kHz); empty if no audio flowed",
}
TIME_COLUMNS = frozenset({"start", "answer", "end"})
XLSX_MAX_ROWS = 1_048_575  # Excel's limit is 1,048,576 rows, the header is one
CHUNK_ROWS = 1000
LONGEST_WORDS = 100  # an intent's or a name's filter
CdrRow = dict[str, Any]


class CdrError(Refusal, ValueError):
    """A filter or an export that cannot be done, with what to do instead."""


@dataclass(frozen=True)
class CdrFilter:
    """Which calls to export; every field left empty does not filter."""

    campaign_ids: tuple[int, ...] = ()
    start: datetime | None = None  # calls starting at or after this
    end: datetime | None = None  # calls starting before this
    disposition: str | None = None
    phone: str | None = None  # digits the callee's number ends with
    tz: str = "UTC"  # the zone of the days filtered on and of the times written
    intent: str | None = None  # the customer said it at least once
    name: str | None = None  # the contact's name, whole or its beginning

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, as JSON (for the audit log)."""
        out: dict[str, Any] = {}
        if self.campaign_ids:
            out["campaign_ids"] = list(self.campaign_ids)
        if self.start is not None:
            out["start"] = iso(self.start)
        if self.end is not None:
            out["end"] = iso(self.end)
        if self.disposition:
            out["disposition"] = self.disposition
        if self.phone:
            out["phone"] = self.phone
        if self.tz != "UTC":
            out["tz"] = self.tz
        out.update({k: v for k, v in (("intent", self.intent), ("name", self.name)) if v})
        return out


def parse_when(text: str, *, end: bool = False, tz: str = "UTC") -> datetime | None:
    """A filter's bound: `2026-11-02` is a whole day of zone `tz` (its first moment, or
    for `end` the next day's, so the end day is included); `2026-11-02T09:30` (in `tz`)
    or with an offset (`+09:00`, `Z`) is that moment. Empty: no bound."""
    text = text.strip()
    if not text:
        return None
    where = ZoneInfo(tz)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time(), where)
        else:
            moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=where) if moment.tzinfo is None else moment
        return moment.astimezone(UTC)
    except ValueError:
        raise CdrError("{given!r} is not a date (YYYY-MM-DD) or a date and time "
                       "(YYYY-MM-DDTHH:MM, {tz} unless an offset follows)",
                       given=text[:40], tz=tz) from None


def make_filter(campaign_ids: Iterable[int] = (), start: str = "", end: str = "",
                disposition: str = "", phone: str = "", tz: str = "UTC", intent: str = "",
                name: str = "") -> CdrFilter:
    """A filter from what a person typed, its days and times in zone `tz` (an IANA name
    checked by the caller); CdrError says what is wrong."""
    lo, hi = parse_when(start, tz=tz), parse_when(end, end=True, tz=tz)
    if lo is not None and hi is not None and hi <= lo:
        raise CdrError("the end ({end}) must come after the start ({start})",
                       end=end, start=start)
    try:
        wanted = Disposition.parse(disposition)
    except ValueError as exc:
        raise CdrError.again(exc) from None
    ids = tuple(sorted(set(campaign_ids)))
    # Checked here, before an export starts streaming: a database error after the 200
    # went out would cut the file off with no word of why.
    if any(not 1 <= i < 2**63 for i in ids) or len(ids) > 1000:
        raise CdrError("campaign ids are whole numbers from 1 to 2^63-1, at most 1000")
    if len(intent) > LONGEST_WORDS or len(name) > LONGEST_WORDS:
        raise CdrError("an intent or a name has at most {n} characters", n=LONGEST_WORDS)
    return CdrFilter(campaign_ids=ids, start=lo, end=hi, disposition=wanted,
                     phone=phone_suffix(phone), tz=tz, intent=intent.strip() or None,
                     name=name.strip() or None)


def cdr_query(f: CdrFilter) -> Select[*tuple[Any, ...]]:
    """The calls of the filter, as the call explorer finds them (the same start time,
    intent and name; a call still queued is not one yet), oldest first."""
    q = (select(CallAttempt.id, Campaign.name, Campaign.caller_id, Contact.phone,
                CallAttempt.dialed_at, CallAttempt.created_at, CallAttempt.answered_at,
                CallAttempt.ended_at, CallAttempt.sip_status, CallAttempt.sip_reason,
                CallAttempt.disposition, CallAttempt.handoff, CallAttempt.handoff_result,
                CallAttempt.agent, CallAttempt.agent_disposition, CallAttempt.codec)
         .join(Campaign, Campaign.id == CallAttempt.campaign_id)
         .join(Contact, Contact.id == CallAttempt.contact_id)
         .order_by(CallAttempt.id))
    if f.campaign_ids:
        q = q.where(CallAttempt.campaign_id.in_(f.campaign_ids))
    q = q.where(*CallSearch(
        disposition=f.disposition, intent=f.intent, name=f.name,
        start=None if f.start is None else f.start.astimezone(UTC),
        end=None if f.end is None else f.end.astimezone(UTC)).where())
    if f.phone:
        q = q.where(Contact.phone.endswith(f.phone, autoescape=True))
    return q


def iter_cdr(db: Database, f: CdrFilter | None = None, *, mask: bool = False,
             chunk: int = CHUNK_ROWS) -> Iterator[CdrRow]:
    """Every call matching `f` as a CDR row (keys: CDR_COLUMNS), oldest call first,
    fetched `chunk` rows at a time (a server-side cursor on PostgreSQL). `mask` hides
    all but the callee's last four digits, in the SIP reason too (campaigns.privacy)."""
    q = cdr_query(f or CdrFilter()).execution_options(yield_per=chunk, stream_results=True)
    with db.session() as s:
        for r in s.execute(q):
            yield cdr_row(r, mask)


def cdr_row(r: Any, mask: bool = False) -> CdrRow:
    start = _utc_ms(r.dialed_at or r.created_at)
    answer, end = _utc_ms(r.answered_at), _utc_ms(r.ended_at)
    duration = (round((end - start) / timedelta(seconds=1), 3)
                if start is not None and end is not None else None)
    billable = 0
    if answer is not None and end is not None and end > answer:
        billable = -((answer - end) // timedelta(seconds=1))  # whole seconds, rounded up
    return {"call_id": r.id, "campaign": r.name, "caller_id": r.caller_id,
            "callee": mask_phone(r.phone) if mask else r.phone,
            "start": start, "answer": answer, "end": end, "duration_s": duration,
            "billable_s": billable, "sip_status": r.sip_status,
            # the far end writes what it likes in its reason phrase, numbers included
            "sip_reason": scrub(r.sip_reason) if mask and r.sip_reason else r.sip_reason,
            "disposition": r.disposition,
            "handoff": r.handoff_result or ("yes" if r.handoff else "no"),
            "agent": r.agent, "agent_disposition": r.agent_disposition,
            "audio_codec": r.codec}


def _utc_ms(moment: datetime | None) -> datetime | None:
    """UTC (SQLite gives back naive datetimes, stored as UTC), cut to the millisecond:
    what CSV shows and what an XLSX date cell holds exactly."""
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime, tz: str = "UTC") -> str:
    """2026-11-02T10:00:05.250Z in UTC, 2026-11-02T19:00:05.250+09:00 in Asia/Seoul."""
    if tz == "UTC":
        moment = moment.astimezone(UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    moment = moment.astimezone(ZoneInfo(tz))
    offset = moment.strftime("%z")
    return (f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}"
            f"{offset[:3]}:{offset[3:5]}")


def cdr_header(tz: str = "UTC") -> list[str]:
    """The column names, each time column naming its zone ("start (Asia/Seoul)"); plain
    in UTC, as the files always were."""
    return [f"{c} ({tz})" if c in TIME_COLUMNS and tz != "UTC" else c for c in CDR_COLUMNS]


# -- CSV -------------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def csv_cell(value: Any, tz: str = "UTC") -> str:
    """A value as CSV text: times in ISO 8601 in zone `tz`; text that a spreadsheet would run as
    a formula (=, +, -, @ first) gets a leading apostrophe, except a plain number such
    as +821012345678, which runs nothing and stays as it is for programs reading it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso(value, tz)
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return text if _PLAIN_NUMBER.fullmatch(text) else safe_cell(text)


def write_csv(rows: Iterable[CdrRow], chunk_rows: int = 500,
              tz: str = "UTC") -> Iterator[bytes]:
    """The CDRs as UTF-8 CSV with a BOM (so Excel reads Korean and Chinese right), in
    chunks of `chunk_rows` rows: the header first, then as the rows come; times in
    zone `tz`."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(cdr_header(tz))
    yield ("\ufeff" + buf.getvalue()).encode()
    buf.seek(0)
    buf.truncate()
    pending = 0
    for row in rows:
        out.writerow([csv_cell(row[c], tz) for c in CDR_COLUMNS])
        pending += 1
        if pending >= chunk_rows:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
            pending = 0
    if pending:
        yield buf.getvalue().encode()


# -- XLSX ------------------------------------------------------------------------------

_WIDTHS = {"call_id": 10, "campaign": 24, "caller_id": 16, "callee": 17, "start": 21,
           "answer": 21, "end": 21, "duration_s": 11, "billable_s": 11, "sip_status": 10,
           "sip_reason": 22, "disposition": 15, "handoff": 11, "agent": 14,
           "agent_disposition": 18, "audio_codec": 12}
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_FORMULA_START = ("=", "+", "-", "@")


def write_xlsx(rows: Iterable[CdrRow], path: Path, *, sheet: str | None = None,
               tz: str = "UTC") -> int:
    """Write the CDRs to an XLSX file with openpyxl's write-only workbook (rows go to
    disk as they come): a bold, frozen header row with filters, column widths, date
    cells for the times (in zone `tz`, which the header names), number cells for the numbers, and text kept as text
    (a name like `=SUM(A1)` is a string cell, never a formula). Returns the row count;
    CdrError above Excel's row limit."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    where = ZoneInfo(tz)
    # a sheet's name is at most 31 characters, without "/"
    ws = wb.create_sheet(sheet or ("CDR (UTC)" if tz == "UTC" else "CDR"))
    ws.freeze_panes = "A2"
    for i, col in enumerate(CDR_COLUMNS, 1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(col, 14)
    bold = Font(bold=True)
    header = []
    for col in cdr_header(tz):
        cell = WriteOnlyCell(ws, value=col)
        cell.font = bold
        header.append(cell)
    ws.append(header)

    def text_cell(value: str) -> Any:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if not value.startswith(_FORMULA_START):
            return value
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # openpyxl would take a leading = for a formula
        cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
        return cell

    n = 0
    for row in rows:
        n += 1
        if n > XLSX_MAX_ROWS:
            raise CdrError("more than {limit:,} calls do not fit in an Excel sheet: "
                           "narrow the filters or export CSV", limit=XLSX_MAX_ROWS)
        out: list[Any] = []
        for col in CDR_COLUMNS:
            value = row[col]
            if value is None:
                out.append(None)
            elif isinstance(value, datetime):
                cell = WriteOnlyCell(ws, value=value.astimezone(where).replace(tzinfo=None))
                cell.number_format = TIME_FORMAT
                out.append(cell)
            elif isinstance(value, int | float):
                out.append(value)
            else:
                out.append(text_cell(str(value)))
        ws.append(out)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(CDR_COLUMNS))}{n + 1}"
    wb.save(path)
    return n


class Counted:
    """Passes rows through and counts them (for the audit log of a streamed export)."""

    def __init__(self, rows: Iterable[CdrRow]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[CdrRow]:
        for row in self.rows:
            self.count += 1
            yield row


# -- the audit log ---------------------------------------------------------------------

def record_audit(db: Database, username: str, role: str, action: str,
                 detail: dict[str, Any]) -> int:
    """Write one audit entry; its id."""
    with db.session() as s:
        entry = AuditEntry(username=username, role=role, action=action, detail=detail)
        s.add(entry)
        s.flush()
        return entry.id


def audit_entries(db: Database, *, username: str | None = None, action: str | None = None,
                  page: int = 1, per_page: int = 100) -> tuple[list[dict[str, Any]], int]:
    """One page of the audit log, newest first, and how many entries match in all."""
    q = select(AuditEntry)
    if username:
        q = q.where(AuditEntry.username == username)
    if action:
        q = q.where(AuditEntry.action == action)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(AuditEntry.id.desc())
                         .offset((max(page, 1) - 1) * per_page).limit(per_page)).all()
        return [{"id": e.id, "at": iso(_utc_ms(e.at) or e.at), "username": e.username,
                 "role": e.role, "action": e.action, "detail": e.detail or {}}
                for e in rows], total
