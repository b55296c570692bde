"""The first pass over an uploaded call list: its header, how many data rows follow, and
which column holds the phone numbers (by its name, or else by its cells).

Pure, like campaigns/importer.py, which reads the rows in a second pass; the header rules
(blank and repeated names, trailing empty columns) are described in its docstring.
"""

from __future__ import annotations

from pathlib import Path

from campaigns.import_text import CsvImportError, Record, TextFile, empty_file
from campaigns.phones import (
    GENERIC_PHONE_ALIASES,
    PHONE_COLUMN_ALIASES,
    alias_key,
    list_columns,
    one_line,
    try_phone,
)

SAMPLE_VALUES, SAMPLE_CHARS = 50, 64  # per column, to find a phone column by its cells


def survey(text: TextFile) -> tuple[Record, int, list[bool], list[list[str]]]:
    """The first pass: the header (first non-blank record), how many data rows follow,
    which of its blank-headed cells hold data, and each column's first values."""
    header: Record | None = None
    total = 0
    has_data: list[bool] = []
    samples: list[list[str]] = []
    unknown: list[int] = []  # blank-headed cells not yet seen holding data
    sampling: list[int] = []  # columns with fewer than SAMPLE_VALUES values yet
    for record in text.records():
        cells = record.cells
        if header is None:
            if any(cells):
                header = record
                has_data = [False] * len(cells)
                samples = [[] for _ in cells]
                unknown = [i for i, h in enumerate(cells) if not h]
                sampling = list(range(len(cells)))
            continue
        if not any(cells):
            continue
        total += 1
        if unknown:
            for i in unknown:
                has_data[i] = i < len(cells) and bool(cells[i])
            unknown = [i for i in unknown if not has_data[i]]
        if sampling:
            for i in sampling:
                if i < len(cells) and cells[i]:
                    samples[i].append(cells[i][:SAMPLE_CHARS])
            sampling = [i for i in sampling if len(samples[i]) < SAMPLE_VALUES]
    if header is None:
        raise empty_file(text.path)
    return header, total, has_data, samples


def column_names(header: list[str]) -> list[str]:
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


def find_phone_column(path: Path, columns: list[str], requested: str | None,
                       region: str, cells: list[list[str]] | None = None) -> str:
    listed = list_columns(columns)
    if requested is not None:
        wanted = requested.strip()
        if wanted in columns:
            return wanted
        folded = [c for c in columns if c.casefold() == wanted.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise CsvImportError("{path}: no column named {name!r}; the columns are: {listed}; "
                             "pass one of them to --phone-column", path=str(path),
                             name=one_line(requested), listed=listed)
    for aliases in (PHONE_COLUMN_ALIASES, GENERIC_PHONE_ALIASES):
        wanted_keys = {alias_key(a) for a in aliases}
        named = [c for c in columns if alias_key(c) in wanted_keys]
        if found := _single(path, named, by_name=True):
            return found
    if any(try_phone(c, region)[0] for c in columns):
        raise CsvImportError("{path}: the first row ({listed}) looks like data, not a "
                             "header; add a header row such as name,phone at the top",
                             path=str(path), listed=listed)
    if found := _single(path, _columns_of_numbers(columns, cells or [], region),
                        by_name=False):
        return found
    raise CsvImportError("{path}: no phone number column found (columns: {listed}); rename "
                         "the phone column to \"phone\" or pass --phone-column",
                         path=str(path), listed=listed)


def _single(path: Path, candidates: list[str], by_name: bool) -> str | None:
    """The one candidate column; None if there is none; an error if it is ambiguous
    (`by_name`: the candidates are named like phone columns, else their cells are
    numbers). The campaigns.list_imports.MAPPING_HINTS words are in these texts."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    listed = list_columns(candidates)
    if by_name:
        raise CsvImportError("{path}: several columns look like phone numbers ({listed}); "
                             "pass --phone-column with the one to call",
                             path=str(path), listed=listed)
    raise CsvImportError("{path}: several columns hold phone numbers ({listed}); pass "
                         "--phone-column with the one to call", path=str(path), listed=listed)


def _columns_of_numbers(columns: list[str], cells: list[list[str]], region: str,
                        sample: int = 50) -> list[str]:
    """Columns whose header says nothing but whose cells are mostly valid numbers
    (e.g. "mobile_no"): at least 80 % of the first non-empty values."""
    found = []
    for name, col in zip(columns, cells):
        values = [v for v in col if v.strip()][:sample]
        if values and sum(try_phone(v, region)[0] for v in values) >= 0.8 * len(values):
            found.append(name)
    return found
