"""Import a large, messy call list: generate it, then validate, normalise, dedup, scrub
against the DNC list and store it, timing the whole import. Prints one JSON document:

    {"rows", "accepted", "rejected", "seconds", "rows_per_s", "db"}

The generated file is what marketing staff really upload: a UTF-8 BOM, numbers written
five ways (010-1234-5678, 01012345678, +82 10..., 82-10-..., (010) ...), landlines,
duplicates, numbers on the global do-not-call list, letters, too-short numbers, Excel's
scientific notation, formulas (=cmd|...), empty phone cells, and quoted notes holding
commas and line breaks. The answer is known: every kind of bad row is counted by the
generator and compared with what the import rejected.

    .venv/bin/python bench/csv_import.py --rows 1000000 [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "campaigns" / "examples" / "demo"
NAMES = ["김민수", "이서연", "박지훈", "최지우", "정하은", "강도윤", "조서준", "윤하린", "Lee", "O'Neil"]


def generate(path: Path, rows: int, dnc_every: int = 97, seed: int = 7) -> tuple[Counter[str], list[str]]:
    """Write the messy list; returns the expected kinds of row and the numbers to put on
    the DNC list beforehand."""
    rnd = random.Random(seed)
    kinds: Counter[str] = Counter()
    dnc: list[str] = []
    used: list[str] = []
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        f.write("이름,전화번호,메모,고객등급\n")
        for i in range(rows):
            name = rnd.choice(NAMES)
            note = ""
            r = rnd.random()
            if r < 0.03 and used:  # a duplicate, written another way
                digits = rnd.choice(used)
                phone = f"+82 {digits[1:3]} {digits[3:7]} {digits[7:]}"
                kind = "duplicate"
            elif r < 0.035:
                phone, kind = "010-12A4-5678", "letters"
            elif r < 0.04:
                phone, kind = "010-123", "too_short"
            elif r < 0.045:
                phone, kind = "1.01234E+10", "scientific"
            elif r < 0.05:
                phone, kind = "=cmd|' /C calc'!A0", "formula"
            elif r < 0.055:
                phone, kind = "", "empty"
            else:
                digits = f"010{20000000 + i:08d}"
                if i % dnc_every == 0:
                    dnc.append("+82" + digits[1:])
                    kind = "dnc"
                else:
                    kind = "ok"
                    used.append(digits)
                style = i % 5
                phone = (f"{digits[:3]}-{digits[3:7]}-{digits[7:]}", digits,
                         f"+82 {digits[1:3]} {digits[3:7]} {digits[7:]}",
                         f"82-{digits[1:3]}-{digits[3:7]}-{digits[7:]}",
                         f"({digits[:3]}) {digits[3:7]} {digits[7:]}")[style]
            if rnd.random() < 0.02:
                note = '"다시 전화, 오후에\n부재 시 문자"'
            elif rnd.random() < 0.01:
                note = '"=HYPERLINK(""http://x"")"'
            kinds[kind] += 1
            f.write(f"{name},{phone},{note},{rnd.choice('ABC')}\n")
    return kinds, dnc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100000)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-csv-"))
    csv = work / "messy.csv"
    t = time.perf_counter()
    kinds, dnc_numbers = generate(csv, args.rows)
    generate_s = time.perf_counter() - t

    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{work / 'import.db'}"
        if args.db == "postgresql":
            from tests.support.postgres import fresh_database, postgres_server

            url = fresh_database(stack.enter_context(postgres_server()))
        from campaigns import dnc
        from campaigns.db import Database
        from campaigns.list_imports import create_campaign

        db = Database(url)
        db.migrate()
        with db.session() as s:
            for n in dnc_numbers:
                dnc.add(s, n, source="upload", added_by="bench")
        t = time.perf_counter()
        summary = create_campaign(db, name="bench", script_dir=DEMO, csv_path=csv,
                                  uploads_dir=work / "uploads", region="KR")
        seconds = time.perf_counter() - t
        reasons = Counter(_kind(e["reason"]) for e in summary.errors)
    expected_rejected = args.rows - kinds["ok"]
    print(json.dumps({
        "bench": "csv_import", "rows": args.rows, "accepted": summary.accepted,
        "rejected": summary.rejected, "seconds": round(seconds, 2),
        "rows_per_s": round(args.rows / seconds), "db": args.db,
        "file_mb": round(csv.stat().st_size / 1e6, 1), "generate_s": round(generate_s, 1),
        "expected": {"accepted": kinds["ok"], "rejected": expected_rejected},
        "rejections_by_kind": dict(sorted(reasons.items())),
        "generated_kinds": dict(sorted(kinds.items())),
    }, ensure_ascii=False, indent=1))
    right = summary.accepted == kinds["ok"] and summary.rejected == expected_rejected
    return 0 if right else 1


def _kind(reason: str) -> str:
    for word, kind in (("duplicate", "duplicate"), ("do-not-call", "dnc"),
                       ("letters", "letters"), ("scientific", "scientific"),
                       ("empty", "empty")):
        if word in reason:
            return kind
    return reason.split(":")[0][:40]


if __name__ == "__main__":
    raise SystemExit(main())
