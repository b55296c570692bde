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

Speed, measured on the dev box (Python 3.11, pandas 3.1, phonenumbers 9.0): 100k rows x 4
columns with distinct numbers take ~2.1 s, of which ~1.8 s is phonenumbers (~18 us per
distinct number; repeats are cached); reading, stripping and building results is ~0.3 s.
1M rows: ~23 s and ~1 GB peak RSS.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

__all__ = [
    "CsvImportError", "ParsedContact", "ParsedList", "RowError", "normalize_phone",
    "read_call_list",
]

# Matched after casefolding and removing spaces, "_", "-", "." and "#".
PHONE_COLUMN_ALIASES: tuple[str, ...] = (
    "phone", "phonenumber", "phoneno", "mobile", "mobilephone", "mobilenumber", "cell",
    "cellphone", "tel", "telno", "telephone", "msisdn",
    "전화번호", "휴대폰", "휴대폰번호", "휴대전화", "휴대전화번호", "핸드폰", "핸드폰번호",
    "연락처", "전화", "电话", "手机", "手机号", "手机号码", "电话号码", "联系电话",
)
# A column giving each contact's IANA time zone, when the number's own cannot be told
# (a mobile carried abroad, a country with several zones); same matching as above.
TIMEZONE_COLUMN_ALIASES: tuple[str, ...] = ("timezone", "tz", "zone", "시간대", "时区", "時區")
# Only used when no specific alias matches: "number" is often a customer or serial number.
GENERIC_PHONE_ALIASES: tuple[str, ...] = ("number",)

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
_SNIFF_CHARS = 64 * 1024
_SNIFF_RECORDS = 200
_CJK_SAMPLE_CHARS = 200_000
# Spreadsheet row -> (reason, cells beyond the header's width) for rows with too many cells.
Ragged = dict[int, tuple[str, list[str]]]
# csv.reader returns this as the last record unless an open quote swallowed it.
_SENTINEL = "\x00"

_ALIAS_STRIP = re.compile(r"[\s_\-.#]+")
_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*(?:\r\n|\r|\n))*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HANGUL = re.compile("[\uac00-\ud7a3]")
_HANJA = re.compile("[\u4e00-\u9fff\uf900-\ufaff]")
_EXCEL_FLOAT = re.compile(r"\+?\d+\.0+")
_EXCEL_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d+")
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "no phone number digits found",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_LENGTH_HINTS = {
    ValidationResult.TOO_SHORT: " (too few digits)",
    ValidationResult.TOO_LONG: " (too many digits)",
    ValidationResult.INVALID_LENGTH: " (wrong number of digits)",
}


class CsvImportError(Exception):
    """Whole-file problem (unreadable encoding, empty file, no phone column, file missing).

    str(e) is ONE line naming the file and the fix.
    """


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
    reason: str  # a sentence for the operator
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


