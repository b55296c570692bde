"""An uploaded call list as text and CSV records, read from disk as it is needed.

The importer (campaigns/importer.py) reads a list twice, once to learn its header and
size and once to turn rows into contacts, so neither pass may hold the file: the
encoding is told by running the file through strict decoders block by block, and
csv.reader is fed one line at a time, each bounded to MAX_ROW_CHARS characters. Memory
is then a row and the importer's chunk, not the file; only a file that mixes encodings
(lines pasted from lists saved by different programs) is decoded whole, line by line.

Line breaks are read in universal-newline mode, so a line break inside a quoted cell
comes back as "\\n" whichever the file used.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from campaigns.phones import PHONE_COLUMN_ALIASES
from campaigns.refusals import Phrase, Refusal

__all__ = [
    "DELIMITERS",
    "MAX_ROW_CHARS",
    "MIXED",
    "MIXED_ROW",
    "UNREADABLE",
    "CsvImportError",
    "Record",
    "TextFile",
    "empty_file",
    "open_text",
]

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
# A call list's row is a contact: a name, a number and a few fields. A longer one is
# kept whole in the stored file and reported as a rejected row, its cells cut short;
# reading it whole would let one line of an upload take the server's memory. Below
# csv's own field limit (131,072), which a quoted cell running over many lines meets.
MAX_ROW_CHARS = 100_000
_CJK_PREFIX_BYTES = 1 << 20  # bytes decoded both ways when CP949 and GB18030 both read a file
MIXED = "mixed"  # the start of an encoding's name when lines came in several encodings
MIXED_ROW = Phrase("bytes not readable as UTF-8, CP949 or GB18030 (the file mixes "
                   "encodings); fix the row and save the file as UTF-8")
UNREADABLE = "\ufffd"

_BLOCK = 1 << 20
_LINE_LIMIT = MAX_ROW_CHARS + 1  # one more than a row may have: the line break, or a cut
_SNIFF_CHARS = 64 * 1024
_SNIFF_RECORDS = 200
_CJK_SAMPLE_CHARS = 200_000
_SENTINEL = "\x00"  # csv.reader returns this as the last record unless a quote swallowed it
_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*(?:\r\n|\r|\n))*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HANGUL = re.compile("[\uac00-\ud7a3]")
_HANJA = re.compile("[\u4e00-\u9fff\uf900-\ufaff]")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# Non-ASCII headers that name a phone column, for telling CP949 from GB18030.
CJK_PHONE_HEADERS = tuple(a for a in PHONE_COLUMN_ALIASES if not a.isascii())


class CsvImportError(Refusal):
    """Whole-file problem (unreadable encoding, empty file, no phone column, file missing).

    str(e) is ONE line naming the file and the fix; the file is the value `path`, so the
    import can name it as it was uploaded.
    """


@dataclass(frozen=True, slots=True)
class Record:
    row: int  # spreadsheet row: the file's first record is row 1
    cells: list[str]  # stripped
    cut: int = 0  # characters of its last cell past MAX_ROW_CHARS left unread (0: whole)


@dataclass(frozen=True)
class TextFile:
    """A file as text: how it is encoded and delimited, and its records from the start
    each time they are asked for."""

    path: Path
    encoding: str
    delimiter: str
    mixed_text: str | None = None  # the whole text, only for a file of mixed encodings

    def open(self) -> TextIO:
        if self.mixed_text is not None:
            return io.StringIO(self.mixed_text, newline=None)
        return self.path.open(encoding=self.encoding, errors="strict", newline=None)

    def records(self) -> Iterator[Record]:
        """Every CSV record, blank ones too (they keep their row number); raises
        CsvImportError for a quote that is never closed."""
        with self.open() as stream:
            cuts: deque[tuple[int, int]] = deque()
            reader = csv.reader(_bounded_lines(stream, cuts), delimiter=self.delimiter)
            held: Record | None = None
            count = 0
            try:
                for cells in reader:
                    if cells == [_SENTINEL]:
                        if held is not None:
                            yield held
                        return
                    count += 1
                    cut = 0
                    while cuts and cuts[0][0] <= reader.line_num:
                        cut += cuts.popleft()[1]
                    if held is not None:
                        yield held
                    held = Record(count, [c.strip() for c in cells], cut)
            except csv.Error as exc:
                raise CsvImportError(
                    "{path}: row {row} cannot be read as CSV ({why}), often a quote (\") "
                    "that is never closed; fix that row and upload again",
                    path=str(self.path), row=count + 1, why=str(exc)) from None
        raise CsvImportError("{path}: row {row} opens a quote (\") that is never closed, so "
                             "the rest of the file would be one cell; close or remove that "
                             "quote and upload again", path=str(self.path), row=count)


def _bounded_lines(stream: TextIO, cuts: deque[tuple[int, int]]) -> Iterator[str]:
    """The file's lines for csv.reader, each ending in "\\n", then the sentinel. A line
    longer than MAX_ROW_CHARS is cut there: the rest is counted, not kept, and `cuts`
    gets (line number, characters dropped)."""
    number = 0
    while line := stream.readline(_LINE_LIMIT):
        number += 1
        if not line.endswith("\n"):
            if len(line) >= _LINE_LIMIT:
                line, dropped = _cut(stream, line)
                cuts.append((number, dropped))
            line += "\n"  # the last line, or the cut one
        yield line
    yield _SENTINEL


def _cut(stream: TextIO, line: str) -> tuple[str, int]:
    """Skip the rest of an over-long line; the part kept, its quotes balanced as the
    whole line's were (so the rows after it are read as they were written)."""
    kept_quotes = quotes = line.count('"')
    dropped = 0
    while piece := stream.readline(_LINE_LIMIT):
        body = piece.removesuffix("\n")
        dropped += len(body)
        quotes += body.count('"')
        if len(body) < len(piece):
            break
    return (line + '"' if (quotes - kept_quotes) % 2 else line), dropped


