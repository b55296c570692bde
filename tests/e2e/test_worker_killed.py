"""A worker killed -9 with live calls (its parent, call children and beat at once), a
new worker started: the campaign finishes by itself. Callees are a SIPp farm (real SIP,
not our simulator). Before leases, the attempts that were live at the kill stayed
`answered` for ever, holding the campaign's concurrency slots, and it never finished."""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.lifecycle import progress
from campaigns.models import CallAttempt, Contact
from campaigns.statuses import AttemptStatus
from tests.support.chaos import (
    Redis,
    Worker,
    contacts_csv,
    create_campaign,
    database,
    farm_env,
    short_script,
    start_campaign,
    tally,
    wait_until,
)
from tests.support.sipp_farm import sipp_farm

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(420),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]


def test_a_worker_killed_with_live_calls_leaves_nothing_open(tmp_path: Path) -> None:
    redis = Redis(tmp_path / "redis").start()
    try:
        with sipp_farm(tmp_path / "farm") as farm:
            env = farm_env(tmp_path, redis.url, farm.target, 53200, 4)
            cid = create_campaign(env, "killed", short_script(tmp_path / "script"),
                                  contacts_csv(tmp_path / "list.csv", 6), concurrent=4,
                                  retry_delays={"interrupted": 2})
            db = database(env)
            worker = Worker(env, tmp_path / "worker.log", processes=1).start()
            try:
                start_campaign(env, cid)

                def answered() -> list[int]:
                    with db.session() as s:
                        return list(s.scalars(select(CallAttempt.id).where(
                            CallAttempt.campaign_id == cid,
                            CallAttempt.status == AttemptStatus.ANSWERED)))
                wait_until(lambda: len(answered()) == 4, 90, "four calls answered")
                time.sleep(2)  # into the conversation
                live = answered()
                assert len(live) == 4
                killed_at = datetime.now()
                pids = worker.kill9()
                assert len(pids) >= 3, pids  # parent, 2 children (1 call + 1 spare), beat
            finally:
                worker.stop()
            # Nobody is left to close them: they are still open, holding every slot.
            time.sleep(3)
            assert tally(db, cid).open_attempts == 4
            worker = Worker(env, tmp_path / "worker.log", processes=1).start()
            try:
                recovery = wait_until(lambda: tally(db, cid).open_attempts < 4, 30,
                                      "the interrupted calls closed")
                wait_until(lambda: progress(db, cid)["status"] == "finished", 240,
                           "the campaign finished")
            finally:
                worker.stop()
            invites = farm.invites()
    finally:
        redis.stop()

    result = tally(db, cid)
    assert result.contacts == result.final == 6, result
    assert result.open_attempts == 0 and result.overlapping_dials == 0, result
    assert recovery <= 10, recovery
    with db.session() as s:
        attempts = {a.id: a for a in s.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == cid))}
        contacts = {c.id: c for c in s.scalars(
            select(Contact).where(Contact.campaign_id == cid))}
        # What the interrupted attempts say: cut off mid-conversation, by whom, when.
        for a in (attempts[i] for i in live):
            assert (a.status, a.disposition) == (AttemptStatus.FAILED, "interrupted")
            assert a.reason and "is gone" in a.reason and "during the conversation" in \
                a.reason, a.reason
            assert a.answered_at is not None and a.ended_at is not None
        # Each of their contacts was called again and reached a real ending.
        for c in contacts.values():
            assert c.last_disposition not in (None, "interrupted"), c.last_disposition
        again = [a for a in attempts.values() if a.attempt_no == 2]
        assert sorted(a.contact_id for a in again) == sorted(attempts[i].contact_id
                                                              for i in live)
    # From the callees' side: every number's second INVITE came after the kill, and no
    # number was called more than twice.
    per_number: dict[str, list[datetime]] = {}
    for inv in invites:
        per_number.setdefault(inv.number, []).append(inv.at)
    assert len(per_number) == 6, per_number
    for number, times in per_number.items():
        assert len(times) <= 2, (number, times)
        if len(times) == 2:
            assert min(times) < killed_at < max(times), (number, times, killed_at)
    assert sum(len(t) == 2 for t in per_number.values()) == 4
