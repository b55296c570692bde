"""How many conversations this machine carries at once: caller-side turn latency, audio
underruns, memory and CPU with N simultaneous calls (see bench/turn_latency.py for how
the calls are placed and timed). Prints one JSON document:

    {"calls", "cores", "p95_ms", "underruns", "mem_mb", "cpu_per_call_s_per_s"}

`underruns` counts holes inside the robot's replies: a sentence whose audio was not
ready when the one before it had played out. `late_frames` counts the robot's speech
frames its media clock sent more than 40 ms after the previous one (scheduling jitter on
a busy machine), and `caller_jitter_buffer` what the simulated callers' jitter buffers
made of the robot's audio: `empty` is how often one had no frame when its clock asked
(a gap or concealment the caller could hear), `discard` frames dropped to cut delay.

`mem_mb` is the total PSS of the worker's processes (the parent holding the model and
every call process), so the shared model pages count once. The simulated customers run
on the same cores and are not counted in mem_mb or cpu.

    .venv/bin/python bench/concurrency.py --calls 8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.turn_latency import pct, run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=8, help="simultaneous calls")
    p.add_argument("--persona", default="+821011110001", help="number the robot dials")
    p.add_argument("--stagger", type=float, default=0.0, metavar="S",
                   help="spread the call starts evenly over S seconds (default 0: all at "
                        "once, every turn of every call on the same moment)")
    p.add_argument("--per-process", type=int, default=4, metavar="K",
                   help="calls at once in each call process, a thread per call, as the "
                        "worker's DIALER_CALLS_PER_PROCESS (default 4, the most one "
                        "pjsua2 Endpoint holds; 1: a process per call)")
    args = p.parse_args()
    results, caller, mem_mb, jitter = run(args.calls, args.persona, args.stagger,
                                          args.per_process)
    sim_cpu = jitter.pop("simulators_cpu_per_s")
    done = [r for r in results if "cpu_s" in r]
    talk = sum(r["talk_s"] for r in done)
    print(json.dumps({
        "bench": "concurrency", "calls": args.calls, "cores": os.cpu_count(),
        "stagger_s": args.stagger, "per_process": args.per_process,
        "p50_ms": pct(caller, 0.5), "p95_ms": pct(caller, 0.95),
        "underruns": sum(r["underruns"] for r in done),
        "late_frames": sum(r["late_frames"] for r in done),
        "caller_jitter_buffer": jitter,
        "mem_mb": round(mem_mb, 1),
        "cpu_per_call_s_per_s": round(sum(r["cpu_s"] for r in done) / talk, 4) if talk
        else None,
        # The simulated customers' share of the same cores, in CPU seconds a second.
        "simulators_cpu_per_s": sim_cpu,
        "completed": sum(r.get("disposition") == "interested" for r in results),
        "errors": [r["error"] for r in results if "error" in r][:3],
    }, indent=1))
    return 0 if len(done) == args.calls else 1


if __name__ == "__main__":
    raise SystemExit(main())
