"""Every campaign metric on a hand-made set of calls whose answers are worked out by
hand (in the comments), and the same metrics read back from a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from campaigns import attempts, dispatch, lifecycle, list_imports
from campaigns.analytics import (
    ATTEMPT_COLUMNS,
    DEFINITIONS,
    LABELS,
    STAGES,
    TIME_COLUMNS,
    TURN_COLUMNS,
    UNITS,
    dashboard,
    funnel,
    load,
    metrics,
)
from campaigns.db import Database
from campaigns.models import CallAttempt
from tests.support.procs import DEMO

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# id, status, disposition, answered, call seconds, handoff, seconds to an agent (None:
# never), agent's disposition, turns as (speaker, intent, latency_ms)
CALLS: list[tuple[Any, ...]] = [
    (1, "completed", "interested", True, 60, False, None, None,
     [("bot", None, None), ("customer", "affirm", 400), ("bot", None, None),
      ("customer", "nlu_fallback", 600)]),
    (2, "completed", "not_interested", True, 30, False, None, None,
     [("bot", None, None), ("customer", "deny", 500)]),
    (3, "completed", "machine", True, 20, False, None, None, [("bot", None, None)]),
    (4, "completed", "no_answer", False, 0, False, None, None, []),
    (5, "completed", "busy", False, 0, False, None, None, []),
    (6, "completed", "handoff", True, 90, True, 1.0, "resolved",
     [("bot", None, None), ("customer", "request_human", 300)]),
    (7, "completed", "callback", True, 40, True, None, None,
     [("bot", None, None), ("customer", "request_human", 700), ("bot", None, None)]),
    (8, "completed", "opt_out", True, 10, False, None, None,
     [("bot", None, None), ("customer", "opt_out", 450)]),
    (9, "completed", "handoff", True, 100, True, 5.0, "opt_out",
     [("bot", None, None), ("customer", "request_human", 350)]),
    (10, "queued", None, False, 0, False, None, None, []),  # not dialed yet
    (11, "completed", "blocked", False, 0, False, None, None, []),  # DNC: never dialed
]


# The script node each answered call ended on.
END_NODE = {1: "close", 2: "objection", 3: "greeting", 6: "handoff", 7: "no_agent",
            8: "greeting", 9: "handoff"}


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, turns = [], []
    for (i, status, disp, answered, secs, handoff, to_agent, agent_disp, said) in CALLS:
        decided = s(i * 1000 + 5) if handoff else None
        rows.append({
            "created_at": s(i * 1000 - 60),
            "dialed_at": s(i * 1000 - 20) if status != "queued" and disp != "blocked"
            else None,
            "end_node": END_NODE.get(i),
            "id": i, "campaign_id": 1, "status": status, "disposition": disp,
            "answered_at": s(i * 1000) if answered else None,
            "ended_at": s(i * 1000 + secs) if answered else None, "handoff": handoff,
            "handoff_at": decided,
            "agent_connected_at": decided + timedelta(seconds=to_agent)
            if decided is not None and to_agent is not None else None,
            "agent_disposition": agent_disp})
        turns += [{"attempt_id": i, "speaker": sp, "intent": it, "latency_ms": lat, "n": 1}
                  for sp, it, lat in said]
    a = pd.DataFrame(rows, columns=list(ATTEMPT_COLUMNS))
    for col in TIME_COLUMNS:
        a[col] = pd.to_datetime(a[col], utc=True)
    return a, pd.DataFrame(turns, columns=list(TURN_COLUMNS))


def test_every_metric_on_calls_worked_out_by_hand() -> None:
    got = metrics(*frames())
    assert got == {
        "attempts": 9,  # 1-9: 10 is still queued, 11 was never dialed
        "answered": 7,  # 1 2 3 6 7 8 9
        "connect_rate": 0.7778,  # 7 / 9
        "live_contacts": 6,  # the answered but 3 (a machine)
        "live_contact_rate": 0.6667,  # 6 / 9
        "machine_rate": 0.1429,  # 1 / 7
        "conversions": 1,  # 1
        "conversion_rate": 0.1667,  # 1 / 6
        "handoffs": 3,  # 6 7 9
        "handoff_rate": 0.5,  # 3 / 6
        "abandoned": 2,  # 7 (no agent) and 9 (5 s); 6 had one after 1 s
        "abandon_rate": 0.3333,  # 2 / 6
        "avg_handle_s": 50.0,  # (60+30+20+90+40+10+100) / 7
        "avg_turns": 2.29,  # (4+2+1+2+3+2+2) / 7
        "latency_p50_ms": 450.0,  # 300 350 400 [450] 500 600 700
        "latency_p95_ms": 670.0,  # between 600 and 700, 0.7 of the way
        "fallback_rate": 0.1429,  # 1 of 7 customer turns
        "opt_outs": 2,  # 8 said so, 9 told the agent
    }
    assert set(got) == set(DEFINITIONS)  # every metric has its written definition


def test_the_dashboards_charts_on_the_same_calls() -> None:
    got = dashboard(*frames(), tz="Asia/Seoul")  # T0 is Monday 19:00 in Seoul
    assert got["funnel"] == [
        {"stage": "dialed", "count": 9}, {"stage": "answered", "count": 7},
        {"stage": "human", "count": 6},
        # every live contact said something understood (1's fallback came after affirm)
        {"stage": "engaged", "count": 6},
        {"stage": "converted", "count": 1}]
    # dialed 20 s before each answer (i x 1000 s after T0): 1-3 in the 19:00 hour,
    # 4-7 in the 20:00 hour, 8-9 in the 21:00 hour, local time
    over = got["over_time"]
    assert over["bucket"] == "hour"
    assert over["labels"] == ["2026-11-02 19:00", "2026-11-02 20:00", "2026-11-02 21:00"]
    assert over["series"]["handoff"] == [0, 1, 1]  # 6 and 9
    assert over["series"]["interested"] == [1, 0, 0]
    assert sum(map(sum, over["series"].values())) == 9
    heat = got["heatmap"]
    assert heat["dialed"][0][19:22] == [3, 4, 2] and sum(map(sum, heat["dialed"])) == 9
    assert heat["answered"][0][19:22] == [3, 2, 2]  # 4 and 5 were not answered
    assert got["intents"] == [  # customer turns of live contacts (3 is a machine)
        {"intent": "request_human", "count": 3}, {"intent": "affirm", "count": 1},
        {"intent": "nlu_fallback", "count": 1}, {"intent": "deny", "count": 1},
        {"intent": "opt_out", "count": 1}]
    drop = {d["node"]: (d["count"], d["dispositions"]) for d in got["drop_off"]}
    assert drop == {"handoff": (2, {"handoff": 2}), "close": (1, {"interested": 1}),
                    "greeting": (1, {"opt_out": 1}), "no_agent": (1, {"callback": 1}),
                    "objection": (1, {"not_interested": 1})}
    lat = got["latency"]  # 300 350 | 400 450 | 500 | 600 | 700
    assert lat["counts"][3:8] == [2, 2, 1, 1, 1] and sum(lat["counts"]) == 7
    assert lat["labels"][3] == "300–400" and lat["labels"][-1] == "≥2000"


def test_every_metric_and_stage_has_a_name_and_a_unit() -> None:
    """The pages say "Average call length", never `avg_handle_s`, and format each
    number by its unit: a share of 1 as a percentage, seconds, milliseconds, a count."""
    a, t = frames()
    got = metrics(a, t)
    assert set(LABELS) == set(UNITS) == set(DEFINITIONS) == set(got)
    assert [f["stage"] for f in funnel(a, t)] == list(STAGES)
    for key, unit in UNITS.items():
        expected = ("%" if key.endswith("_rate") else "ms" if key.endswith("_ms")
                    else "s" if key.endswith("_s") else "n")
        assert unit == expected, key
        if unit == "%":
            assert got[key] is None or 0 <= got[key] <= 1, key
    names = list(LABELS.values()) + list(STAGES.values())
    assert all("_" not in n and n[0].isupper() for n in names), names
    assert len(set(LABELS.values())) == len(LABELS)  # no two metrics named alike
    assert UNITS["avg_handle_s"] == "s" and LABELS["avg_handle_s"] == "Average call length"


def test_over_time_goes_daily_past_two_days_and_keeps_empty_days() -> None:
    a, t = frames()
    a.loc[a["id"] == 9, "dialed_at"] = a.loc[a["id"] == 9, "dialed_at"] + pd.Timedelta(days=4)
    over = dashboard(a, t, tz="UTC")["over_time"]
    assert over["bucket"] == "day"
    assert over["labels"] == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05",
                              "2026-11-06"]
    assert over["series"]["handoff"] == [1, 0, 0, 0, 1]


def test_no_calls_give_no_rates_rather_than_a_division_by_zero() -> None:
    a, t = frames()
    got = metrics(a[a["id"] == 10], t[t["attempt_id"] == 10])
    assert got["attempts"] == 0 and got["connect_rate"] is None
    assert got["avg_handle_s"] is None and got["latency_p50_ms"] is None


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_metrics_from_the_database(backend: str, request: pytest.FixtureRequest,
                                   tmp_path: Path) -> None:
    from tests.conftest import database_url

    db = Database(database_url(backend, request, tmp_path))
    db.migrate()
    csv = tmp_path / "list.csv"
    csv.write_text("name,phone\n가,010-5200-0001\n나,010-5200-0002\n", encoding="utf-8")
    cid = list_imports.create_campaign(db, name="metrics", script_dir=DEMO, csv_path=csv,
                                  uploads_dir=tmp_path / "up", dry_run=True).campaign_id
    lifecycle.start_campaign(db, cid)
    first, second = dispatch.claim_due(db, sandbox=True)
    attempts.mark_answered(db, first)
    attempts.finish_attempt(db, first, disposition="interested", sip_status=200,
                           sip_reason="OK", reason=None, handoff=False, end_node="close",
                           recording=None)
    attempts.finish_attempt(db, second, disposition="busy", sip_status=486,
                           sip_reason="Busy", reason=None, handoff=False, end_node=None,
                           recording=None)
    rows, _turns = load(db, [cid])
    got = metrics(rows, _turns)
    assert (got["attempts"], got["answered"], got["conversions"]) == (2, 1, 1)
    with db.session() as s:  # timestamps survive the fast path (text or epoch seconds)
        a = s.get(CallAttempt, first)
        assert a is not None and a.answered_at is not None
        stored = pd.Timestamp(a.answered_at).tz_convert("UTC") if pd.Timestamp(
            a.answered_at).tzinfo else pd.Timestamp(a.answered_at, tz="UTC")
    loaded = rows.loc[rows["id"] == first, "answered_at"].iloc[0]
    assert abs((loaded - stored).total_seconds()) < 1e-5
    assert got["connect_rate"] == 0.5 and got["conversion_rate"] == 1.0
    assert metrics(*load(db, [cid + 1]))["attempts"] == 0