def normalize_phone(value: str, default_region: str) -> str:
    """Return ``value`` as E.164 or raise ValueError whose message is the row's reason."""
    region = _check_region(default_region)
    text = value.strip()
    if not text:
        raise ValueError("phone is empty")
    if _EXCEL_SCIENTIFIC.fullmatch(text):
        # Digits were already lost when Excel stored the number; guessing would dial strangers.
        raise ValueError("not a phone number: Excel turned it into scientific notation; "
                         "format the column as Text and retype the numbers")
    if _EXCEL_FLOAT.fullmatch(text):
        text = text.split(".", 1)[0]  # "1012345678.0" is a number cell saved as float
    if any(ch.isalpha() for ch in text):
        # phonenumbers would map letters to keypad digits; in a call list they are typos.
        raise ValueError("not a phone number: it contains letters; "
                         "keep only digits, spaces, dashes, brackets and a leading +")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        why = _PARSE_REASONS.get(exc.error_type, str(exc))
        raise ValueError(f"not a phone number: {why}") from None
    if number.extension:
        raise ValueError(f"has an extension ({number.extension}) which cannot be dialled; "
                         "put only the number in the phone column")
    if not phonenumbers.is_valid_number(number):
        hint = _LENGTH_HINTS.get(phonenumbers.is_possible_number_with_reason(number), "")
        if number.country_code != phonenumbers.country_code_for_region(region):
            raise ValueError(
                f"not a valid phone number for country code +{number.country_code}{hint}")
        raise ValueError(f"not a valid phone number for region {region}{hint}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def read_call_list(path: Path | str, default_region: str = "KR",
                   phone_column: str | None = None) -> ParsedList:
    """Parse a call list; file-level problems raise CsvImportError, row problems are kept."""
    path = Path(path)
    region = _check_region(default_region)
    text, encoding = _decode(path, _read_bytes(path))
    leading = _LEADING_BLANK_LINES.match(text)
    skipped = leading.group() if leading else ""
    offset = len(_LINE_BREAK.findall(skipped))
    text = text[len(skipped):]
    delimiter = _sniff_delimiter(text)
    table, ragged = _parse(path, text, delimiter, offset)

    blank = (table == "").all(axis=1)
    # A row like ",,,x" looks blank once its extra cell is set aside; it must stay an error.
    blank.iloc[[row - offset - 1 for row in ragged]] = False
    if blank.all():
        raise _empty(path)
    header_at = int(blank.to_numpy().argmin())  # first non-blank record is the header
    header = table.iloc[header_at].tolist()
    data = table.iloc[header_at + 1:]
    data = data[~blank.iloc[header_at + 1:]]

    names = _column_names(header)
    keep = [i for i, h in enumerate(header) if h or (data[i] != "").any()]
    columns = [names[i] for i in keep]
    cells = [data[i].tolist() for i in keep]
    phone = _find_phone_column(path, columns, phone_column, region, cells)
    rows = [r + offset + 1 for r in data.index.tolist()]
    if encoding.startswith(MIXED):
        ragged = _unreadable_rows(ragged, cells, rows)
    tz_columns = [c for c in columns if c != phone and _alias_key(c) in TIMEZONE_COLUMN_ALIASES]
    if len(tz_columns) > 1:
        raise CsvImportError(f"{path}: several time zone columns ({_list_columns(tz_columns)});"
                             " keep one and upload again")
    tz_column = tz_columns[0] if tz_columns else None
    if tz_column is not None:
        ragged = _bad_zones(ragged, cells[columns.index(tz_column)], rows)
    contacts, errors = _validate(columns, columns.index(phone), cells, rows, ragged, region)
    if tz_column is not None:
        contacts = [ParsedContact(c.row, c.phone, c.fields, c.fields[tz_column].strip() or None)
                    for c in contacts]
    return ParsedList(path=path, encoding=encoding, delimiter=delimiter, phone_column=phone,
                      columns=columns, total_rows=len(rows), contacts=contacts, errors=errors,
                      timezone_column=tz_column)


def _bad_zones(ragged: Ragged, zones: list[str], rows: list[int]) -> Ragged:
    """Rows whose time zone cell is not an IANA zone name are errors: calling hours are
    the law in the callee's zone, so a guess is not good enough."""
    from zoneinfo import available_timezones

    known = available_timezones()
    out = dict(ragged)
    for row, zone in zip(rows, zones):
        zone = zone.strip()
        if zone and zone not in known and row not in out:
            reason = (f"time zone {zone!r} is not an IANA zone name such as Asia/Seoul or "
                      "America/New_York; correct it or leave it empty to use the number's zone")
            out[row] = (reason, [])
    return out


def preview(path: Path | str, rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """The header and the first data rows, as the column-mapping page shows them when
    the phone column cannot be told by itself."""
    path = Path(path)
    text, _ = _decode(path, _read_bytes(path))
    text = text[len(m.group()) if (m := _LEADING_BLANK_LINES.match(text)) else 0:]
    delimiter = _sniff_delimiter(text)
    records = list(itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter),
                                    rows + 1))
    if not records:
        raise _empty(path)
    header = _column_names([c.strip() for c in records[0]])
    return header, [[c.strip() for c in r] for r in records[1:]]


# -- rows ----------------------------------------------------------------------------

def _unreadable_rows(ragged: Ragged, cells: list[list[str]], rows: list[int]) -> Ragged:
    """Rows of a mixed-encoding file with bytes no encoding could read are errors, never
    contacts (a number with a lost digit would call someone else)."""
    out = dict(ragged)
    for i, row in enumerate(rows):
        if row not in out and any(UNREADABLE in col[i] for col in cells):
            out[row] = (MIXED_ROW, [])
    return out


CELL_KEPT = 2000  # characters of a rejected cell kept in the report (the file is kept whole)


def _clip(text: str) -> str:
    """A rejected cell as the report keeps it: a 100 MB cell would otherwise be stored
    and shown in full. The uploaded file itself is kept as it came."""
    if len(text) <= CELL_KEPT:
        return text
    return f"{text[:CELL_KEPT]}… ({len(text):,} characters in the file)"


