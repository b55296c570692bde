"""The call-list reader on whatever an operator might upload: random bytes, and CSV
written in random encodings (UTF-8, UTF-8 with BOM, CP949, UTF-16), with random
delimiters, quoting, line ends, huge cells, NUL bytes, blank lines, ragged rows, a bare
header or nothing at all.

`read_call_list` either returns a ParsedList or raises CsvImportError whose message is
one line naming the file; nothing else escapes. And nothing is silently dropped: every
non-blank data row comes back exactly once, as a contact or as a rejection.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.importer import DELIMITERS, CsvImportError, ParsedList, preview, read_call_list

FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
ENCODINGS = ("utf-8", "utf-8-sig", "cp949", "utf-16")
# What call lists are made of: digits and the marks around numbers, Hangul, Latin, and
# the characters that make CSV hard (delimiters, quotes, line breaks, spaces, NUL).
CELL_CHARS = st.sampled_from(list("0123456789+-() .,;|\t\"'\r\nabcXYZ=@#")
                             + ["김", "민", "수", "전", "화", "번", "호", "é", "电", "😀"])
PHONES = st.sampled_from(["010-1234-5678", "+82 10 9876 5432", "01012345678", "12345",
                          "1.0123E+10", "010-1234-5678 ext. 9", "02-312-3456", "", " ",
                          "+1 212 555 0100", "abc", "82-10-5555-0000"])
PHONE_HEADERS = ("phone", "전화번호", "Mobile Number", "휴대폰", "tel")
# One oddity per file at most, so most files still get far enough to count their rows.
ODDITIES = ("none", "none", "none", "huge cell", "NUL", "stray quote")
HUGE = "x" * 200_000  # past the csv module's field size limit


def read(path: Path, data: bytes) -> ParsedList | None:
    """The reader's answer; None when it refused the file the documented way."""
    path.write_bytes(data)
    try:
        parsed = read_call_list(path)
    except CsvImportError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and len(message) > len(f"{path}: ") + 10
        assert "\n" not in message and "\r" not in message, message
        return None
    rows = [c.row for c in parsed.contacts] + [e.row for e in parsed.errors]
    assert parsed.total_rows == len(rows) == len(set(rows)), "a row counted twice or lost"
    assert all(r >= 2 for r in rows), "the header is row 1"
    return parsed


@FUZZ
@given(data=st.binary(max_size=3000))
def test_any_bytes_are_a_list_or_a_clear_refusal(tmp_path: Path, data: bytes) -> None:
    read(tmp_path / "upload.csv", data)


@FUZZ
@given(text=st.text(st.one_of(CELL_CHARS, st.just("\x00")), max_size=400),
       encoding=st.sampled_from(ENCODINGS))
def test_any_csv_ish_text_is_a_list_or_a_clear_refusal(tmp_path: Path, text: str,
                                                        encoding: str) -> None:
    read(tmp_path / "upload.csv", text.encode(encoding, errors="replace"))


@st.composite
def call_lists(draw: st.DrawFn) -> tuple[bytes, str, list[int], set[str]]:
    """A CSV file, its delimiter, the spreadsheet row numbers of its non-blank data rows
    (blank lines keep their number but are neither contacts nor rejections), and the
    encodings that read it back as written."""
    name = st.text(CELL_CHARS.filter(lambda c: c.isalpha() or c == " "), min_size=1,
                   max_size=8)
    header = draw(st.lists(name, max_size=3))
    phone_at = draw(st.integers(0, len(header)))
    header.insert(phone_at, draw(st.sampled_from(PHONE_HEADERS)))
    width = len(header)
    records: list[list[str]] = []
    for _ in range(draw(st.integers(0, 12))):
        row = [draw(st.text(CELL_CHARS, max_size=20)) for _ in range(width)]
        row[phone_at] = draw(st.one_of(PHONES, st.text(CELL_CHARS, max_size=12)))
        extra = draw(st.sampled_from([0, 0, 0, -1, 1, 2]))  # short and ragged rows
        records.append(row[:width + extra] if extra < 0 else row + ["x;y,z"] * extra)
    oddity = draw(st.sampled_from(ODDITIES))
    if oddity in ("huge cell", "NUL") and records:
        row = draw(st.sampled_from(records))
        at = draw(st.integers(0, len(row) - 1)) if row else 0
        row[at:at + 1] = [HUGE if oddity == "huge cell" else "a\x00b"]
    delimiter = draw(st.sampled_from(DELIMITERS))
    out = io.StringIO()
    # Written with CRLF so that a cell holding either half of it is quoted (as Excel
    # does), then given the chosen line ends.
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n", quoting=draw(
        st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    writer.writerow(header)
    writer.writerows(records)
    leading = draw(st.integers(0, 2))
    text = "\n" * leading + out.getvalue().replace("\r\n", draw(st.sampled_from(
        ["\r\n", "\n"])))
    if oddity == "stray quote":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + '"' + text[at:]
    encoding = draw(st.sampled_from(ENCODINGS))
    expected = [leading + 2 + i for i, r in enumerate(records) if any(c.strip() for c in r)]
    try:
        data, same = text.encode(encoding), {encoding} | ({"utf-8"} if text.isascii() else set())
    except UnicodeEncodeError:  # e.g. an emoji in CP949: written as "?"
        data, same = text.encode(encoding, errors="replace"), set()
    if oddity == "stray quote":
        same = set()  # the file no longer says what the rows were
    return data, delimiter, expected, same


@FUZZ
@given(upload=call_lists())
def test_every_data_row_is_a_contact_or_a_rejection(
        tmp_path: Path, upload: tuple[bytes, str, list[int], set[str]]) -> None:
    data, delimiter, expected, same = upload
    parsed = read(tmp_path / "upload.csv", data)
    if parsed is None or parsed.delimiter != delimiter or parsed.encoding not in same:
        # Refused with a reason, or read another way than it was written (a mis-sniffed
        # delimiter, another encoding): only the counts `read` checks apply.
        return
    rows = sorted([c.row for c in parsed.contacts] + [e.row for e in parsed.errors])
    assert rows == expected, f"rows read {rows}, rows written {expected}"


def test_a_bare_header_is_an_empty_list(tmp_path: Path) -> None:
    parsed = read(tmp_path / "upload.csv", b"name,phone\r\n")
    assert parsed is not None and parsed.total_rows == 0


# The mapping page's preview (GET /campaigns/{id}/imports/{batch} of a list whose phone
# column could not be told) shows a table or says why not, never a 500.
@pytest.mark.parametrize("data", [b"name,memo\nkim," + b"x" * 200_000 + b"\n",
                                  b"name,memo\nkim,a\rb\n"], ids=["huge cell", "bare CR"])
def test_the_mapping_preview_is_a_table_or_a_clear_refusal(tmp_path: Path,
                                                            data: bytes) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    try:
        preview(path)
    except CsvImportError as exc:
        assert str(exc).startswith(f"{path}: ")
