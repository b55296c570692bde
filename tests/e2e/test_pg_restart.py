"""PostgreSQL stopped for several seconds during live calls and started again: the calls
go on, the turns they said meanwhile and their outcomes are stored once the server is
back (none lost), the dispatcher skips its rounds with one line each instead of a
traceback and resumes, the campaign finishes, and the web app answers 503 with a plain
sentence while the database is away and 200 again after, without a restart."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from campaigns.lifecycle import progress
from campaigns.models import CallAttempt, Turn
from campaigns.statuses import AttemptStatus
from tests.support import postgres
from tests.support.browser import web_server
from tests.support.chaos import (
    Redis,
    Worker,
    contacts_csv,
    create_campaign,
    database,
    farm_env,
    restart_postgres,
    short_script,
    start_campaign,
    tally,
    wait_until,
)
from tests.support.procs import dialer_cmd
from tests.support.sipp_farm import sipp_farm

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(360),
    pytest.mark.skipif(shutil.which("sipp") is None or not postgres.available(),
                       reason="needs sipp (sip-tester) and PostgreSQL"),
]
PASSWORD = "restart-test-password-1"


@contextmanager
def logged_in(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, form[:500]
        done = client.post("/login", data={"username": "ana", "password": PASSWORD,
                                            "csrf_token": token.group(1)})
        assert done.status_code == 303, done.text[:500]
        yield client


def test_postgresql_restarted_during_calls(tmp_path: Path) -> None:
    redis = Redis(tmp_path / "redis").start()
    try:
        with postgres.postgres_server() as server, sipp_farm(tmp_path / "farm") as farm:
            url = postgres.fresh_database(server)
            env = farm_env(tmp_path, redis.url, farm.target, 54400, 4,
                           DIALER_DATABASE_URL=url, DIALER_WEB_SECURE_COOKIES="0")
            cid = create_campaign(env, "pg", short_script(tmp_path / "script"),
                                  contacts_csv(tmp_path / "list.csv", 4), concurrent=4)
            subprocess.run(dialer_cmd("user", "create", "ana", "--role", "analyst",
                                      "--password-stdin"), input=PASSWORD + "\n", env=env,
                           text=True, check=True, capture_output=True, timeout=60)
            db = database(env)
            log = tmp_path / "worker.log"
            worker = Worker(env, log, processes=1).start()
            try:
                with web_server(tmp_path, env) as base, logged_in(base) as web:
                    assert web.get("/api/campaigns").status_code == 200
                    start_campaign(env, cid)

                    def answered() -> int:
                        with db.session() as s:
                            return len(s.scalars(select(CallAttempt.id).where(
                                CallAttempt.campaign_id == cid,
                                CallAttempt.status == AttemptStatus.ANSWERED)).all())
                    wait_until(lambda: answered() == 4, 90, "four calls answered")
                    db.engine.dispose()
                    # Down for 8 s, while the calls reprompt and end: their turns and
                    # outcomes are written meanwhile. The web answers in the middle.
                    during: list[httpx.Response] = []

                    def probe() -> None:
                        time.sleep(3)
                        during.append(web.get("/api/campaigns"))

                    t = threading.Thread(target=probe)
                    t.start()
                    restart_postgres(url, 8.0)
                    t.join()
                    assert during and during[0].status_code == 503, during
                    assert "database does not answer" in during[0].json()["detail"]
                    wait_until(lambda: web.get("/api/campaigns").status_code == 200, 10,
                               "the web app answering again")
                    wait_until(lambda: progress(db, cid)["status"] == "finished", 180,
                               "the campaign finished")
                assert worker.proc is not None and worker.proc.poll() is None
            finally:
                worker.stop()
            result = tally(db, cid)
            with db.session() as s:
                attempts = s.scalars(select(CallAttempt).where(
                    CallAttempt.campaign_id == cid)).all()
                said = {a.id: [(t.seq, t.speaker, t.node, t.text) for t in s.scalars(
                    select(Turn).where(Turn.attempt_id == a.id).order_by(Turn.seq))]
                    for a in attempts}
                turns = {k: [t[0] for t in v] for k, v in said.items()}
                dispositions = {a.id: a.disposition for a in attempts}
    finally:
        redis.stop()
    assert result.contacts == result.final == 4, result
    assert result.open_attempts == 0 and result.lost_turns == 0, result
    # Silent callees: the greeting and one reprompt each, then no_input. Both turns of
    # every call are stored, the second said while the database was away.
    assert set(dispositions.values()) == {"no_input"}, dispositions
    assert all(seqs == [1, 2] for seqs in turns.values()), said
    text = log.read_text(errors="replace")
    assert "dispatch skipped: the database does not answer" in text
    assert "waits for the database" in text and "stored after" in text
    assert "what it stored is lost" not in text
