"""What one call costs a worker: CPU seconds, private and shared memory, turn latencies.

Mirrors the Celery worker's process model: the parent loads the vosk model, then forks
call processes that each make their own pjsua2 Endpoint (own RTP range) and place calls
one after another to the customer simulator on 127.0.0.1. Prints one JSON document.

    .venv/bin/python bench/call_cost.py [--children 2] [--calls 3] [--persona +821011110001]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import fork_each, simulator, smaps

DEMO = ROOT / "campaigns" / "examples" / "demo"


def memory() -> dict[str, float]:
    """This process's memory in MB."""
    fields = smaps()
    return {"rss_mb": round(fields["Rss"], 1), "pss_mb": round(fields["Pss"], 1),
            "private_mb": round(fields["Private_Clean"] + fields["Private_Dirty"], 1),
            "shared_mb": round(fields["Shared_Clean"] + fields["Shared_Dirty"], 1)}


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)  # all threads: pjsua2 media, vosk, ours
    return r.ru_utime + r.ru_stime


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def child(index: int, args: argparse.Namespace, model: Any) -> dict[str, Any]:
    from dialer.call.runtime import CallRuntime
    from dialer.settings import DialerSettings
    from voices.settings import VoiceSettings

    before = memory()
    rt = CallRuntime(DialerSettings(), VoiceSettings(), model, process_index=index + 1)
    calls = []
    for _ in range(args.calls):
        c0, t0 = cpu_s(), time.monotonic()
        outcome = rt.call(args.persona, str(DEMO), {"name": "김민수"}, ring_timeout_s=10)
        wall, cpu = time.monotonic() - t0, cpu_s() - c0
        customer = [t for t in outcome.turns if t.speaker == "customer"]
        calls.append({"disposition": outcome.disposition, "wall_s": round(wall, 2),
                      "talk_s": outcome.duration_s, "cpu_s": round(cpu, 3),
                      "cpu_pct_of_one_core": round(100 * cpu / wall, 1),
                      "turns": len(outcome.turns),
                      "latency_ms": [t.latency_ms for t in customer if t.latency_ms],
                      "asr_ms": [t.asr_ms for t in customer if t.asr_ms is not None],
                      "nlu_ms": [t.nlu_ms for t in customer if t.nlu_ms is not None],
                      "speech_ms": [t.duration_ms for t in customer if t.duration_ms]})
    after = memory()
    rt.shutdown()
    return {"index": index, "memory_before_calls": before, "memory_after_calls": after,
            "calls": calls}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--children", type=int, default=2, help="call processes at once")
    p.add_argument("--calls", type=int, default=3, help="calls per process, one at a time")
    p.add_argument("--persona", default="+821011110001", help="number the robot dials")
    p.add_argument("--model-only", action="store_true",
                   help="load only the model before the fork (the call stack's modules are "
                        "then imported by each child), to compare with the worker's preload")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-call-"))
    with simulator(work, DEMO / "personas.yml", rtp_port=43000) as sim:
        from voices.settings import VoiceSettings

        v = VoiceSettings()
        m0, t0 = memory(), time.monotonic()
        if args.model_only:
            from voices.asr import load_model, resolve_model_path

            model = load_model(resolve_model_path(v.vosk_model, v.language))
        else:
            from dialer.call.runtime import preload  # exactly what worker.py does

            model = preload(v)
        load = {"load_s": round(time.monotonic() - t0, 2), "before": m0, "after": memory()}
        sim.wait_ready()
        results: list[dict[str, Any]] = fork_each(args.children,
                                                  lambda i: child(i, args, model))

    calls = [c for r in results for c in r.get("calls", [])]
    steady = [c for r in results for c in r.get("calls", [])[1:]] or calls
    lat = [x for c in calls for x in c["latency_ms"]]
    asr = [x for c in calls for x in c["asr_ms"]]
    speech = [x for c in calls for x in c["speech_ms"]]
    summary = {
        "calls": len(calls),
        "dispositions": sorted({c["disposition"] for c in calls}),
        "cpu_s_per_call_first": statistics.mean(r["calls"][0]["cpu_s"]
                                                for r in results if r.get("calls")),
        "cpu_s_per_call_steady": round(statistics.mean(c["cpu_s"] for c in steady), 3),
        "cpu_pct_of_one_core_steady": round(statistics.mean(c["cpu_pct_of_one_core"]
                                                            for c in steady), 1),
        "talk_s_mean": round(statistics.mean(c["talk_s"] for c in calls), 1),
        "private_mb_per_process_after_calls": [r["memory_after_calls"]["private_mb"]
                                               for r in results if "memory_after_calls" in r],
        "shared_mb_per_process_after_calls": [r["memory_after_calls"]["shared_mb"]
                                              for r in results if "memory_after_calls" in r],
        "reply_latency_ms_p50": pct(lat, 0.5), "reply_latency_ms_p95": pct(lat, 0.95),
        "asr_ms_p50": pct(asr, 0.5), "asr_ms_p95": pct(asr, 0.95),
        "asr_rtf": round(sum(asr) / sum(speech), 4) if speech else None,
    }
    print(json.dumps({"bench": "call_cost", "children": args.children,
                      "preload": "model only" if args.model_only else "model + call stack",
                      "calls_per_child": args.calls, "model": load, "summary": summary,
                      "processes": results}, ensure_ascii=False, indent=1))
    return 0 if summary["dispositions"] == ["interested"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
