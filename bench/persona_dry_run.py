"""Callees answering the demo in their own words, over SIP, as the product's dry-run:
how each call ended, whether that is what the callee wanted, and the do-not-call
entries nobody asked for (the worst mistake: the goal is none). Prints JSON.

    .venv/bin/python bench/persona_dry_run.py [--personas bench/data/ko_demo_heldout/personas.yml]

Runs `dialer campaign create` + `dialer campaign dry-run` in a fresh data directory
(SQLite, a private worker and SIP callee farm on 127.0.0.1), then reads the DNC list.
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

from sqlalchemy import select

from campaigns.db import Database
from campaigns.models import DncEntry
from tests.support.procs import create_campaign, demo_copy, dialer_cmd, dry_run_env

PERSONAS = ROOT / "bench" / "data" / "ko_demo_heldout" / "personas.yml"
# What each callee wanted; a person asked for with no agent ready is promised a callback.
EXPECT = {
    "interested": {"interested"},
    "not interested": {"not_interested"},
    "opts out": {"opt_out"},
    "call later": {"callback"},
    "wants a person": {"handoff", "callback"},
    "presses 9": {"opt_out"},
    "silent": {"no_input"},
    "asks who is calling": {"not_interested"},
}
OPT_OUTS = {"opts out", "presses 9"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--personas", type=Path, default=PERSONAS)
    p.add_argument("--rtp-port-base", type=int, default=47200)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="persona-dry-run-") as tmp:
        work = Path(tmp)
        env = dry_run_env(work, args.rtp_port_base)
        script = demo_copy(work / "script", args.personas.read_text(encoding="utf-8"))
        cid = str(create_campaign(env, "own words", script))
        t, cpu = time.perf_counter(), _children_cpu()
        run = subprocess.run(dialer_cmd("campaign", "dry-run", cid, "--json", "--timeout",
                                        "600"), env=env, capture_output=True, text=True,
                             timeout=720, check=False)
        wall, cpu = time.perf_counter() - t, _children_cpu() - cpu
        if run.returncode != 0:
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
        report = json.loads(run.stdout.strip().splitlines()[-1])
        db = Database(f"sqlite:///{(work / 'data' / 'dialer.db').resolve()}")
        with db.session() as s:
            dnc = {e.phone: e.source for e in s.scalars(select(DncEntry))}
    calls = []
    for c in report["calls"]:
        said = [(t["text"], t["intent"]) for t in c["turns"] if t["speaker"] == "customer"]
        calls.append({"persona": c["persona"], "disposition": c["disposition"],
                      "as_wanted": c["disposition"] in EXPECT.get(c["persona"], set()),
                      "on_dnc": c["phone"] in dnc, "heard": said})
    wrong_dnc = [c["persona"] for c in calls if c["on_dnc"] and c["persona"] not in OPT_OUTS]
    print(json.dumps({
        "bench": "persona_dry_run", "personas": len(calls),
        "as_wanted": sum(c["as_wanted"] for c in calls),
        "wrong_dnc_entries": len(wrong_dnc), "wrong_dnc_personas": wrong_dnc,
        "missed_opt_outs": [c["persona"] for c in calls
                            if c["persona"] in OPT_OUTS and not c["on_dnc"]],
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "calls": calls,
    }, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
