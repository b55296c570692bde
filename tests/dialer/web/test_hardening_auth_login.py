"""Login throttling on a real database (SQLite and PostgreSQL): failures are counted
atomically, every answer costs the same one password hash, and wrong passwords slow down
the address they come from without locking the account's owner out elsewhere."""

from __future__ import annotations

import re
import statistics
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns.db import Database
from campaigns.models import User, utcnow
from campaigns.settings import CampaignSettings
from campaigns.users import FREE_PER_USER_ADDRESS, UserError, create_user, login, update_user
from dialer.web.app import create_app

PASSWORD = "a long password"
WRONG = "wrong user name or password"
THROTTLED = "too many login attempts from this address"


def failed_logins(db: Database, name: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(User.failed_logins).where(User.username == name)) or 0)


def in_parallel(n: int, attempt: Any) -> list[str]:
    """Run `attempt(i)` on n threads released at once; the refusals' messages."""
    gate = threading.Barrier(n)
    out: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        gate.wait()
        try:
            attempt(i)
            message = "ok"
        except UserError as exc:
            message = str(exc)
        with lock:
            out.append(message)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_wrong_passwords_all_count(db: Database) -> None:
    create_user(db, "mina", PASSWORD, "marketing")
    out = in_parallel(20, lambda i: login(db, "mina", f"guess {i}", address=f"10.0.0.{i}"))
    assert len(out) == 20 and all(WRONG in m for m in out), out
    assert failed_logins(db, "mina") == 20
    login(db, "mina", PASSWORD, address="10.0.1.1")
    assert failed_logins(db, "mina") == 0, "a login starts the count over"


def test_one_address_gets_exactly_its_allowance_even_in_parallel(db: Database) -> None:
    create_user(db, "mina", PASSWORD, "marketing")
    out = in_parallel(20, lambda i: login(db, "mina", f"guess {i}", address="192.0.2.9"))
    assert sum(WRONG in m for m in out) == FREE_PER_USER_ADDRESS, out
    assert sum(THROTTLED in m for m in out) == 20 - FREE_PER_USER_ADDRESS, out
    assert failed_logins(db, "mina") == FREE_PER_USER_ADDRESS


def test_unknown_existing_and_locked_users_take_the_same_time(db: Database) -> None:
    create_user(db, "mina", PASSWORD, "marketing")
    admin = create_user(db, "root", PASSWORD, "admin")
    gone = create_user(db, "gone", PASSWORD, "agent")
    update_user(db, gone, active=False, acting_user_id=admin)
    start = utcnow()
    cases = {"unknown": ("nobody", PASSWORD), "wrong password": ("mina", "not it at all"),
             "deactivated": ("gone", PASSWORD)}
    times: dict[str, list[float]] = {k: [] for k in cases}
    tries = 0
    for _ in range(7):
        for label, (name, password) in cases.items():
            tries += 1  # hours apart: each try is a first try, never throttled
            now = start + timedelta(hours=3 * tries)
            t0 = time.perf_counter()
            with pytest.raises(UserError) as refused:
                login(db, name, password, now=now)
            times[label].append(time.perf_counter() - t0)
            assert str(refused.value).startswith(WRONG)
    medians = {k: statistics.median(v) for k, v in times.items()}
    slowest, fastest = max(medians.values()), min(medians.values())
    assert slowest / fastest < 1.4, {k: f"{v * 1000:.1f} ms" for k, v in medians.items()}


def test_an_attacker_elsewhere_does_not_lock_the_owner_out(db: Database) -> None:
    create_user(db, "root", PASSWORD, "admin")
    now = utcnow()
    refusals = []
    for i in range(40):
        with pytest.raises(UserError) as refused:
            login(db, "root", f"guess {i}", address="203.0.113.66", now=now)
        refusals.append(str(refused.value))
    assert any(THROTTLED in m for m in refusals)
    # Even the right password is refused from the attacker's address, with the wait...
    with pytest.raises(UserError, match=rf"{THROTTLED}: try again in \d+ minute"):
        login(db, "root", PASSWORD, address="203.0.113.66", now=now)
    # ...while the owner, elsewhere, logs in at once.
    token, user = login(db, "root", PASSWORD, address="198.51.100.7", now=now)
    assert user.username == "root" and token


def test_the_wait_doubles_and_a_quiet_hour_forgets(db: Database) -> None:
    create_user(db, "mina", PASSWORD, "marketing")
    now = utcnow()
    where = "2001:db8::1"
    for _ in range(FREE_PER_USER_ADDRESS):
        with pytest.raises(UserError, match=WRONG):
            login(db, "mina", "guess", address=where, now=now)
    waits = []
    for _ in range(4):
        with pytest.raises(UserError, match=THROTTLED) as refused:
            login(db, "mina", PASSWORD, address=where, now=now)
        wait = getattr(refused.value, "retry_after", None)
        assert isinstance(wait, int) and wait > 0
        waits.append(wait)
        now += timedelta(seconds=wait)
        with pytest.raises(UserError, match=WRONG):  # one try after each wait
            login(db, "mina", "guess", address=where, now=now)
    assert waits == sorted(waits) and waits[-1] >= 4 * waits[0], waits
    # The same /64 is the same address (one IPv6 host has millions of them).
    with pytest.raises(UserError, match=THROTTLED):
        login(db, "mina", PASSWORD, address="2001:db8::2", now=now)
    token, _ = login(db, "mina", PASSWORD, address=where, now=now + timedelta(hours=2))
    assert token


def test_the_web_app_throttles_by_the_client_address(tmp_path: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", "redis://127.0.0.1:9/0")
        app = create_app(CampaignSettings(data_dir=tmp_path / "data"), secure_cookies=False)
    create_user(app.state.db, "root", PASSWORD, "admin")
    attacker = TestClient(app, client=("203.0.113.66", 5000))
    statuses = [attacker.post("/api/login", json={"username": "root", "password": "x"})
                for _ in range(12)]
    assert statuses[0].status_code == 401 and WRONG in statuses[0].json()["detail"]
    last = statuses[-1]
    assert last.status_code == 429 and THROTTLED in last.json()["detail"]
    assert int(last.headers["retry-after"]) > 0
    # The login form says the same to a person, and keeps the form usable.
    page = attacker.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = attacker.post("/login", data={"username": "root", "password": PASSWORD,
                                         "csrf_token": token[1]}, follow_redirects=False)
    assert form.status_code == 429 and THROTTLED in form.text
    assert int(form.headers["retry-after"]) > 0
    owner = TestClient(app, client=("198.51.100.7", 5000))
    assert owner.post("/api/login", json={"username": "root",
                                          "password": PASSWORD}).status_code == 200
