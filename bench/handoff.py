"""Escalation decision -> agent phone ringing, over real SIP on loopback.

Starts a private Redis (the ACD), a customer simulator whose persona asks for a person,
and agent phones (simulated, auto-answering); logs in one auto-accepting, ready agent
per call; then forks call processes the way the worker does, each placing one call
with the handoff desk. Each call records when the robot decided to hand off, when the
agent's phone sent 180 Ringing, and when it answered (bridged). Prints one JSON document:

    {"handoffs", "connected", "ringing_p50_s", "ringing_p95_s", "ringing_max_s",
     "answered_p50_s", "goal_ringing_s": 1.0}

    .venv/bin/python bench/handoff.py --calls 4 [--stagger 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import fork_each, free_port, simulators

DEMO = ROOT / "campaigns" / "examples" / "demo"
PHONE_CALLS = 4  # a pjsua2 process holds 4 calls: one agent-phone simulator per 4 agents

CUSTOMER = """\
personas:
  - name: wants a person
    number: "+821099990001"
    ring_s: 0.3
    replies:
      - say: 담당자 연결 해 주세요
"""


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def agent_phones(count: int) -> str:
    lines = ["personas:"]
    for i in range(count):
        lines += [f"  - name: agent {i}", f"    number: agent{i}", "    answer: agent",
                  "    ring_s: 0.3", "    talk_s: 2", "    greeting: 네 상담원입니다"]
    return "\n".join(lines) + "\n"


def child(index: int, customer_port: int, acd_url: str, model: Any, start_at: float
          ) -> dict[str, Any]:
    from dialer.call.runtime import CallRuntime
    from dialer.handoff.acd import Acd
    from dialer.handoff.desk import HandoffDesk
    from dialer.settings import DialerSettings
    from voices.settings import VoiceSettings

    rt = CallRuntime(DialerSettings(), VoiceSettings(), model, process_index=index + 1)
    desk = HandoffDesk(acd=Acd.from_url(acd_url), call_id=f"bench-{index}", queue="bench",
                       info={"phone": "+821099990001", "campaign": "bench"},
                       plan_callback=lambda at: at)
    time.sleep(max(0.0, start_at - time.time()))
    outcome = rt.call(f"sip:+821099990001@127.0.0.1:{customer_port}", str(DEMO),
                      {"name": "김민수"}, ring_timeout_s=15, handoff=desk)
    rt.shutdown()

    def after(t: Any) -> float | None:
        if t is None or outcome.handoff_at is None:
            return None
        return round((t - outcome.handoff_at).total_seconds(), 3)

    return {"disposition": outcome.disposition, "result": outcome.handoff_result,
            "agent": outcome.agent, "ringing_s": after(outcome.agent_ringing_at),
            "answered_s": after(outcome.agent_connected_at), "reason": outcome.reason}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=4, help="handed-off calls (one per process)")
    p.add_argument("--stagger", type=float, default=0.0, metavar="S",
                   help="spread the call starts evenly over S seconds (default: all at once)")
    args = p.parse_args()

    from dialer.sandbox.stack import start_redis, stop_process

    work = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    acd_url = f"redis://127.0.0.1:{free_port()}/0"
    redis_proc = start_redis(acd_url, work / "redis")
    os.environ["DIALER_BROKER_URL"] = acd_url
    customers, phones = work / "customer.yml", work / "phones.yml"
    customers.write_text(CUSTOMER, encoding="utf-8")
    phones.write_text(agent_phones(args.calls), encoding="utf-8")
    try:
        with simulators(work / "customers", customers, -(-args.calls // PHONE_CALLS)) as cs, \
                simulators(work / "phones", phones, -(-args.calls // PHONE_CALLS),
                           rtp_base=32000) as ps:
            from dialer.call.runtime import preload
            from dialer.handoff.acd import Acd
            from voices.settings import VoiceSettings

            model = preload(VoiceSettings())
            for sim in cs + ps:
                sim.wait_ready()
            acd = Acd.from_url(acd_url)
            for i in range(args.calls):
                acd.login(f"agent{i}", sip_uri=f"sip:agent{i}@127.0.0.1:"
                                              f"{ps[i // PHONE_CALLS].port}", auto_accept=True)
                acd.ready(f"agent{i}")
            start_at = time.time() + 2.0
            results = fork_each(args.calls, lambda i: child(
                i, cs[i // PHONE_CALLS].port, acd_url, model,
                start_at + i * args.stagger / max(1, args.calls)))
    finally:
        if redis_proc is not None:
            stop_process(redis_proc)
    ringing = [r["ringing_s"] for r in results if r.get("ringing_s") is not None]
    answered = [r["answered_s"] for r in results if r.get("answered_s") is not None]
    print(json.dumps({
        "bench": "handoff", "calls": args.calls, "stagger_s": args.stagger,
        "cores": os.cpu_count(), "handoffs": sum(1 for r in results if r.get("result")),
        "connected": sum(1 for r in results if r.get("result") == "connected"),
        "ringing_p50_s": pct(ringing, 0.5), "ringing_p95_s": pct(ringing, 0.95),
        "ringing_max_s": max(ringing, default=None),
        "answered_p50_s": pct(answered, 0.5), "answered_max_s": max(answered, default=None),
        "goal_ringing_s": 1.0, "calls_detail": results,
    }, ensure_ascii=False, indent=1))
    return 0 if ringing else 1


if __name__ == "__main__":
    raise SystemExit(main())
