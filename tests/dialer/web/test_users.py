"""Users, passwords, login throttling and sessions: the rules under the web app, on a
real database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaigns.db import Database
from campaigns.models import utcnow
from campaigns.users import (
    FREE_PER_USER_ADDRESS,
    SESSION_HOURS,
    LoginThrottled,
    UserError,
    create_user,
    hash_password,
    login,
    session_user,
    update_user,
    verify_password,
)


def test_passwords_are_salted_scrypt_hashes() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$") and "correct" not in a
    assert verify_password("correct horse", a) and verify_password("correct horse", b)
    assert not verify_password("correct hors", a)
    assert not verify_password("correct horse", a[:-4] + "AAA=")
    assert not verify_password("correct horse", "md5$abc")


@pytest.mark.parametrize(("username", "password", "role", "message"), [
    ("mina", "short", "marketing", "at least 10 characters"),
    ("mina", "mina", "marketing", "at least 10"),
    ("mina.kim", "mina.kim", "marketing", "at least 10"),
    ("longername", "LongerName", "marketing", "must not be the user name"),
    ("mina", "a long password", "boss", "unknown role 'boss'"),
    ("m", "a long password", "agent", "2-64 letters"),
    ("mi na", "a long password", "agent", "2-64 letters"),
])
def test_bad_users_are_refused_with_the_reason(db: Database, username: str, password: str,
                                               role: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        create_user(db, username, password, role)


def test_user_names_are_unique_whatever_the_case(db: Database) -> None:
    create_user(db, "Mina", "a long password", "marketing")
    with pytest.raises(UserError, match="exists already"):
        create_user(db, "mina", "another password", "agent")


def test_wrong_passwords_slow_down_their_address_not_the_account(db: Database) -> None:
    create_user(db, "mina", "a long password", "marketing")
    now = utcnow()
    for _ in range(FREE_PER_USER_ADDRESS):
        with pytest.raises(UserError, match="wrong user name or password"):
            login(db, "mina", "guess", now=now, address="192.0.2.1")
    with pytest.raises(LoginThrottled) as waiting:  # that address waits, whatever it sends
        login(db, "mina", "a long password", now=now + timedelta(seconds=1),
              address="192.0.2.1")
    assert "try again in 1 minute" in str(waiting.value)
    # The owner elsewhere is not held up...
    token, user = login(db, "MINA", "a long password", now=now, address="198.51.100.2")
    assert user.username == "mina" and user.role == "marketing" and len(token) >= 40
    # ...and once the wait is over, the first address may try again.
    later = now + timedelta(seconds=1 + waiting.value.retry_after)
    assert login(db, "mina", "a long password", now=later, address="192.0.2.1")[0]
    # The same message for a user that does not exist: names are not revealed.
    with pytest.raises(UserError, match="wrong user name or password"):
        login(db, "nobody", "a long password")


def test_sessions_expire_and_end_when_the_account_changes(db: Database) -> None:
    admin = create_user(db, "root", "a long password", "admin")
    mina = create_user(db, "mina", "a long password", "marketing")
    now = utcnow()
    token, _ = login(db, "mina", "a long password", now=now)
    seen = session_user(db, token, now=now + timedelta(hours=1))
    assert seen is not None and seen.id == mina and seen.csrf_token
    assert session_user(db, token, now=now + timedelta(hours=SESSION_HOURS, seconds=1)) is None
    assert session_user(db, "forged-token") is None and session_user(db, None) is None
    token, _ = login(db, "mina", "a long password")
    update_user(db, mina, role="analyst", acting_user_id=admin)
    assert session_user(db, token) is None, "a role change ends the open sessions"
    token, user = login(db, "mina", "a long password")
    assert user.role == "analyst"
    update_user(db, mina, active=False, acting_user_id=admin)
    assert session_user(db, token) is None
    with pytest.raises(UserError):
        login(db, "mina", "a long password")


def test_the_last_admin_stays_and_nobody_deactivates_themselves(db: Database) -> None:
    root = create_user(db, "root", "a long password", "admin")
    with pytest.raises(UserError, match="last active admin"):
        update_user(db, root, role="marketing", acting_user_id=root)
    with pytest.raises(UserError, match="last active admin"):
        update_user(db, root, active=False)
    second = create_user(db, "second", "a long password", "admin")
    with pytest.raises(UserError, match="cannot deactivate yourself"):
        update_user(db, second, active=False, acting_user_id=second)
    update_user(db, root, role="analyst", acting_user_id=second)
    with pytest.raises(UserError, match="no user 999"):
        update_user(db, 999, active=True)
    with pytest.raises(UserError, match="at least 10"):
        update_user(db, second, password="short")
