"""Calls go to the processes that have room. Each call process carries up to
DIALER_CALLS_PER_PROCESS calls; once they are all busy it keeps the task it is on until
one frees, so Celery counts it busy and sends the next call elsewhere. Before, a full
process took the next task anyway, waited 3 s, sent it back to the queue, and often got
it again: with slots free in another process a call waited 18-37 s to be placed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.lifecycle import progress
from campaigns.models import CallAttempt
from tests.support.chaos import (
    Redis,
    Worker,
    contacts_csv,
    create_campaign,
    database,
    farm_env,
    short_script,
    start_campaign,
    wait_until,
)
from tests.support.sipp_farm import sipp_farm

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]


def test_every_call_of_a_wave_is_placed_at_once_when_slots_are_free(tmp_path: Path) -> None:
    redis = Redis(tmp_path / "redis").start()
    try:
        with sipp_farm(tmp_path / "farm") as farm:
            env = farm_env(tmp_path, redis.url, farm.target, 53600, 2)
            # Two call processes and the spare: six slots for a wave of five.
            cid = create_campaign(env, "spread", short_script(tmp_path / "script"),
                                  contacts_csv(tmp_path / "list.csv", 5), concurrent=5)
            db = database(env)
            worker = Worker(env, tmp_path / "worker.log", processes=2).start()
            try:
                start_campaign(env, cid)
                wait_until(lambda: progress(db, cid)["status"] == "finished", 200,
                           "the campaign finished")
            finally:
                worker.stop()
    finally:
        redis.stop()
    with db.session() as s:
        attempts = s.scalars(select(CallAttempt).where(CallAttempt.campaign_id == cid)).all()
        created = min(a.created_at for a in attempts)
        waits = sorted((a.dialed_at - created).total_seconds() for a in attempts
                       if a.dialed_at is not None)
        answered = [a.answered_at for a in attempts if a.answered_at is not None]
        ended = [a.ended_at for a in attempts if a.ended_at is not None]
    assert len(waits) == len(answered) == 5, waits
    # All five dialled within the dispatcher's pacing (a call a fifth of a second here),
    # and all five conversations under way at the same moment.
    assert waits[-1] < 4.0, waits
    assert max(answered) < min(ended), (answered, ended)
