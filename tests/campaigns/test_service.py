"""Campaign storage: import bookkeeping, the atomic claim, outcomes and retries."""

from __future__ import annotations

import multiprocessing as mp
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from campaigns import attempts, dispatch, lifecycle, list_imports
from campaigns.db import Database
from campaigns.lifecycle import CampaignError
from campaigns.models import CallAttempt, Contact, ImportRejection, utcnow

DEMO = Path(__file__).resolve().parents[2] / "campaigns" / "examples" / "demo"


def make_db(url: str) -> Database:
    db = Database(url)
    db.migrate()
    return db


def write_csv(tmp_path: Path, n: int, bad: int = 0) -> Path:
    lines = ["name,phone"] + [f"c{i},010-2000-{i:04d}" for i in range(n)]
    lines += [f"bad{i},99{i}" for i in range(bad)]
    p = tmp_path / "list.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def new_campaign(db: Database, tmp_path: Path, n: int = 5, **kw: Any) -> int:
    """A campaign whose call windows do not apply (dry-run), so these tests do not depend
    on the hour they run at; tests/campaigns/test_dispatch_rules.py checks the windows."""
    kw.setdefault("dry_run", True)
    summary = list_imports.create_campaign(db, name=f"c{n}-{len(kw)}", script_dir=DEMO,
                                      csv_path=write_csv(tmp_path, n, bad=1),
                                      uploads_dir=tmp_path / "uploads", **kw)
    return summary.campaign_id


def test_import_keeps_rejections_and_the_original_file(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    summary = list_imports.create_campaign(db, name="x", script_dir=DEMO,
                                      csv_path=write_csv(tmp_path, 3, bad=2),
                                      uploads_dir=tmp_path / "uploads")
    assert (summary.accepted, summary.rejected) == (3, 2)
    assert [e["row"] for e in summary.errors] == [5, 6]
    with db.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 3
        rows = s.scalars(select(ImportRejection).order_by(ImportRejection.row)).all()
        assert [r.value for r in rows] == ["990", "991"]
        assert rows[0].raw == {"name": "bad0", "phone": "990"}
        c = s.scalars(select(Contact).order_by(Contact.id)).first()
        assert c is not None and c.phone == "+821020000000" and c.fields == {"name": "c0"}
    stored = list((tmp_path / "uploads").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == (tmp_path / "list.csv").read_bytes()


def test_duplicate_campaign_name_is_refused_and_nothing_changes(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    new_campaign(db, tmp_path, 3)
    with pytest.raises(CampaignError, match="already exists"):
        new_campaign(db, tmp_path, 3)
    with db.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 3


def test_claim_respects_running_state_and_concurrency(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = new_campaign(db, tmp_path, 5, max_concurrent=2)
    assert dispatch.claim_due(db, sandbox=True) == []  # draft campaigns are not dialed
    lifecycle.start_campaign(db, cid)
    first = dispatch.claim_due(db, sandbox=True)
    assert len(first) == 2
    assert dispatch.claim_due(db, sandbox=True) == []  # both slots busy
    assert attempts.begin_attempt(db, first[0]) is True
    assert attempts.begin_attempt(db, first[0]) is False  # a second delivery is refused
    attempts.finish_attempt(db, first[0], disposition="callback", sip_status=200,
                           sip_reason="OK", reason=None, handoff=False, end_node="x",
                           recording=None, slots={"day": "내일", "time": "세 시"})
    assert len(dispatch.claim_due(db, sandbox=True)) == 1
    with db.session() as s:
        attempt = s.get(CallAttempt, first[0])
        assert attempt is not None and attempt.slots == {"day": "내일", "time": "세 시"}


def _claim_loop(url: str, rounds: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    db = Database(url)
    got: list[int] = []
    for _ in range(rounds):
        got += dispatch.claim_due(db, sandbox=True, limit=3)
    out.put(got)


def test_concurrent_dispatchers_never_claim_a_contact_twice(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = new_campaign(db, tmp_path, 60, max_concurrent=1000)
    lifecycle.start_campaign(db, cid)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_claim_loop, args=(db.url, 15, out)) for _ in range(4)]
    for p in procs:
        p.start()
    claimed = [a for _ in procs for a in out.get(timeout=60)]
    for p in procs:
        p.join(30)
    assert len(claimed) == len(set(claimed)) == 60
    with db.session() as s:
        per_contact = s.execute(select(CallAttempt.contact_id, func.count())
                                .group_by(CallAttempt.contact_id)).all()
        assert len(per_contact) == 60 and all(n == 1 for _, n in per_contact)


def test_busy_is_retried_after_the_delay_until_attempts_run_out(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = new_campaign(db, tmp_path, 1, max_attempts=2, retry_delay_s=300)
    lifecycle.start_campaign(db, cid)
    [a1] = dispatch.claim_due(db, sandbox=True)
    attempts.finish_attempt(db, a1, disposition="busy", sip_status=486, sip_reason="Busy",
                           reason=None, handoff=False, end_node=None, recording=None)
    assert dispatch.claim_due(db, sandbox=True) == []  # not due yet
    assert lifecycle.finish_campaigns(db) == []
    [a2] = dispatch.claim_due(db, sandbox=True, now=utcnow() + timedelta(seconds=301))
    with db.session() as s:
        assert s.get(CallAttempt, a2).attempt_no == 2  # type: ignore[union-attr]
    attempts.finish_attempt(db, a2, disposition="busy", sip_status=486, sip_reason="Busy",
                           reason=None, handoff=False, end_node=None, recording=None)
    assert dispatch.claim_due(db, sandbox=True, now=utcnow() + timedelta(days=1)) == []
    assert lifecycle.finish_campaigns(db) == [cid]


def test_released_attempt_gives_the_contact_back(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = new_campaign(db, tmp_path, 1)
    lifecycle.start_campaign(db, cid)
    [a] = dispatch.claim_due(db, sandbox=True)
    assert attempts.release_attempt(db, a) is True
    [again] = dispatch.claim_due(db, sandbox=True)
    with db.session() as s:
        assert s.get(CallAttempt, again).attempt_no == 1  # type: ignore[union-attr]