# -- bytes to text -------------------------------------------------------------------

def open_text(path: Path) -> TextFile:
    """The file's encoding and delimiter; CsvImportError says what to do when it is not
    a text file or holds nothing."""
    head = _head(path)
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise CsvImportError("{path}: this is an Excel workbook, not a CSV; in Excel use "
                             "Save As > CSV UTF-8 (Comma delimited) and upload that file",
                             path=str(path))
    scans: dict[str, tuple[bool, bool] | None] = {}

    def scan(encoding: str) -> tuple[bool, bool] | None:
        if encoding not in scans:
            scans[encoding] = _scan_text(path, encoding)
        return scans[encoding]

    encoding, text = _choose_encoding(path, head, scan)
    found = scan(encoding) if text is None else ("\x00" in text, bool(text.strip()))
    if found is None or found[0]:  # NUL never occurs in a real CSV but does in binaries
        raise CsvImportError("{path}: cannot read the file as text (tried UTF-8, CP949, "
                             "GB18030); save it as UTF-8 CSV and upload again", path=str(path))
    if not found[1]:
        raise empty_file(path)
    probe = TextFile(path, encoding, ",", text)
    with probe.open() as stream:
        sample, more = _sniff_sample(stream)
    return TextFile(path, encoding, _sniff_delimiter(sample, more), text)


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(8)
    except FileNotFoundError:
        raise CsvImportError("{path}: file not found; check the path and upload again",
                             path=str(path)) from None
    except IsADirectoryError:
        raise CsvImportError("{path}: is a directory; pass the path of the CSV file",
                             path=str(path)) from None
    except OSError as exc:
        raise CsvImportError("{path}: cannot open the file ({why}); check that it exists and "
                             "is readable", path=str(path), why=exc.strerror) from None


def _choose_encoding(path: Path, head: bytes,
                     scan: Callable[[str], tuple[bool, bool] | None]) -> tuple[str, str | None]:
    """The encoding, and the text itself when only a line-by-line decoding reads it."""
    for bom, encoding in _BOMS:  # a BOM settles it; UTF-16 is Excel's "Unicode Text"
        if head.startswith(bom):
            return encoding, None
    if scan("utf-8") is not None:
        return "utf-8", None
    if _has_utf8_cjk_line(path):  # and other lines that are not UTF-8: pasted together
        return _mixed(path)
    readable = [enc for enc in ("cp949", "gb18030") if scan(enc) is not None]
    if not readable:
        return _mixed(path)
    if len(readable) == 1:
        return readable[0], None
    return _choose_cjk({enc: _prefix(path, enc) for enc in readable}), None


