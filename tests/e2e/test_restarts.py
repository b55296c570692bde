"""The web app over real restarts of what it stands on, measured from the moment the
server is back (the numbers are printed; run with -s to see them):

- PostgreSQL stopped (fast shutdown: every pooled connection is cut) and started again:
  while it is away the app answers 503 with a sentence; the very first request after the
  restart answers 200, on a fresh connection (the pool pings before use), without the
  app being restarted.
- Redis killed -9 and started again empty while the worker holds more calls than call
  slots (task messages reserved, not begun): the worker stays up, reconnects, dials the
  waiting calls and the campaign finishes.
- The call queue's Redis killed -9 and started again empty, driven through the agent
  console's HTTP API: while it is away every console route, the event stream included,
  answers 503 with one plain sentence (no "Error 111 connecting to ...", no address),
  and the open event stream ends so the console notices; once it is back the same web
  session (no new log-in) finds the agent "offline", not a stale "ready", and is ready
  again with the two requests the console makes by itself.

The calls themselves through these restarts: test_pg_restart.py (turns written during
the outage, outcomes, the dispatcher) and test_redis_restart.py (the worker, lost task
messages sent again); the console's own screen in tests/browser/test_agent_console_restart.py.
"""

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
from campaigns.models import CallAttempt
from campaigns.statuses import AttemptStatus
from dialer.handoff.acd import Acd, AcdError
from dialer.web.routes.agents import ACD_DOWN
from tests.support import postgres
from tests.support.browser import web_server
from tests.support.chaos import (
    Redis,
    Worker,
    contacts_csv,
    create_campaign,
    database,
    restart_postgres,
    short_script,
    start_campaign,
    tally,
    wait_until,
)
from tests.support.procs import call_env, dialer_cmd
from tests.support.sipp_farm import sipp_farm

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
PASSWORD = "restarts-test-password-1"
# What a person must never be shown about the infrastructure.
RAW = re.compile(r"Error \d+|connecting to|redis|127\.0\.0\.1|psycopg|Traceback",
                 re.IGNORECASE)


def make_user(env: dict[str, str], name: str, role: str, *extra: str) -> None:
    subprocess.run(dialer_cmd("user", "create", name, "--role", role, "--password-stdin",
                              *extra), input=PASSWORD + "\n", env=env, text=True,
                   check=True, capture_output=True, timeout=60)


@contextmanager
def web_session(base: str, user: str, page: str | None = None) -> Iterator[httpx.Client]:
    """A logged-in browser session for the API: its cookie, and for changes the CSRF
    token the `page` carries for its scripts' requests."""
    with httpx.Client(base_url=base, timeout=15) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        done = client.post("/login", data={"username": user, "password": PASSWORD,
                                            "csrf_token": token.group(1)})
        assert done.status_code == 303, done.text[:500]
        if page is not None:
            csrf = re.search(r'data-csrf="([^"]+)"', client.get(page).text)
            assert csrf, f"no CSRF token on {page}"
            client.headers["X-CSRF-Token"] = csrf.group(1)
        yield client


def plain_refusal(r: httpx.Response, sentence: str) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:500])
    assert r.json()["detail"] == sentence, r.text[:500]
    assert not RAW.search(r.text), r.text[:500]


@pytest.mark.skipif(not postgres.available(), reason="needs PostgreSQL")
def test_the_web_app_answers_the_first_request_after_postgresql_restarts(
        tmp_path: Path) -> None:
    with postgres.postgres_server() as server:
        url = postgres.fresh_database(server)
        env = dict(call_env(tmp_path, 52600), DIALER_DATABASE_URL=url,
                   DIALER_WEB_SECURE_COOKIES="0")
        subprocess.run(dialer_cmd("db", "upgrade"), env=env, check=True,
                       capture_output=True, timeout=120)
        make_user(env, "ana", "analyst")
        with web_server(tmp_path, env) as base, web_session(base, "ana") as web:
            for _ in range(4):  # several pooled connections, all cut by the restart
                assert web.get("/api/campaigns").status_code == 200
            during: list[httpx.Response] = []

            def probe() -> None:
                time.sleep(1.5)
                during.append(web.get("/api/campaigns"))

            t = threading.Thread(target=probe)
            t.start()
            restart_postgres(url, 4.0)
            back = time.monotonic()
            t.join()
            first = web.get("/api/campaigns")
            first_s = time.monotonic() - back
            assert during, "the probe during the outage got no answer"
            assert during[0].status_code == 503, during[0].text[:500]
            assert "database does not answer" in during[0].json()["detail"]
            assert not RAW.search(during[0].text), during[0].text[:500]
            assert first.status_code == 200, first.text[:500]
            for _ in range(4):
                assert web.get("/api/campaigns").status_code == 200
            print(f"\nPostgreSQL back -> first web request answered 200 in {first_s:.2f}s")
            assert first_s < 5


