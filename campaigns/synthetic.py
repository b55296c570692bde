"""A made-up call history that looks like a real campaign's: dispositions in realistic
shares, hand-offs with agents answering fast or late, the script node each call ended on,
and customer and robot turns with latencies. The dashboard benchmark renders 100,000 of
these; tests use a few hundred. Deterministic for a seed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 20, tzinfo=UTC)  # the history is the 30 days before this

# (disposition, answered, end node, customer intents said) and how often each happens.
OUTCOMES: list[tuple[str, bool, str | None, tuple[str, ...], float]] = [
    ("no_answer", False, None, (), 0.30),
    ("busy", False, None, (), 0.08),
    ("failed", False, None, (), 0.02),
    ("machine", True, "voicemail", (), 0.10),
    ("interested", True, "close", ("affirm", "ask_price", "affirm"), 0.12),
    ("not_interested", True, "objection", ("deny", "too_expensive"), 0.22),
    ("hung_up", True, "greeting", (), 0.06),
    ("handoff", True, "handoff", ("ask_price", "request_human"), 0.05),
    ("opt_out", True, "greeting", ("opt_out",), 0.02),
    ("no_input", True, "greeting", ("nlu_fallback", "nlu_fallback"), 0.03),
]


def generate(url: str, calls: int, seed: int = 7) -> tuple[list[int], int]:
    """Two campaigns sharing `calls` calls; returns their ids and the number of turns."""
    from sqlalchemy import insert

    from campaigns.db import Database
    from campaigns.models import CallAttempt, Campaign, Contact, Turn

    rnd = random.Random(seed)
    db = Database(url)
    db.migrate()
    weights = [o[-1] for o in OUTCOMES]
    with db.session() as s:
        ids = []
        for name in ("bench spring", "bench autumn"):
            c = Campaign(name=name, script_dir=str(ROOT / "campaigns" / "examples" / "demo"),
                         status="finished")
            s.add(c)
            s.flush()
            ids.append(c.id)
        contacts, attempts, turns = [], [], []
        for i in range(1, calls + 1):
            cid = ids[i % 2]
            disp, answered, node, said, _ = rnd.choices(OUTCOMES, weights)[0]
            day = END - timedelta(days=rnd.randrange(30))
            dialed = day.replace(hour=rnd.choice(range(12)), minute=rnd.randrange(60),
                                 second=rnd.randrange(60))  # 09:00-21:00 in Seoul
            answer = dialed + timedelta(seconds=rnd.uniform(3, 20)) if answered else None
            length = rnd.uniform(8, 120)
            handoff = disp == "handoff"
            decided = answer + timedelta(seconds=length * 0.6) if handoff and answer else None
            connected = (decided + timedelta(seconds=rnd.choice([0.4, 0.8, 1.5, 3.0, 9.0]))
                         if decided else None)
            contacts.append({"id": i, "campaign_id": cid, "phone": f"+8210{i:08d}",
                             "fields": {}, "status": "done", "attempts": 1,
                             "next_attempt_at": dialed})
            attempts.append({
                "id": i, "campaign_id": cid, "contact_id": i, "attempt_no": 1,
                "status": "completed", "disposition": disp, "handoff": handoff,
                "sip_status": 200 if answered else {"busy": 486, "no_answer": 487}.get(
                    disp, 503), "end_node": node, "created_at": dialed,
                "dialed_at": dialed, "answered_at": answer,
                "ended_at": (answer + timedelta(seconds=length)) if answer else dialed,
                "handoff_at": decided, "agent_connected_at": connected,
                "handoff_result": "connected" if handoff else None,
                "agent": "agent1" if handoff else None})
            if not answered:
                continue
            seq, offset = 0, 0.0
            for intent in ("greeting",) + said:
                bot = intent == "greeting"
                if not bot:
                    seq += 1
                    offset += rnd.uniform(1500, 4000)
                    turns.append({"attempt_id": i, "seq": seq, "speaker": "customer",
                                  "node": node, "text": "…", "intent": intent,
                                  "confidence": rnd.uniform(0.5, 1.0),
                                  "latency_ms": rnd.lognormvariate(5.9, 0.25),
                                  "offset_ms": offset, "created_at": dialed})
                seq += 1
                offset += rnd.uniform(300, 900)
                turns.append({"attempt_id": i, "seq": seq, "speaker": "bot", "node": node,
                              "text": "…", "offset_ms": offset, "created_at": dialed})
        for table, rows in ((Contact, contacts), (CallAttempt, attempts), (Turn, turns)):
            for k in range(0, len(rows), 20000):
                s.execute(insert(table), rows[k:k + 20000])
        s.commit()
    return ids, len(turns)


