"""The demo's conversations on real lines: callees (bench/data/lines/personas.yml, each
saying how its call should end) x lines (G.722 clean, PCMU clean, PCMU + street noise
15 dB SNR, PCMA + babble 10 dB SNR + 2 % loss), run as the product's dry-run matrix over
SIP. Prints JSON: runs, expected (calls with an expectation), pass_rate, by_line.

    .venv/bin/python bench/lines.py [--personas FILE] [--line pcmu --line ...]

The script is the demo's with answering-machine detection on (a voicemail is left), as
a campaign calling real lines would run it. Runs `dialer campaign dry-run` in a fresh data
directory (SQLite, a private worker and callee simulator on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.procs import create_campaign, demo_copy, dialer_cmd, dry_run_env

PERSONAS = ROOT / "bench" / "data" / "lines" / "personas.yml"
GOAL_PASS_RATE = 0.95
AMD = ("\nanswering_machine:\n  on_machine: voicemail\n"
       "  voicemail: '{name} 고객님, 행복통신입니다. 새 요금제 안내로 다시 연락드리겠습니다.'\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def summary(report: dict, wall: float, cpu: float) -> dict:
    """The bench's figures from a dry-run matrix report (one line: a plain report)."""
    lines = report.get("lines", [report])
    by_line = {}
    for r in lines:
        x = r["expectations"]
        talk_s = sum(max((t.get("offset_ms") or 0) + (t.get("duration_ms") or 0)
                         for t in c["turns"]) / 1000 if c["turns"] else 0.0
                     for c in r["calls"])
        by_line[r["line"]] = {
            "checked": x["checked"], "passed": x["passed"],
            "pass_rate": round(x["passed"] / x["checked"], 3) if x["checked"] else None,
            "call_s": round(talk_s, 1),
            "failed": [{"persona": c["persona"], "why": c["why"],
                        "heard": [t["text"] for t in c["turns"] if t["speaker"] == "customer"]}
                       for c in r["calls"] if c["passed"] is False]}
    checked = sum(v["checked"] for v in by_line.values())
    passed = sum(v["passed"] for v in by_line.values())
    call_s = sum(v["call_s"] for v in by_line.values())
    return {"bench": "lines", "runs": sum(len(r["calls"]) for r in lines),
            "expected": checked, "passed": passed,
            "pass_rate": round(passed / checked, 3) if checked else None,
            "goal_pass_rate_every_line": GOAL_PASS_RATE,
            "met": all((v["pass_rate"] or 0) >= GOAL_PASS_RATE for v in by_line.values()),
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "cpu_s_per_call_s": round(cpu / call_s, 3) if call_s else None,
            "by_line": by_line}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--personas", type=Path, default=PERSONAS)
    p.add_argument("--line", action="append", help="instead of the personas file's lines")
    p.add_argument("--rtp-port-base", type=int, default=47600)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="lines-bench-") as tmp:
        work = Path(tmp)
        env = dry_run_env(work, args.rtp_port_base)
        script = demo_copy(work / "script", args.personas.read_text(encoding="utf-8"), AMD)
        cid = str(create_campaign(env, "lines", script))
        extra = [a for line in args.line or [] for a in ("--line", line)]
        t, cpu = time.perf_counter(), _children_cpu()
        run = subprocess.run(dialer_cmd("campaign", "dry-run", cid, "--json", "--timeout",
                                        "900", *extra), env=env, capture_output=True,
                             text=True, timeout=4 * 1000, check=False)
        wall, cpu = time.perf_counter() - t, _children_cpu() - cpu
        if run.returncode not in (0, 1):  # 1: some persona failed, which is a result
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
        report = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(summary(report, wall, cpu), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
