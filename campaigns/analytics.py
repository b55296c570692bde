"""Campaign metrics with written definitions, computed with pandas from the attempts and
turns of the calls (the dashboards and reports of the analysts' pages read these).

`metrics(attempts, turns)` is pure: it takes two DataFrames (see ATTEMPT_COLUMNS and
TURN_COLUMNS) and returns every metric; `load(db, ...)` reads them from the database.
Each definition in DEFINITIONS is what the dashboard shows as help text.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select

from campaigns.db import Database
from campaigns.models import CallAttempt, Turn

# Dispositions that count as a conversion (the campaign's goal reached).
SUCCESS = frozenset({"interested"})
# A live person not with an agent this long after the robot decided to hand off is an
# abandoned call (the regulators' 2 seconds).
ABANDON_AFTER_S = 2.0
FALLBACK_INTENT = "nlu_fallback"

DEFINITIONS: dict[str, str] = {
    "attempts": "Calls placed: every attempt that was dialed (not those still queued or "
                "blocked by a do-not-call list before dialing).",
    "answered": "Attempts the far end answered (a person or a machine).",
    "connect_rate": "Answered ÷ attempts.",
    "live_contacts": "Answered by a person: answered, and not an answering machine.",
    "live_contact_rate": "Live contacts ÷ attempts.",
    "machine_rate": "Answering machines ÷ answered.",
    "conversions": "Live contacts that ended in a success disposition (interested).",
    "conversion_rate": "Conversions ÷ live contacts.",
    "handoffs": "Live contacts the robot handed to a person.",
    "handoff_rate": "Handoffs ÷ live contacts.",
    "abandoned": "Handoffs where the person was not with an agent within 2 s of the "
                 "robot's decision (no agent, or one who came later).",
    "abandon_rate": "Abandoned ÷ live contacts.",
    "avg_handle_s": "Mean seconds from answer to hang-up over answered calls (the "
                    "agent's part included).",
    "avg_turns": "Mean number of turns (robot and customer) per answered call.",
    "latency_p50_ms": "Median robot turn latency: end of the customer's speech to the "
                      "first audio of the robot's reply.",
    "latency_p95_ms": "95th percentile of the robot turn latency.",
    "fallback_rate": "Customer turns the robot did not understand ÷ customer turns.",
    "opt_outs": "Calls that ended with the customer opting out (said, keyed, or told "
                "the agent).",
}

ATTEMPT_COLUMNS = ("id", "campaign_id", "status", "disposition", "answered_at",
                   "ended_at", "handoff", "handoff_at", "agent_connected_at",
                   "agent_disposition")
TURN_COLUMNS = ("attempt_id", "speaker", "intent", "latency_ms")
NOT_DIALED = ("queued",)


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else round(num / den, 4)


def metrics(attempts: pd.DataFrame, turns: pd.DataFrame) -> dict[str, Any]:
    """Every metric of DEFINITIONS for these attempts and their turns."""
    a = attempts[~attempts["status"].isin(NOT_DIALED)
                 & (attempts["disposition"].fillna("") != "blocked")]
    answered = a[a["answered_at"].notna()]
    machine = answered["disposition"] == "machine"
    live = answered[~machine]
    conversions = int(live["disposition"].isin(SUCCESS).sum())
    handoffs = live[live["handoff"].fillna(False).astype(bool)]
    waited = (handoffs["agent_connected_at"] - handoffs["handoff_at"]).dt.total_seconds()
    abandoned = int((waited.isna() | (waited > ABANDON_AFTER_S)).sum())
    handle = (answered["ended_at"] - answered["answered_at"]).dt.total_seconds().dropna()
    t = turns[turns["attempt_id"].isin(answered["id"])]
    per_call = t.groupby("attempt_id").size().reindex(answered["id"], fill_value=0)
    customer = t[t["speaker"] == "customer"]
    latency = customer["latency_ms"].dropna()
    opt_outs = int(((a["disposition"] == "opt_out")
                    | (a["agent_disposition"] == "opt_out")).sum())
    n, n_live = len(a), len(live)
    return {
        "attempts": n,
        "answered": len(answered),
        "connect_rate": _ratio(len(answered), n),
        "live_contacts": n_live,
        "live_contact_rate": _ratio(n_live, n),
        "machine_rate": _ratio(int(machine.sum()), len(answered)),
        "conversions": conversions,
        "conversion_rate": _ratio(conversions, n_live),
        "handoffs": len(handoffs),
        "handoff_rate": _ratio(len(handoffs), n_live),
        "abandoned": abandoned,
        "abandon_rate": _ratio(abandoned, n_live),
        "avg_handle_s": round(float(handle.mean()), 2) if len(handle) else None,
        "avg_turns": round(float(per_call.mean()), 2) if len(per_call) else None,
        "latency_p50_ms": round(float(latency.quantile(0.5)), 1) if len(latency) else None,
        "latency_p95_ms": round(float(latency.quantile(0.95)), 1) if len(latency) else None,
        "fallback_rate": _ratio(int((customer["intent"] == FALLBACK_INTENT).sum()),
                                len(customer)),
        "opt_outs": opt_outs,
    }


def load(db: Database, campaign_ids: Iterable[int] | None = None,
         start: datetime | None = None, end: datetime | None = None
         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The attempts (created in [start, end)) of these campaigns and their turns."""
    q = select(*(getattr(CallAttempt, c) for c in ATTEMPT_COLUMNS))
    if campaign_ids is not None:
        q = q.where(CallAttempt.campaign_id.in_(list(campaign_ids)))
    if start is not None:
        q = q.where(CallAttempt.created_at >= start)
    if end is not None:
        q = q.where(CallAttempt.created_at < end)
    with db.session() as s:
        rows = s.execute(q).all()
        attempts = pd.DataFrame(rows, columns=list(ATTEMPT_COLUMNS))
        ids = [int(i) for i in attempts["id"]]
        turn_rows = s.execute(select(*(getattr(Turn, c) for c in TURN_COLUMNS))
                              .where(Turn.attempt_id.in_(ids))).all() if ids else []
    turns = pd.DataFrame(turn_rows, columns=list(TURN_COLUMNS))
    for col in ("answered_at", "ended_at", "handoff_at", "agent_connected_at"):
        attempts[col] = pd.to_datetime(attempts[col], utc=True)
    return attempts, turns
