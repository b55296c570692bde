"""Users, passwords and login sessions of the web app (the rules, no HTTP here).

Passwords are hashed with scrypt (the standard library's, memory-hard: guessing on a
GPU costs memory, not only time) under a random salt per password; the stored form
names its parameters, so they can be raised later without breaking old hashes.

Guessing is slowed down where it comes from, and never locks an account: a lock anyone
can trigger lets an attacker keep the admins out. Two counters pace each attempt, one per
source address and one per user name from that address (an IPv6 address counts by its
/64, which one host may hold whole). The first FREE_PER_USER_ADDRESS attempts at a
name from an address, and FREE_PER_ADDRESS at any names, go through at once; after that
each waits FIRST_WAIT_S, doubling up to MAX_WAIT_S, and a source quiet for QUIET_S starts
over. A refused source hears "too many login attempts from this address: try again in N
minutes"; the owner logging in from anywhere else is not slowed at all. An attempt is
counted before its password is checked, in one conditional UPDATE, so parallel requests
cannot slip past the count; a successful login gives its attempts back.

Every answer that checks a password costs exactly one scrypt: an unknown user is checked
against a dummy hash and a deactivated one against their own, and all of them touch the
same rows, so timing does not tell which user names exist. They all get the same
message. `failed_logins` counts the password checks since a user's last login
(atomically, for admins to see guessing); it locks nothing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, func, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from campaigns.db import Database
from campaigns.models import LoginThrottle, Role, User, WebSession, utcnow
from campaigns.refusals import Code, Phrase, Refusal

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MB and ~50 ms a hash
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
SESSION_HOURS = 12
FREE_PER_USER_ADDRESS = 5  # attempts at one user name from one address before waits
FREE_PER_ADDRESS = 20  # attempts from one address, whatever the names (an office's NAT)
FIRST_WAIT_S = 30.0  # then doubling...
MAX_WAIT_S = 15 * 60.0  # ...up to this
QUIET_S = 60 * 60.0  # a source this long without an attempt starts over
REFUSED = "wrong user name or password, or the account is locked"
THROTTLE = cast(Table, LoginThrottle.__table__)  # Core statements: one UPDATE, no ORM sync


class UserError(Refusal, ValueError):
    """A request about users that cannot be done, in words for the person asking."""


class LoginThrottled(UserError):
    """Too many login attempts from this source; `retry_after` is in seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        n = math.ceil(self.retry_after / 60)
        # Two whole texts, not a plural "s" glued on: a catalogue translates sentences.
        said = (Phrase("too many login attempts from this address: try again in {n} minute", n=n)
                if n == 1 else
                Phrase("too many login attempts from this address: try again in {n} minutes", n=n))
        super().__init__(said.text, **said.values)


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: Role
    csrf_token: str
    language: str | None = None  # of the pages; None: the browser's


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, maxmem=64 * 1024 * 1024, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), maxmem=64 * 1024 * 1024,
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def check_password(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError("the password must have at least {n} characters", n=MIN_PASSWORD)
    if username and password.lower() == username.lower():
        raise UserError("the password must not be the user name")


def parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise UserError("unknown role {role!r}; roles: {roles}", role=role,
                        roles=[Code(r.value, "role") for r in Role]) from None


SIP_URI = re.compile(r"^sips?:[^@\s]+@[^@\s]+$")


def check_phone(sip_uri: str | None, skills: str | None) -> tuple[str | None, str | None]:
    """An agent's phone (sip:user@host[:port]) and skills (comma-separated), tidied."""
    uri = (sip_uri or "").strip() or None
    if uri is not None and not SIP_URI.match(uri):
        raise UserError("phone {uri!r} must be a SIP URI like sip:agent1@pbx.example.com",
                        uri=uri)
    names = [x.strip() for x in (skills or "").split(",") if x.strip()]
    if any(not re.fullmatch(r"[\w.-]{1,40}", x) for x in names):
        raise UserError("skills {skills!r}: comma-separated names of letters, digits, . _ -",
                        skills=skills)
    return uri, ",".join(names) or None


def create_user(db: Database, username: str, password: str, role: str,
                sip_uri: str | None = None, skills: str | None = None) -> int:
    username = username.strip()
    if not USERNAME.match(username):
        raise UserError("user name {name!r}: 2-64 letters, digits or . _ @ -", name=username)
    parsed = parse_role(role)
    check_password(password, username)
    sip_uri, skills = check_phone(sip_uri, skills)
    with db.session() as s:
        if s.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
            raise UserError("user {name!r} exists already", name=username)
        user = User(username=username, password_hash=hash_password(password), role=parsed,
                    active=True, failed_logins=0, sip_uri=sip_uri, skills=skills)
        s.add(user)
        s.flush()
        return user.id


def list_users(db: Database) -> list[dict[str, object]]:
    with db.session() as s:
        return [{"id": u.id, "username": u.username, "role": u.role, "active": u.active,
                 "sip_uri": u.sip_uri, "skills": u.skills, "failed_logins": u.failed_logins,
                 "created_at": u.created_at.isoformat() if u.created_at else None,
                 "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
                for u in s.scalars(select(User).order_by(User.username))]


def _other_active_admins(s: Session, user_id: int) -> int:
    return int(s.scalar(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN, User.active.is_(True), User.id != user_id)) or 0)


def update_user(db: Database, user_id: int, *, role: str | None = None,
                active: bool | None = None, password: str | None = None,
                acting_user_id: int | None = None, sip_uri: str | None = None,
                skills: str | None = None) -> dict[str, Any]:
    """Change a user's role, active flag or password. The last active admin cannot be
    demoted or deactivated (nobody could manage users any more), and nobody deactivates
    themselves. Returns what changed, for the audit log: {field: [before, after]}, and
    "password": "reset" (never the password)."""
    changes: dict[str, Any] = {}
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError("no user {id}", id=user_id)
        if active is False and acting_user_id == user.id:
            raise UserError("you cannot deactivate yourself")
        losing_admin = user.role == Role.ADMIN and user.active and (
            (role is not None and parse_role(role) != Role.ADMIN) or active is False)
        if losing_admin and _other_active_admins(s, user.id) == 0:
            raise UserError("{name} is the last active admin; make another admin first",
                            name=user.username)
        if role is not None:
            new_role = parse_role(role)
            if new_role != user.role:
                changes["role"] = [Role(user.role).value, new_role.value]
            user.role = new_role
        if active is not None:
            if active != user.active:
                changes["active"] = [user.active, active]
            user.active = active
            if active:
                user.failed_logins, user.locked_until = 0, None
        if password is not None:
            check_password(password, user.username)
            user.password_hash = hash_password(password)
            changes["password"] = "reset"
        if sip_uri is not None or skills is not None:
            uri, names = check_phone(user.sip_uri if sip_uri is None else sip_uri,
                                     user.skills if skills is None else skills)
            for field, before, after in (("sip_uri", user.sip_uri, uri),
                                         ("skills", user.skills, names)):
                if before != after:
                    changes[field] = [before, after]
            user.sip_uri, user.skills = uri, names
        if active is False or password is not None or role is not None:
            # A changed account starts over: its open sessions end.
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return changes


def agent_phone(db: Database, user_id: int) -> tuple[str | None, list[str]]:
    """The SIP URI a handed-off call rings for this user, and their skills."""
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError("no user {id}", id=user_id)
        return user.sip_uri, [x for x in (user.skills or "").split(",") if x]


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _dummy_hash() -> str:
    """What an unknown user's password is checked against: the cost of a real check."""
    return hash_password(secrets.token_urlsafe(16))


def source_address(address: str | None) -> str:
    """The source a login is paced by: the client's IP address, an IPv6 one by its /64
    (a single host is often given a whole /64)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _throttle_key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def wait_after(attempts: int, free: int) -> float:
    """Seconds the source waits after its `attempts`-th attempt."""
    if attempts < free:
        return 0.0
    return min(FIRST_WAIT_S * 2 ** min(attempts - free, 32), MAX_WAIT_S)


def _until(now: float, wait: float) -> float:
    # No wait is 0, not `now`: a parallel request whose clock read a microsecond
    # earlier must not find itself "before" it.
    return now + wait if wait else 0.0


def _not_before(count: ColumnElement[Any], free: int, now: float) -> ColumnElement[Any]:
    """`_until(now, wait_after(count))` as SQL: the count and the wait change in one
    UPDATE."""
    steps = []
    n = free
    while wait_after(n, free) < MAX_WAIT_S:
        steps.append((count == n, _until(now, wait_after(n, free))))
        n += 1
    return sql_case((count < free, 0.0), *steps, else_=now + MAX_WAIT_S)


def _take_attempt(s: Session, key: str, free: int, now: float) -> float | None:
    """Count one attempt of a source: None when it may go ahead, else the seconds it
    must still wait. The condition and the count are one statement, so parallel
    attempts cannot all read "allowed" before any of them is counted."""
    t = THROTTLE
    count = sql_case((t.c.last_attempt < now - QUIET_S, 1), else_=t.c.attempts + 1)
    for _ in range(3):  # a row made by a parallel attempt between our two statements
        # RETURNING says whether a row was written (psycopg's rowcount of an INSERT
        # ... ON CONFLICT is -1).
        taken = s.execute(update(t).where(t.c.key == key, t.c.not_before <= now).values(
            attempts=count, last_attempt=now, not_before=_not_before(count, free, now))
            .returning(t.c.attempts)).first()
        if taken is not None:
            return None
        made = s.execute(_insert_new(s).values(key=key, attempts=1, last_attempt=now,
                                               not_before=_until(now, wait_after(1, free)))
                         .returning(t.c.attempts)).first()
        if made is not None:
            return None
        not_before = s.scalar(select(t.c.not_before).where(t.c.key == key))
        if not_before is not None and not_before > now:
            return float(not_before) - now
    raise RuntimeError(f"login throttle row {key[:8]} keeps changing; try again")


def _insert_new(s: Session) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on either backend."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(THROTTLE).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(THROTTLE).on_conflict_do_nothing()


def _give_back(s: Session, key: str, free: int, now: float) -> None:
    """A successful login was counted as an attempt of its address: return it, so an
    office logging in every morning behind one address is never slowed."""
    t = THROTTLE
    count = t.c.attempts - 1
    sooner = _not_before(count, free, now)
    s.execute(update(t).where(t.c.key == key, t.c.attempts > 0).values(
        attempts=count, not_before=sql_case((t.c.not_before < sooner, t.c.not_before),
                                            else_=sooner)))


def login(db: Database, username: str, password: str, now: datetime | None = None,
          address: str | None = None) -> tuple[str, CurrentUser]:
    """Check the password and open a session: (cookie token, the user). `address` is
    the client's, which attempts are paced by (see the module's docstring). One message
    for every failure, so it does not tell which user names exist; LoginThrottled when
    the address must wait first."""
    now = now or utcnow()
    t, name = now.timestamp(), username.strip().lower()
    source = source_address(address)
    by_address = _throttle_key("address", source)
    by_name = _throttle_key("user", name, source)
    found: Any = None
    with db.session() as s:
        wait = _take_attempt(s, by_address, FREE_PER_ADDRESS, t)
        if wait is None:
            wait = _take_attempt(s, by_name, FREE_PER_USER_ADDRESS, t)
        if wait is None:
            # Counted before the check (and reset by a success), so that a wrong
            # password and an unknown name run the same statements.
            s.execute(update(User).where(func.lower(User.username) == name)
                      .values(failed_logins=User.failed_logins + 1))
            found = s.execute(select(User.id, User.username, User.password_hash, User.role,
                                     User.active)
                              .where(func.lower(User.username) == name)).first()
    if wait is not None:
        raise LoginThrottled(wait)
    matches = verify_password(password, found.password_hash if found else _dummy_hash())
    if found is None or not matches or not found.active:
        raise UserError(REFUSED)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with db.session() as s:
        s.execute(update(User).where(User.id == found.id).values(
            failed_logins=0, locked_until=None, last_login_at=now))
        s.execute(delete(LoginThrottle).where(LoginThrottle.key == by_name))
        _give_back(s, by_address, FREE_PER_ADDRESS, t)
        s.add(WebSession(token_hash=_hash_token(token), user_id=found.id, csrf_token=csrf,
                         created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
        # Expired sessions of anyone, and sources long quiet, are swept on the way.
        s.execute(delete(WebSession).where(WebSession.expires_at < now))
        s.execute(delete(LoginThrottle).where(LoginThrottle.last_attempt < t - QUIET_S,
                                              LoginThrottle.not_before < t))
    return token, CurrentUser(found.id, found.username, Role(found.role), csrf)


def session_user(db: Database, token: str | None,
                 now: datetime | None = None) -> CurrentUser | None:
    if not token:
        return None
    now = now or utcnow()
    with db.session() as s:
        row = s.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                        .where(WebSession.token_hash == _hash_token(token))).first()
        if row is None:
            return None
        session, user = row
        if _aware(session.expires_at) <= now or not user.active:
            s.delete(session)
            return None
        return CurrentUser(user.id, user.username, Role(user.role), session.csrf_token,
                           user.language)


def logout(db: Database, token: str | None) -> None:
    if token:
        with db.session() as s:
            s.execute(delete(WebSession).where(WebSession.token_hash == _hash_token(token)))


def _aware(t: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were stored as UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
