"""Read an uploaded call list (CSV) into E.164 contacts and per-row rejections.

Pure module: no database, no network. The service layer decides what to store.

Row numbers are spreadsheet row numbers, i.e. what the operator sees in Excel:
the header is row 1 and every CSV record after it is one row, so a quoted cell that
spans several text lines still counts as a single row (text-editor line numbers can
therefore be larger than the row number for later records). Blank lines keep their
row number but are skipped: a record whose cells are all empty (including ",,,") is
neither a contact nor an error and is not counted in ``total_rows``. A record with data
but an empty phone cell is an error ("phone is empty").

Values (and headers) are stripped of surrounding whitespace; ``RowError.value`` and
``raw`` hold those stripped strings. Columns whose header is empty and whose cells are
all empty (trailing delimiters from Excel) are dropped since they carry nothing.

A list is read from disk twice and never held (campaigns/import_text.py): once for its
header, its size and a sample of each column (campaigns/import_columns.py, which also
finds the phone column), once to yield contacts and rejections in chunks
(``CallList.chunks``) that the service stores as they come, their numbers normalised on
every core for a big list (campaigns/import_phones.py). A list longer than
``max_rows`` is refused whole, naming both numbers; a row longer than MAX_ROW_CHARS is a
rejected row (the stored file keeps it whole); a header longer than MAX_COLUMN_NAME is
refused, since a column name that long is data, not a name.

Speed on the dev box (Python 3.11, phonenumbers 9.0): phonenumbers takes ~18 us per
distinct number (repeats are cached; lists of 100k rows or more are normalised on every
core); reading, stripping and building results adds a few us per row and pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from campaigns.import_columns import column_names, find_phone_column, survey
from campaigns.import_phones import PARALLEL_MIN, normalise_all, process_pool
from campaigns.import_text import (
    DELIMITERS,
    MAX_ROW_CHARS,
    MIXED,
    MIXED_ROW,
    UNREADABLE,
    CsvImportError,
    Record,
    TextFile,
    empty_file,
    open_text,
)
from campaigns.phones import (
    TIMEZONE_COLUMN_ALIASES,
    alias_key,
    check_region,
    list_columns,
    normalize_phone,
)
from campaigns.refusals import Phrase

__all__ = [
    "DELIMITERS", "MAX_COLUMN_NAME", "MAX_ROW_CHARS", "CallList", "CsvImportError",
    "ParsedContact", "ParsedList", "RowError", "normalize_phone", "open_call_list",
    "preview", "read_call_list",
]

MAX_COLUMN_NAME = 200  # characters of a header (import_batch.phone_column holds one)
CELL_KEPT = 2000  # characters of a rejected cell kept in the report (the file is kept whole)
PREVIEW_CHARS = 100  # characters of a cell the column-mapping page shows
CHUNK_ROWS = 100_000  # rows handed to the service at a time...
CHUNK_CHARS = 2_000_000  # ...or fewer, when they hold this many characters


@dataclass(frozen=True, slots=True)
class ParsedContact:
    row: int  # spreadsheet row: header is row 1, first data row is row 2
    phone: str  # E.164, e.g. "+821012345678"
    fields: dict[str, str]  # every other column, in file order; empty cells are ""
    zone: str | None = None  # from the time zone column, when the list has one


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # same numbering as ParsedContact.row
    value: str  # the phone cell as written (stripped)
    reason: str  # a sentence for the operator: a Phrase, so a page can say it in Korean
    raw: dict[str, str]  # the whole row, so nothing is lost


@dataclass
class ParsedList:
    path: Path
    encoding: str
    delimiter: str
    phone_column: str
    columns: list[str]
    total_rows: int  # non-blank data rows; always len(contacts) + len(errors)
    contacts: list[ParsedContact]
    errors: list[RowError]
    timezone_column: str | None = None


@dataclass
class CallList:
    """A list whose header, size and phone column are known (``open_call_list``); its
    rows come from ``chunks``, read from the file again, so no list is ever held whole."""

    text: TextFile
    region: str
    header_row: int
    width: int  # cells in the header: wider rows are errors, narrower ones padded
    keep: list[int]  # which of the header's cells are columns (see the module's docstring)
    columns: list[str]
    phone_column: str
    total_rows: int  # non-blank data rows
    timezone_column: str | None = None

    @property
    def path(self) -> Path:
        return self.text.path

    @property
    def encoding(self) -> str:
        return self.text.encoding

    @property
    def delimiter(self) -> str:
        return self.text.delimiter

    def chunks(self, rows: int = CHUNK_ROWS, chars: int = CHUNK_CHARS
               ) -> Iterator[tuple[list[ParsedContact], list[RowError]]]:
        """Contacts and rejected rows, in row order, a chunk of at most `rows` rows (or
        `chars` characters) at a time; a number is a duplicate across chunks too."""
        from zoneinfo import available_timezones

        seen: dict[str, int] = {}
        zones = available_timezones() if self.timezone_column else set()
        with ExitStack() as stack:
            pool = process_pool(stack) if self.total_rows >= PARALLEL_MIN else None
            batch: list[Record] = []
            size = 0
            for record in self.text.records():
                if record.row <= self.header_row or not any(record.cells):
                    continue
                batch.append(record)
                size += sum(map(len, record.cells))
                if len(batch) >= rows or size >= chars:
                    yield self._validate(batch, seen, zones, pool)
                    batch, size = [], 0
            if batch:
                yield self._validate(batch, seen, zones, pool)

    def _validate(self, batch: list[Record], seen: dict[str, int], zones: set[str],
                  pool: Executor | None) -> tuple[list[ParsedContact], list[RowError]]:
        phone_at = self.columns.index(self.phone_column)
        tz_at = None if self.timezone_column is None else self.columns.index(
            self.timezone_column)
        cells = [[(r.cells[i] if i < len(r.cells) else "") for i in self.keep] for r in batch]
        phones = [row[phone_at] for row in cells]
        # Normalising each distinct value once makes repeated numbers nearly free.
        distinct = list(set(phones))
        outcome = dict(zip(distinct, normalise_all(distinct, self.region, pool)))
        contacts: list[ParsedContact] = []
        errors: list[RowError] = []
        for record, row, value in zip(batch, cells, phones):
            reason = self._row_problem(record, row, tz_at, zones)
            if not reason:
                ok, result = outcome[value]
                if ok and result in seen:
                    ok, result = False, Phrase("duplicate of row {row} ({phone})",
                                               row=seen[result], phone=result)
                if ok and (record.cut or sum(map(len, record.cells)) > MAX_ROW_CHARS):
                    ok, result = False, _too_long(record)
                if ok:
                    seen[result] = record.row
                    fields = {n: v for i, (n, v) in enumerate(zip(self.columns, row))
                              if i != phone_at}
                    zone = (row[tz_at] or None) if tz_at is not None else None
                    contacts.append(ParsedContact(record.row, result, fields, zone))
                    continue
                reason = result
            errors.append(self._error(record, reason))
        return contacts, errors

    def _row_problem(self, record: Record, row: list[str], tz_at: int | None,
                     zones: set[str]) -> str:
        """Why a row is refused before its number is looked at (a Phrase); "" if it is
        not."""
        if any(record.cells[self.width:]):  # trailing empty cells ("a,b,c,,") lose nothing
            shown = Phrase("tab") if self.delimiter == "\t" else repr(self.delimiter)
            return Phrase("has {cells} cells but the header has {width}; put quotes around "
                          "values that contain {shown}", cells=len(record.cells),
                          width=self.width, shown=shown)
        if self.encoding.startswith(MIXED) and any(UNREADABLE in c for c in row):
            # a number with a lost digit would call someone else
            return MIXED_ROW
        if tz_at is not None and row[tz_at] and row[tz_at] not in zones:
            # Calling hours are the law in the callee's zone: a guess is not good enough.
            return Phrase("time zone {zone!r} is not an IANA zone name such as Asia/Seoul "
                          "or America/New_York; correct it or leave it empty to use the "
                          "number's zone", zone=row[tz_at][:100])
        return ""

    def _error(self, record: Record, reason: str) -> RowError:
        """The rejected row as the report keeps it, every cell short (see _clip)."""
        last = len(record.cells) - 1  # the cell an over-long line was cut in

        def clip(i: int) -> str:
            value = record.cells[i] if i < len(record.cells) else ""
            return _clip(value, record.cut if i == last else 0)

        raw = {name: clip(i) for name, i in zip(self.columns, self.keep)}
        if any(record.cells[self.width:]):  # a row too wide keeps its extra cells
            raw.update({f"_extra_{k}": clip(i) for k, i in enumerate(
                range(self.width, len(record.cells)), start=1)})
        phone = self.keep[self.columns.index(self.phone_column)]
        return RowError(record.row, clip(phone), reason, raw)


def open_call_list(path: Path | str, default_region: str = "KR",
                   phone_column: str | None = None, max_rows: int | None = None) -> CallList:
    """Read a list's header and count its rows; file-level problems (and a list of more
    than `max_rows` rows) raise CsvImportError. Rows come from ``CallList.chunks``."""
    path = Path(path)
    region = check_region(default_region)
    text = open_text(path)
    header, total, has_data, samples = survey(text)
    if max_rows is not None and total > max_rows:
        raise CsvImportError("{path}: has {total:,} rows, more than the {most:,} one call "
                             "list may have; split it into lists of at most {most:,} rows and "
                             "upload each to the same campaign", path=str(path), total=total,
                             most=max_rows)
    for i, name in enumerate(header.cells, start=1):
        if len(name) > MAX_COLUMN_NAME:
            raise CsvImportError(
                "{path}: the header of column {column} is {n:,} characters long, more than "
                "the {most} characters a column name may have; shorten it, or add a header "
                "row such as name,phone if the first row is data", path=str(path), column=i,
                n=len(name), most=MAX_COLUMN_NAME)
    names = column_names(header.cells)
    keep = [i for i, h in enumerate(header.cells) if h or has_data[i]]
    columns = [names[i] for i in keep]
    phone = find_phone_column(path, columns, phone_column, region, [samples[i] for i in keep])
    tz_columns = [c for c in columns if c != phone and alias_key(c) in TIMEZONE_COLUMN_ALIASES]
    if len(tz_columns) > 1:
        raise CsvImportError("{path}: several time zone columns ({listed}); keep one and "
                             "upload again", path=str(path), listed=list_columns(tz_columns))
    return CallList(text=text, region=region, header_row=header.row, width=len(header.cells),
                    keep=keep, columns=columns, phone_column=phone, total_rows=total,
                    timezone_column=tz_columns[0] if tz_columns else None)


def read_call_list(path: Path | str, default_region: str = "KR",
                   phone_column: str | None = None) -> ParsedList:
    """Parse a whole call list into memory (the command line's checks and tests; the
    service stores a list chunk by chunk, bounded, from open_call_list): file-level
    problems raise CsvImportError, row problems are kept."""
    calls = open_call_list(path, default_region, phone_column)
    contacts: list[ParsedContact] = []
    errors: list[RowError] = []
    for found, refused in calls.chunks():
        contacts += found
        errors += refused
    return ParsedList(path=calls.path, encoding=calls.encoding, delimiter=calls.delimiter,
                      phone_column=calls.phone_column, columns=calls.columns,
                      total_rows=calls.total_rows, contacts=contacts, errors=errors,
                      timezone_column=calls.timezone_column)


def preview(path: Path | str, rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """The header and the first data rows, as the column-mapping page shows them when
    the phone column cannot be told by itself; cells are cut to PREVIEW_CHARS."""
    path = Path(path)
    header: list[str] | None = None
    data: list[list[str]] = []
    for record in open_text(path).records():
        if not any(record.cells):
            continue
        if header is None:
            header = column_names([_short(c, MAX_COLUMN_NAME) for c in record.cells])
            continue
        data.append([_short(c, PREVIEW_CHARS) for c in record.cells])
        if len(data) >= rows:
            break
    if header is None:
        raise empty_file(path)
    return header, data


def _too_long(record: Record) -> Phrase:
    total = sum(map(len, record.cells)) + record.cut
    return Phrase("the row has {total:,} characters, more than the {most:,} a row may have; "
                  "shorten its cells (a row holds one contact)", total=total, most=MAX_ROW_CHARS)


def _clip(text: str, unread: int = 0) -> str:
    """A rejected cell as the report keeps it: a 100 MB cell would otherwise be stored
    and shown in full. The uploaded file itself is kept as it came."""
    total = len(text) + unread
    if total <= CELL_KEPT:
        return text
    return Phrase("{start}… ({total:,} characters in the file)", start=text[:CELL_KEPT],
                  total=total)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…"
