"""Turn latency with many calls at once, measured where the caller hears it.

Forks call processes the way the Celery worker does (model and call stack preloaded in
the parent), each placing --per-process calls on threads (default 4, the worker's
default), all at the same moment, to simulated customers on 127.0.0.1 (one simulator process per 4 calls: a pjsua2 process holds at most 4). Each
simulator logs, after every reply it speaks, the milliseconds from the end of its speech
to the first audio frame of the robot's answer. Prints one JSON document:

    {"calls", "turns", "p50_ms", "p95_ms", "processing_p95_ms", ...}

`processing_ms` is the robot's own share: from its endpoint decision (the customer's
trailing silence already waited out) to its reply's first frame leaving.

    .venv/bin/python bench/turn_latency.py --calls 20 [--persona +821011110001]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import fork_each, simulators, smaps

DEMO = ROOT / "campaigns" / "examples" / "demo"
CALLS_PER_SIMULATOR = 4


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def child(index: int, port: int, persona: str, model: Any, start_at: float
          ) -> dict[str, Any]:
    from dialer.call.runtime import CallRuntime
    from dialer.settings import DialerSettings
    from voices.settings import VoiceSettings

    rt = CallRuntime(DialerSettings(), VoiceSettings(), model, process_index=index + 1)
    time.sleep(max(0.0, start_at - time.time()))  # all calls start together
    cpu0 = cpu_s()
    outcome = rt.call(f"sip:{persona}@127.0.0.1:{port}", str(DEMO), {"name": "김민수"},
                      ring_timeout_s=15)
    cpu = cpu_s() - cpu0
    pss = pss_mb()  # after the call, before the Endpoint goes: the process at its peak
    rt.shutdown()
    return summary(outcome, cpu, pss)


def group(first: int, count: int, ports: list[int], persona: str, model: Any,
          start_at: list[float]) -> list[dict[str, Any]]:
    """`count` calls at once in one call process (one pjsua2 Endpoint, a thread per call,
    as a worker process with several call slots runs them); their results, the process's
    CPU shared out evenly."""
    from dialer.call.runtime import CallRuntime
    from dialer.settings import DialerSettings
    from voices.settings import VoiceSettings

    rt = CallRuntime(DialerSettings(), VoiceSettings(), model, process_index=first + 1)
    results: list[dict[str, Any]] = [{} for _ in range(count)]

    def one(k: int) -> None:
        time.sleep(max(0.0, start_at[k] - time.time()))
        try:
            outcome = rt.call(f"sip:{persona}@127.0.0.1:{ports[k]}", str(DEMO),
                              {"name": "김민수"}, ring_timeout_s=15)
        except Exception as exc:  # noqa: BLE001 - reported per call
            results[k] = {"error": f"{type(exc).__name__}: {exc}"}
            return
        results[k] = summary(outcome, 0.0, 0.0)

    cpu0 = cpu_s()
    threads = [threading.Thread(target=one, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu, pss = cpu_s() - cpu0, pss_mb()
    rt.shutdown()
    done = [r for r in results if "error" not in r]
    for r in done:
        r["cpu_s"], r["pss_mb"] = cpu / len(done), pss / len(done)
    return results


def summary(outcome: Any, cpu: float, pss: float) -> dict[str, Any]:
    customer = [t for t in outcome.turns if t.speaker == "customer"]
    return {"disposition": outcome.disposition, "cpu_s": cpu, "talk_s": outcome.duration_s,
            "pss_mb": pss, "underruns": outcome.underruns, "late_frames": outcome.late_frames,
            "latency_ms": [t.latency_ms for t in customer if t.latency_ms is not None],
            "processing_ms": [t.processing_ms for t in customer
                              if t.processing_ms is not None],
            "asr_ms": [t.asr_ms for t in customer if t.asr_ms is not None],
            "nlu_ms": [t.nlu_ms for t in customer if t.nlu_ms is not None],
            "turns": [{"text": t.text, "asr_conf": round(t.asr_confidence or 0, 2),
                       "asr_ms": round(t.asr_ms or 0, 1),
                       "processing_ms": round(t.processing_ms or 0, 1)}
                      for t in customer if t.processing_ms is not None]}


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)  # all threads: pjsua2 media, vosk, ours
    return r.ru_utime + r.ru_stime


def pss_mb(pid: int | str = "self") -> float:
    """Proportional set size: shared pages divided among the processes sharing them, so
    the sum over processes counts the shared model once."""
    return smaps(pid).get("Pss", 0.0)


def run(calls: int, persona: str, stagger_s: float = 0.0, per_process: int = 1
        ) -> tuple[list[dict[str, Any]], list[float], float, dict[str, Any]]:
    """Place `calls` calls at once, or the k-th `k * stagger_s / calls` seconds after
    the first (a dialer's pacing: calls start spread out, so their turns do not all fall
    on the same moment); (per-call results, caller-side latencies, the peak PSS in MB of
    this process and its call processes together, the callers' jitter buffer figures
    plus `simulators_cpu_per_s`: CPU seconds a second the simulated customers used on the
    same cores)."""
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    count = -(-calls // CALLS_PER_SIMULATOR)
    with simulators(work, DEMO / "personas.yml", count) as sims:
        from dialer.call.runtime import preload
        from voices.settings import VoiceSettings

        model = preload(VoiceSettings())
        for sim in sims:
            sim.wait_ready()
        start_at = time.time() + 2.0
        sampler = PssSampler(exclude={sim.proc.pid for sim in sims})
        sampler.start()
        sim_cpu0, wall0 = sum(process_cpu_s(sim.proc.pid) for sim in sims), time.time()
        if per_process <= 1:
            results = fork_each(calls, lambda i: child(
                i, sims[i // CALLS_PER_SIMULATOR].port, persona, model,
                start_at + i * stagger_s / calls))
        else:
            def in_group(g: int) -> list[dict[str, Any]]:
                first = g * per_process
                idx = list(range(first, min(calls, first + per_process)))
                return group(first, len(idx), [sims[i // CALLS_PER_SIMULATOR].port
                                                for i in idx], persona, model,
                             [start_at + i * stagger_s / calls for i in idx])

            groups = fork_each(-(-calls // per_process), in_group)
            results = [r for g in groups for r in (g if isinstance(g, list) else [g])]
        sampler.stop()
        sim_cpu = sum(process_cpu_s(sim.proc.pid) for sim in sims) - sim_cpu0
        caller = [x for sim in sims for x in caller_latencies(sim.log)]
        jitter = caller_jitter([sim.log for sim in sims])
        # From the first call's start to the last one's end: the cores they took from us.
        jitter["simulators_cpu_per_s"] = round(sim_cpu / (time.time() - max(wall0, start_at)), 3)
        return results, caller, sampler.peak_mb, jitter


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PssSampler(threading.Thread):
    """Every second, the summed PSS of this process and its children (the call
    processes) but not of `exclude` (the simulators); keeps the peak."""

    def __init__(self, exclude: set[int]) -> None:
        super().__init__(daemon=True)
        self.exclude, self.peak_mb = exclude, 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self._stop_event.wait(1.0):
            total = pss_mb()
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit() or int(entry.name) in self.exclude:
                    continue
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    if ppid == me:
                        total += pss_mb(entry.name)
                except (OSError, IndexError, ValueError):
                    continue
            self.peak_mb = max(self.peak_mb, total)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def caller_latencies(log: Path) -> list[float]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"event": "latency"' in line:
            out.append(float(json.loads(line)["ms"]))
    return out


def caller_jitter(logs: list[Path]) -> dict[str, Any]:
    """Summed over every call: how the robot's audio reached the simulated callers
    (their jitter buffers' `empty` events are gaps a caller could hear)."""
    stats = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"event": "ended"' in line:
                jitter = json.loads(line).get("jitter") or {}
                if jitter:
                    stats.append(jitter)
    return {"calls": len(stats),
            "empty": sum(int(j["empty"]) for j in stats),
            "discard": sum(int(j["discard"]) for j in stats),
            "lost": sum(int(j["lost"]) for j in stats),
            "avg_delay_ms": round(statistics.mean(j["avg_delay_ms"] for j in stats), 1)
            if stats else None,
            "max_delay_ms": max((j["max_delay_ms"] for j in stats), default=None)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=20, help="concurrent calls")
    p.add_argument("--persona", default="+821011110001", help="number the robot dials")
    p.add_argument("--stagger", type=float, default=0.0, metavar="S",
                   help="spread the call starts evenly over S seconds (default 0: all at "
                        "once, every turn of every call on the same moment)")
    p.add_argument("--per-process", type=int, default=4, metavar="K",
                   help="calls at once in each call process, as the worker's "
                        "DIALER_CALLS_PER_PROCESS (default 4; 1: a process per call)")
    args = p.parse_args()

    results, caller, _, extra = run(args.calls, args.persona, args.stagger, args.per_process)
    robot = [x for r in results for x in r.get("latency_ms", [])]
    processing = [x for r in results for x in r.get("processing_ms", [])]
    asr = [x for r in results for x in r.get("asr_ms", [])]
    nlu = [x for r in results for x in r.get("nlu_ms", [])]
    dispositions = sorted(str(r.get("disposition", r.get("error"))) for r in results)
    print(json.dumps({
        "bench": "turn_latency", "calls": args.calls, "cores": os.cpu_count(),
        "stagger_s": args.stagger, "per_process": args.per_process,
        "simulators_cpu_per_s": extra["simulators_cpu_per_s"],
        "turns": len(caller), "p50_ms": pct(caller, 0.5), "p95_ms": pct(caller, 0.95),
        "max_ms": max(caller, default=None),
        "processing_p50_ms": pct(processing, 0.5), "processing_p95_ms": pct(processing, 0.95),
        "robot_side_p50_ms": pct(robot, 0.5), "robot_side_p95_ms": pct(robot, 0.95),
        "asr_p95_ms": pct(asr, 0.95), "nlu_p95_ms": pct(nlu, 0.95),
        "mean_caller_ms": round(statistics.mean(caller), 1) if caller else None,
        "dispositions": {d: dispositions.count(d) for d in sorted(set(dispositions))},
        "slowest_turns": sorted((t for r in results for t in r.get("turns", [])),
                                key=lambda t: -t["processing_ms"])[:5],
        "errors": [r["traceback"] for r in results if "traceback" in r][:2],
    }, ensure_ascii=False, indent=1))
    return 0 if caller else 1


if __name__ == "__main__":
    raise SystemExit(main())
