"""bench/amd.py's openings file: it loads, holds enough of every kind, and a bad entry is
refused with its id (the bench itself is run by hand: it renders speech and runs vosk)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench._openings import KINDS, OpeningError, load_openings

ROOT = Path(__file__).resolve().parents[2]
OPENINGS = ROOT / "bench" / "data" / "amd" / "openings.yml"


def test_the_openings_load_with_enough_of_every_kind() -> None:
    openings = load_openings(OPENINGS)
    assert len(openings) >= 40
    ids = [o.id for o in openings]
    assert len(set(ids)) == len(ids)
    counts = Counter(o.kind for o in openings)
    assert set(counts) == set(KINDS)
    assert min(counts.values()) >= 6, counts
    assert all(o.beep is not None for o in openings if o.kind == "machine_beep")
    assert all(o.voice is not None for o in openings if o.kind.startswith("human"))


def test_an_entry_of_an_unknown_kind_is_refused_by_its_id(tmp_path: Path) -> None:
    bad = tmp_path / "openings.yml"
    bad.write_text("openings:\n"
                   "  - {id: ok1, kind: human_short, text: 네, voice: ko}\n"
                   "  - {id: odd7, kind: fax_machine, text: 삐이}\n", encoding="utf-8")
    with pytest.raises(OpeningError, match=r"entry 2 \(odd7\).*kind 'fax_machine'"):
        load_openings(bad)


def test_a_repeated_id_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "openings.yml"
    bad.write_text("openings:\n"
                   "  - {id: a, kind: silence}\n"
                   "  - {id: a, kind: silence}\n", encoding="utf-8")
    with pytest.raises(OpeningError, match="'a' is used twice"):
        load_openings(bad)
