"""Reliability under churn: many short calls, back to back, from several call processes at
once, with several calls per process in parallel, against the customer simulator.

Each call is a tiny real conversation (greeting -> "네 좋아요" -> goodbye), so a stuck
media path, a lost answer or a crash shows up as a wrong disposition. Mirrors the
worker's process model (preload, fork, one Endpoint per process). Prints one JSON
document; exits 1 if any call did not end as expected.

    .venv/bin/python bench/sip_churn.py [--processes 2] [--parallel 2] [--calls 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import fork_each, simulator

SCRIPT = """\
language: ko
start: greeting
settings: {no_input_timeout_s: 5, max_no_input: 1}
global_intents: {request_human: handoff}
nodes:
  greeting: {say: "안녕하세요. 행복통신입니다. 잠시 괜찮으세요?", expect: {affirm: bye, deny: bye}}
  bye: {say: "감사합니다.", end: interested}
  handoff: {say: "연결해 드리겠습니다.", end: handoff, handoff: true}
"""
PERSONAS = """\
personas:
  - {name: quick, number: "+821099990001", ring_s: 0.2, replies: [{say: "네 좋아요"}]}
"""


def process(index: int, args: argparse.Namespace, model: object,
            script: Path) -> list[dict[str, Any]]:
    from dialer.call.runtime import CallRuntime
    from dialer.settings import DialerSettings
    from voices.settings import VoiceSettings

    rt = CallRuntime(DialerSettings(), VoiceSettings(), model, process_index=index + 1)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def lane() -> None:
        for _ in range(args.calls):
            t0 = time.monotonic()
            try:
                o = rt.call("+821099990001", str(script), {}, ring_timeout_s=8)
                row = {"disposition": o.disposition, "sip": o.sip_status,
                       "turns": len(o.turns), "s": round(time.monotonic() - t0, 2)}
            except Exception as exc:  # noqa: BLE001  (a crash is a result here)
                row = {"disposition": f"error: {type(exc).__name__}: {exc}", "sip": None,
                       "turns": 0, "s": round(time.monotonic() - t0, 2)}
            with lock:
                results.append(row)

    lanes = [threading.Thread(target=lane) for _ in range(args.parallel)]
    for t in lanes:
        t.start()
    for t in lanes:
        t.join()
    rt.shutdown()
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--processes", type=int, default=2, help="call processes (forked)")
    p.add_argument("--parallel", type=int, default=2, help="calls at once per process (<= 4)")
    p.add_argument("--calls", type=int, default=10, help="calls per lane, back to back")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-churn-"))
    script = work / "script"
    script.mkdir()
    (script / "script.yml").write_text(SCRIPT, encoding="utf-8")
    shutil.copy(ROOT / "campaigns" / "examples" / "demo" / "nlu.yml", script / "nlu.yml")
    (work / "personas.yml").write_text(PERSONAS, encoding="utf-8")
    started = time.monotonic()
    with simulator(work, work / "personas.yml", rtp_port=42000) as sim:
        from dialer.call.runtime import preload
        from voices.settings import VoiceSettings

        model = preload(VoiceSettings())
        sim.wait_ready()
        results: list[dict[str, Any]] = []
        for got in fork_each(args.processes, lambda i: process(i, args, model, script)):
            results += got if isinstance(got, list) else [{"disposition": got["error"]}]

    counts = Counter(str(r["disposition"]) for r in results)
    expected = args.processes * args.parallel * args.calls
    good = counts.get("interested", 0)
    durations = sorted(float(r["s"]) for r in results if r.get("s") is not None)
    print(json.dumps({
        "bench": "sip_churn", "processes": args.processes, "parallel": args.parallel,
        "calls_expected": expected, "calls_done": len(results), "interested": good,
        "outcomes": dict(counts), "call_s_p50": durations[len(durations) // 2] if durations
        else None, "call_s_max": durations[-1] if durations else None,
        "wall_s": round(time.monotonic() - started, 1), "simulator_log": str(sim.log),
    }, ensure_ascii=False, indent=1))
    return 0 if good == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
