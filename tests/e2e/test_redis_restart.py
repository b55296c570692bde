"""Redis killed (-9) with calls live, and started again empty on its port: the broker's
queues are gone. The worker stays up and reconnects, the dispatcher is back within
seconds, the claimed calls whose task messages were lost are sent again at once, and
the campaign finishes with every contact final and no attempt open.

Found by bench/chaos.py: a call process that holds its task while its slots are full
left that task unacknowledged, and kombu's restore of unacknowledged messages on the
lost connection raised (AttributeError in its Redis transport), which stopped the whole
worker: no dispatcher, no calls, the campaign stalled."""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.lifecycle import progress
from campaigns.models import CallAttempt
from campaigns.statuses import AttemptStatus
from tests.support.chaos import (
    Redis,
    Worker,
    contacts_csv,
    create_campaign,
    database,
    dispatch_rounds,
    farm_env,
    short_script,
    start_campaign,
    tally,
    wait_until,
)
from tests.support.sipp_farm import sipp_farm

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]


def test_redis_restarted_empty_mid_campaign(tmp_path: Path) -> None:
    redis = Redis(tmp_path / "redis").start()
    try:
        with sipp_farm(tmp_path / "farm") as farm:
            env = farm_env(tmp_path, redis.url, farm.target, 53800, 2)
            cid = create_campaign(env, "redis", short_script(tmp_path / "script"),
                                  contacts_csv(tmp_path / "list.csv", 8), concurrent=4)
            db = database(env)
            log = tmp_path / "worker.log"
            worker = Worker(env, log, processes=2).start()
            try:
                start_campaign(env, cid)

                def answered() -> int:
                    with db.session() as s:
                        return len(s.scalars(select(CallAttempt.id).where(
                            CallAttempt.campaign_id == cid,
                            CallAttempt.status == AttemptStatus.ANSWERED)).all())
                wait_until(lambda: answered() == 4, 90, "four calls answered")
                redis.kill9()
                time.sleep(1)
                redis.start()  # the same port, nothing in it
                back = datetime.now()
                recovery = wait_until(lambda: any(t > back for t in dispatch_rounds(log)), 30,
                                      "the dispatcher's next round")
                wait_until(lambda: progress(db, cid)["status"] == "finished", 180,
                           "the campaign finished")
                assert worker.proc is not None and worker.proc.poll() is None, \
                    log.read_text(errors="replace")[-3000:]
            finally:
                worker.stop()
    finally:
        redis.stop()
    result = tally(db, cid)
    assert result.contacts == result.final == 8, result
    assert result.open_attempts == result.overlapping_dials == 0, result
    assert recovery <= 10, recovery