def test_the_agent_console_api_through_a_redis_killed_and_restarted_empty(
        tmp_path: Path) -> None:
    redis = Redis(tmp_path / "redis").start()
    try:
        env = dict(call_env(tmp_path, 52650), DIALER_BROKER_URL=redis.url,
                   DIALER_WEB_SECURE_COOKIES="0")
        make_user(env, "mina", "agent", "--sip-uri", "sip:mina@127.0.0.1:5099")
        acd = Acd.from_url(redis.url)

        def acd_state() -> str:
            try:
                return str(acd.agent("mina")["state"])
            except AcdError:
                return "offline"

        with web_server(tmp_path, env) as base, web_session(base, "mina", "/agent") as web:
            assert web.post("/api/agent/login", json={"auto_accept": True}).status_code == 200
            ready = web.post("/api/agent/ready")
            assert ready.status_code == 200 and ready.json()["state"] == "ready", ready.text
            assert acd_state() == "ready"

            # The console's event stream, open as in the browser: it must end when the
            # queue goes, or the page would wait on a dead stream and keep its "ready".
            ended: list[float] = []
            opened = threading.Event()

            def listen() -> None:
                with httpx.Client(base_url=base, cookies=web.cookies, timeout=60) as c, \
                        c.stream("GET", "/api/acd/events") as stream:
                    assert stream.status_code == 200
                    for _chunk in stream.iter_text():
                        opened.set()
                ended.append(time.monotonic())

            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            assert opened.wait(10), "the event stream did not open"

            redis.kill9()
            killed = time.monotonic()
            wait_until(lambda: bool(ended), 20, "the event stream ending")
            print(f"\nRedis killed -> the console's event stream ended in "
                  f"{ended[0] - killed:.2f}s")
            plain_refusal(web.get("/api/agent/state"), ACD_DOWN)
            plain_refusal(web.post("/api/agent/ready"), ACD_DOWN)
            plain_refusal(web.get("/api/acd/events"), ACD_DOWN)

            redis.start()  # the same port, empty: the queue forgot every agent
            back = time.monotonic()
            first = web.get("/api/agent/state")
            first_s = time.monotonic() - back
            assert first.status_code == 200, first.text[:500]
            # Shown for what it is: not in the queue, not a green "ready".
            assert first.json()["agent"]["state"] == "offline", first.text
            with web.stream("GET", "/api/acd/events") as stream:
                assert stream.status_code == 200
            # What the console does on its own when its stream comes back (agent.js
            # restore()), in the same web session: no one logs in again.
            assert web.post("/api/agent/login", json={"auto_accept": True}).status_code == 200
            again = web.post("/api/agent/ready")
            ready_s = time.monotonic() - back
            assert again.status_code == 200 and again.json()["state"] == "ready", again.text
            assert acd_state() == "ready"
            assert acd.agent("mina").get("auto_accept") == "1"
            print(f"Redis back (empty) -> console API answered 200 in {first_s:.2f}s, "
                  f"agent ready again in {ready_s:.2f}s")
            assert ready_s < 5
    finally:
        redis.stop()


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed")
def test_a_worker_holding_reserved_calls_survives_redis_killed(tmp_path: Path) -> None:
    """Redis killed while the worker holds task messages it has reserved but not begun
    (every call slot busy). Before dialer/broker.py, kombu's put-back of those messages
    over the lost connection raised AttributeError and the worker stopped for good
    ("Unrecoverable error"), the campaign never finished."""
    redis = Redis(tmp_path / "redis").start()
    try:
        with sipp_farm(tmp_path / "farm") as farm:
            env = dict(call_env(tmp_path, 52700), DIALER_BROKER_URL=redis.url,
                       DIALER_SIP_TRUNK=farm.target, DIALER_CALLS_PER_PROCESS="2")
            # Six claimed at once, four slots (one call process of 2, and the extra
            # process the worker keeps): two calls wait as reserved task messages.
            cid = create_campaign(env, "lost", short_script(tmp_path / "script"),
                                  contacts_csv(tmp_path / "list.csv", 6), concurrent=6)
            db = database(env)

            def by_status() -> dict[int, str]:
                with db.session() as s:
                    return {a.id: str(a.status) for a in s.scalars(select(CallAttempt).where(
                        CallAttempt.campaign_id == cid))}

            log = tmp_path / "worker.log"
            worker = Worker(env, log, processes=1).start()
            try:
                start_campaign(env, cid)
                wait_until(lambda: list(by_status().values()).count(AttemptStatus.ANSWERED)
                           == 4, 90, "four calls answered")
                waiting = [a for a, st in by_status().items() if st == AttemptStatus.QUEUED]
                assert waiting, by_status()
                redis.kill9()
                time.sleep(1)
                redis.start()  # the same port, nothing in it
                back = time.monotonic()
                resent_s = wait_until(lambda: all(by_status()[a] != AttemptStatus.QUEUED
                                                  for a in waiting), 50,
                                      f"attempts {waiting} dialed")
                wait_until(lambda: progress(db, cid)["status"] == "finished", 120,
                           "the campaign finished")
                assert worker.proc is not None and worker.proc.poll() is None, \
                    "the worker stopped"
            finally:
                worker.stop()
    finally:
        redis.stop()
    text = log.read_text(errors="replace")
    assert "Unrecoverable error" not in text
    result = tally(db, cid)
    print(f"\nRedis back (empty) -> the {len(waiting)} waiting calls dialed within "
          f"{resent_s:.1f}s (campaign finished {time.monotonic() - back:.0f}s after)")
    assert result.contacts == result.final == 6, result
    assert result.open_attempts == result.overlapping_dials == 0, result