def _scan_text(path: Path, encoding: str) -> tuple[bool, bool] | None:
    """Decode the whole file a block at a time: None if it does not decode, else
    (has a NUL character, has anything but white space)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    nul = text = False
    try:
        with path.open("rb") as f:
            while block := f.read(_BLOCK):
                chunk = decoder.decode(block)
                nul = nul or "\x00" in chunk
                text = text or not chunk.isspace() and bool(chunk)
            chunk = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return nul or "\x00" in chunk, text or (bool(chunk) and not chunk.isspace())


def _prefix(path: Path, encoding: str) -> str:
    with path.open("rb") as f:
        return codecs.getincrementaldecoder(encoding)(errors="replace").decode(
            f.read(_CJK_PREFIX_BYTES))


def _has_utf8_cjk_line(path: Path) -> bool:
    """A line that is valid UTF-8 with Hangul or Chinese in it: CP949 or GB18030 text is
    next to never that by chance, so the lines around it that are not UTF-8 were saved by
    another program."""
    with path.open("rb") as f:
        while line := f.readline(_LINE_LIMIT * 4):
            if not line.isascii() and (t := _strict(line, "utf-8")) is not None \
                    and (_HANGUL.search(t) or _HANJA.search(t)):
                return True
    return False


def _mixed(path: Path) -> tuple[str, str]:
    text, encoding = _decode_lines(path.read_bytes())
    if text is None:
        raise CsvImportError("{path}: cannot read the file as text (tried UTF-8, CP949, "
                             "GB18030); save it as UTF-8 CSV and upload again", path=str(path))
    return encoding, text


def _decode_lines(data: bytes) -> tuple[str | None, str]:
    """A file no one encoding reads, as when lists saved by different programs were
    pasted together: each line in UTF-8, else in the CJK encoding the other lines share.
    A line none can read keeps U+FFFD in place of its bad bytes; its row is rejected
    (campaigns/importer.py). More than half such lines: not a text file after all."""
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
    hits = {enc: any(a in _LINE_BREAK.split(text.lstrip(), 1)[0] for a in CJK_PHONE_HEADERS)
            for enc, text in decoded.items()}
    if hits["cp949"] != hits["gb18030"]:
        return "cp949" if hits["cp949"] else "gb18030"
    sample = decoded["cp949"][:_CJK_SAMPLE_CHARS]
    hangul, hanja = len(_HANGUL.findall(sample)), len(_HANJA.findall(sample))
    return "gb18030" if hanja > 0.1 * (hangul + hanja) else "cp949"


def empty_file(path: Path) -> CsvImportError:
    return CsvImportError("{path}: the file is empty; export the call list again with a "
                          "header row (e.g. name,phone) and one contact per row", path=str(path))


# -- the delimiter -------------------------------------------------------------------

def _sniff_sample(stream: TextIO) -> tuple[str, bool]:
    """The text from the first line that is not blank, _SNIFF_CHARS of it, and whether
    there is more."""
    text = ""
    while block := stream.read(_SNIFF_CHARS):
        text += block
        skipped = _LEADING_BLANK_LINES.match(text)
        text = text[skipped.end() if skipped else 0:]
        if len(text) > _SNIFF_CHARS:
            return text, True
    return text, False


def _sniff_delimiter(sample: str, more: bool) -> str:
    """Prefer the delimiter that splits the header and gives data rows the same width.

    Scoring on the header is robust because headers rarely contain delimiters, while
    values do (decimal commas, addresses); csv.Sniffer is easily fooled by those.
    """
    sample = sample[:_SNIFF_CHARS]
    if more and "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # a cut-off last line would skew the widths
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        try:
            records = [r for r in itertools.islice(reader, _SNIFF_RECORDS)
                       if any(c.strip() for c in r)]
        except csv.Error:  # a cell past csv's limit: this delimiter cannot be told here
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        body = records[1:]
        same = sum(len(r) == width for r in body) / len(body) if body else 1.0
        score = (same, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best
