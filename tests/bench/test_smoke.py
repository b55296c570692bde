"""The campaign benchmarks still run and still hold their invariants, at a small size
(their figures come from full runs; this only keeps them from rotting unseen)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(json.loads(proc.stdout))


def test_csv_import_bench_counts_what_it_generated() -> None:
    out = bench("bench/csv_import.py", "--rows", "3000")
    assert out["rows"] == 3000 and out["db"] == "sqlite"
    expected = out["expected"]
    assert isinstance(expected, dict)
    assert (out["accepted"], out["rejected"]) == (expected["accepted"], expected["rejected"])


def test_dispatch_bench_never_claims_twice() -> None:
    out = bench("bench/dispatch.py", "--contacts", "600", "--workers", "3")
    assert out["claims"] == 600 and out["double_claims"] == 0 and out["workers"] == 3


def test_dashboard_bench_counts_every_call_it_made() -> None:
    out = bench("bench/dashboard.py", "--calls", "2000", "--runs", "1", "--no-browser")
    assert out["calls"] == out["counted"] == 2000 and int(str(out["turns"])) > 2000
    assert isinstance(out["api_s"], float) and out["api_s"] > 0


def test_nlu_bench_runs_the_three_held_out_suites() -> None:
    out = bench("bench/nlu.py")
    suites = out["suites"]
    assert isinstance(suites, dict) and set(suites) == {"ko", "en", "zh"}
    for lang, r in suites.items():
        assert r["out_of_scope_examples"] >= 30 and r["examples"] >= 150, lang
        assert r["embedding_model"] == "use-multilingual", lang
        # Written apart from the training data: only a few short replies coincide.
        assert r["examples"] - r["out_of_scope_examples"] - r["unseen_in_scope_examples"] <= 15
    goals = out["goals"]
    assert isinstance(goals, dict) and set(goals["met"]) == {"ko", "en", "zh"}