def _validate(columns: list[str], phone_at: int, cells: list[list[str]], rows: list[int],
              ragged: Ragged, region: str) -> tuple[list[ParsedContact], list[RowError]]:
    """Split rows into contacts and errors; ``ragged`` maps row -> (reason, extra cells)."""
    phones = cells[phone_at]
    other_names = columns[:phone_at] + columns[phone_at + 1:]
    other_cells = cells[:phone_at] + cells[phone_at + 1:]
    # zip(*[]) is empty, which would silently drop every row of a phone-only file.
    others = zip(*other_cells) if other_cells else itertools.repeat(())
    # Normalising each distinct value once makes repeated numbers nearly free; a big
    # list is normalised on every core (phonenumbers takes ~20 us a number).
    distinct = list(set(phones))
    outcome = dict(zip(distinct, _normalise_all(distinct, region)))

    seen: dict[str, int] = {}
    contacts: list[ParsedContact] = []
    errors: list[RowError] = []
    for i, (row, value, rest) in enumerate(zip(rows, phones, others)):
        reason, extra = ragged.get(row, ("", []))
        if not reason:
            ok, result = outcome[value]
            if ok and result in seen:
                ok, result = False, f"duplicate of row {seen[result]} ({result})"
            if ok:
                seen[result] = row
                contacts.append(ParsedContact(row, result, dict(zip(other_names, rest))))
                continue
            reason = result
        raw = {name: col[i] for name, col in zip(columns, cells)}
        raw.update({f"_extra_{k}": v for k, v in enumerate(extra, start=1)})
        errors.append(RowError(row, _clip(value), reason, {k: _clip(v) for k, v in raw.items()}))
    return contacts, errors


def _column_names(header: list[str]) -> list[str]:
    """Give blank headers a name and repeated ones a suffix, since fields is a dict."""
    names: list[str] = []
    for i, h in enumerate(header, start=1):
        base = name = h or f"column_{i}"
        k = 1
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    return names


def _find_phone_column(path: Path, columns: list[str], requested: str | None,
                       region: str, cells: list[list[str]] | None = None) -> str:
    listed = _list_columns(columns)
    if requested is not None:
        wanted = requested.strip()
        if wanted in columns:
            return wanted
        folded = [c for c in columns if c.casefold() == wanted.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise CsvImportError(f"{path}: no column named {_one_line(requested)!r}; the columns "
                             f"are: {listed}; pass one of them to --phone-column")
    for aliases in (PHONE_COLUMN_ALIASES, GENERIC_PHONE_ALIASES):
        wanted_keys = {_alias_key(a) for a in aliases}
        named = [c for c in columns if _alias_key(c) in wanted_keys]
        if found := _single(path, named, "look like phone numbers"):
            return found
    if any(_try_phone(c, region)[0] for c in columns):
        raise CsvImportError(f"{path}: the first row ({listed}) looks like data, not a "
                             "header; add a header row such as name,phone at the top")
    if found := _single(path, _columns_of_numbers(columns, cells or [], region),
                        "hold phone numbers"):
        return found
    raise CsvImportError(f"{path}: no phone number column found (columns: {listed}); rename "
                         "the phone column to \"phone\" or pass --phone-column")


def _single(path: Path, candidates: list[str], what: str) -> str | None:
    """The one candidate column; None if there is none; an error if it is ambiguous."""
    if len(candidates) > 1:
        raise CsvImportError(f"{path}: several columns {what} ({_list_columns(candidates)}); "
                             "pass --phone-column with the one to call")
    return candidates[0] if candidates else None


def _columns_of_numbers(columns: list[str], cells: list[list[str]], region: str,
                        sample: int = 50) -> list[str]:
    """Columns whose header says nothing but whose cells are mostly valid numbers
    (e.g. "mobile_no"): at least 80 % of the first non-empty values."""
    found = []
    for name, col in zip(columns, cells):
        values = [v for v in col if v.strip()][:sample]
        if values and sum(_try_phone(v, region)[0] for v in values) >= 0.8 * len(values):
            found.append(name)
    return found


PARALLEL_MIN = 100_000  # distinct values from which worker processes pay for themselves


def _normalise_all(values: list[str], region: str) -> list[tuple[bool, str]]:
    workers = min(os.cpu_count() or 1, 8)
    if len(values) < PARALLEL_MIN or workers < 2:
        return [_try_phone(v, region) for v in values]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may be a threaded web server or worker
    chunks = _chunks(values, len(values) // (workers * 4) + 1)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        return [r for chunk in pool.map(_try_phones, chunks, itertools.repeat(region))
                for r in chunk]


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def _try_phones(values: list[str], region: str) -> list[tuple[bool, str]]:
    return [_try_phone(v, region) for v in values]


def _try_phone(value: str, region: str) -> tuple[bool, str]:
    """Return (True, E.164) or (False, reason)."""
    try:
        return True, normalize_phone(value, region)
    except ValueError as exc:
        return False, str(exc)


def _alias_key(name: str) -> str:
    return _ALIAS_STRIP.sub("", name.casefold())


def _list_columns(columns: list[str], limit: int = 20) -> str:
    shown = [_one_line(c) for c in columns[:limit]]
    more = f", ... ({len(columns) - limit} more)" if len(columns) > limit else ""
    return (", ".join(shown) + more) if shown else "(none)"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_region(region: str) -> str:
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region!r}; use a two-letter country code such as "
                         "KR or US")
    return code


# -- bytes to text -------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CsvImportError(f"{path}: file not found; check the path and upload again") from None
    except IsADirectoryError:
        raise CsvImportError(f"{path}: is a directory; pass the path of the CSV file") from None
    except OSError as exc:
        raise CsvImportError(f"{path}: cannot open the file ({exc.strerror}); check that it "
                             "exists and is readable") from None


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise CsvImportError(f"{path}: this is an Excel workbook, not a CSV; in Excel use "
                             "Save As > CSV UTF-8 (Comma delimited) and upload that file")
    text, encoding = _try_decodings(data)
    # NUL never occurs in a real CSV but does in binaries that happen to decode.
    if text is None or "\x00" in text:
        raise CsvImportError(f"{path}: cannot read the file as text (tried UTF-8, CP949, "
                             "GB18030); save it as UTF-8 CSV and upload again")
    if not text.strip():
        raise _empty(path)
    return text, encoding


def _try_decodings(data: bytes) -> tuple[str | None, str]:
    # A BOM settles it; UTF-16 is what Excel's "Unicode Text" export writes.
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                          (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return _strict(data, encoding), encoding
    utf8 = _strict(data, "utf-8")
    if utf8 is not None:
        return utf8, "utf-8"
    if _has_utf8_cjk_line(data):  # and other lines that are not UTF-8: pasted together
        return _decode_lines(data)
    decoded = {enc: t for enc in ("cp949", "gb18030") if (t := _strict(data, enc)) is not None}
    if not decoded:
        return _decode_lines(data)
    encoding = _choose_cjk(decoded)
    return decoded[encoding], encoding


MIXED_ROW = ("bytes not readable as UTF-8, CP949 or GB18030 (the file mixes encodings); "
             "fix the row and save the file as UTF-8")
MIXED = "mixed"  # the start of ParsedList.encoding when lines came in several encodings
UNREADABLE = "\ufffd"


def _has_utf8_cjk_line(data: bytes) -> bool:
    """A line that is valid UTF-8 with Hangul or Chinese in it: CP949 or GB18030 text is
    next to never that by chance, so the lines around it that are not UTF-8 were saved by
    another program."""
    for line in data.split(b"\n"):
        if not line.isascii() and (t := _strict(line, "utf-8")) is not None \
                and (_HANGUL.search(t) or _HANJA.search(t)):
            return True
    return False


def _decode_lines(data: bytes) -> tuple[str | None, str]:
    """A file no one encoding reads, as when lists saved by different programs were
    pasted together: each line in UTF-8, else in the CJK encoding the other lines share.
    A line none can read keeps U+FFFD in place of its bad bytes; its row is rejected
    (read_call_list). More than half such lines: not a text file after all."""
    lines = data.split(b"\n")
    text: list[str | None] = [_strict(line, "utf-8") for line in lines]
    rest = [i for i, t in enumerate(text) if t is None]
    joined = b"\n".join(lines[i] for i in rest)
    decoded = {enc: t for enc in ("cp949", "gb18030") if (t := _strict(joined, enc)) is not None}
    order = [_choose_cjk(decoded)] if decoded else ["cp949", "gb18030"]
    used, bad = {"utf-8"} if len(rest) < len(lines) else set(), 0
    for i in rest:
        for enc in order:
            if (t := _strict(lines[i], enc)) is not None:
                text[i] = t
                used.add(enc)
                break
        else:
            text[i] = lines[i].decode("utf-8", errors="replace")
            bad += 1
    if 2 * bad >= sum(1 for line in lines if line.strip()):
        return None, ""
    names = ", ".join(sorted(used, key=["utf-8", "cp949", "gb18030"].index))
    return "\n".join(t or "" for t in text), f"{MIXED} ({names})"


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _choose_cjk(decoded: dict[str, str]) -> str:
    """Pick cp949 or gb18030 when both decode; the byte ranges overlap almost entirely.

    charset-normalizer picked cp949 for short Chinese lists in testing, so this uses two
    cheaper signals: which decoding yields a known phone header, then whether the cp949
    reading is mostly Hangul (Chinese read as cp949 is littered with Hanja).
    """
    if len(decoded) == 1:
        return next(iter(decoded))
    cjk_aliases = [a for a in PHONE_COLUMN_ALIASES if not a.isascii()]
    hits = {enc: any(a in _LINE_BREAK.split(text.lstrip(), 1)[0] for a in cjk_aliases)
            for enc, text in decoded.items()}
    if hits["cp949"] != hits["gb18030"]:
        return "cp949" if hits["cp949"] else "gb18030"
    sample = decoded["cp949"][:_CJK_SAMPLE_CHARS]
    hangul, hanja = len(_HANGUL.findall(sample)), len(_HANJA.findall(sample))
    return "gb18030" if hanja > 0.1 * (hangul + hanja) else "cp949"


def _empty(path: Path) -> CsvImportError:
    return CsvImportError(f"{path}: the file is empty; export the call list again with a "
                          "header row (e.g. name,phone) and one contact per row")


# -- text to table -------------------------------------------------------------------

def _sniff_delimiter(text: str) -> str:
    """Prefer the delimiter that splits the header and gives data rows the same width.

    Scoring on the header is robust because headers rarely contain delimiters, while
    values do (decimal commas, addresses); csv.Sniffer is easily fooled by those.
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # a cut-off last line would skew the widths
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        records = [r for r in itertools.islice(reader, _SNIFF_RECORDS) if any(c.strip() for c in r)]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        body = records[1:]
        same = sum(len(r) == width for r in body) / len(body) if body else 1.0
        score = (same, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _parse(path: Path, text: str, delimiter: str,
           offset: int) -> tuple[pd.DataFrame, Ragged]:
    """Return stripped cells indexed by record number, plus rows with too many cells.

    pandas' C parser is fast but stops at rows with too many cells or an open quote; the
    csv module then re-reads the text so those rows become row errors or a clear message.
    """
    try:
        table = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, dtype=str,
                            na_filter=False, skip_blank_lines=False, engine="c")
        ragged: Ragged = {}
    except pd.errors.ParserError:
        table, ragged = _parse_slowly(path, text, delimiter, offset)
    for col in table.columns:
        table[col] = table[col].fillna("").str.strip()  # pandas 2 may pad short rows with NaN
    return table, ragged


def _parse_slowly(path: Path, text: str, delimiter: str,
                  offset: int) -> tuple[pd.DataFrame, Ragged]:
    ending = "" if text.endswith(("\n", "\r")) else "\n"
    reader = csv.reader(io.StringIO(text + ending + _SENTINEL, newline=""), delimiter=delimiter)
    records: list[list[str]] = []
    try:
        records.extend(reader)
    except csv.Error as exc:
        raise CsvImportError(f"{path}: row {offset + len(records) + 1} cannot be read as CSV "
                             f"({exc}), often a quote (\") that is never closed; fix that row "
                             "and upload again") from None
    if records and records[-1] == [_SENTINEL]:
        records.pop()
    else:
        raise CsvImportError(f"{path}: row {offset + len(records)} opens a quote (\") that is "
                             "never closed, so the rest of the file would be one cell; close "
                             "or remove that quote and upload again")
    # The header (first non-blank record) sets the width, so only data rows can be ragged.
    width = next((len(r) for r in records if any(c.strip() for c in r)), 1)
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    ragged: Ragged = {}
    for i, record in enumerate(records):
        tail = [c.strip() for c in record[width:]]
        if any(tail):  # trailing empty cells ("a,b,c,,") lose nothing, so they are dropped
            reason = (f"has {len(record)} cells but the header has {width}; "
                      f"put quotes around values that contain {shown}")
            ragged[offset + i + 1] = (reason, tail)
        record[width:] = [""] * (width - len(record))
    return pd.DataFrame(records, columns=range(width), dtype=str), ragged
