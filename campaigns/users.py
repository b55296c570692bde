"""Users, passwords and login sessions of the web app (the rules, no HTTP here).

Passwords are hashed with scrypt (the standard library's, memory-hard: guessing on a
GPU costs memory, not only time) under a random salt per password; the stored form
names its parameters, so they can be raised later without breaking old hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from campaigns.db import Database
from campaigns.models import Role, User, WebSession, utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MB and ~50 ms a hash
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
SESSION_HOURS = 12
MAX_FAILED_LOGINS = 5  # in a row; then the account waits LOCKOUT
LOCKOUT = timedelta(minutes=15)


class UserError(ValueError):
    """A request about users that cannot be done, in words for the person asking."""


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: Role
    csrf_token: str


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
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if username and password.lower() == username.lower():
        raise UserError("the password must not be the user name")


def parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise UserError(f"unknown role {role!r}; roles: "
                        f"{', '.join(r.value for r in Role)}") from None


SIP_URI = re.compile(r"^sips?:[^@\s]+@[^@\s]+$")


def check_phone(sip_uri: str | None, skills: str | None) -> tuple[str | None, str | None]:
    """An agent's phone (sip:user@host[:port]) and skills (comma-separated), tidied."""
    uri = (sip_uri or "").strip() or None
    if uri is not None and not SIP_URI.match(uri):
        raise UserError(f"phone {uri!r} must be a SIP URI like sip:agent1@pbx.example.com")
    names = [x.strip() for x in (skills or "").split(",") if x.strip()]
    if any(not re.fullmatch(r"[\w.-]{1,40}", x) for x in names):
        raise UserError(f"skills {skills!r}: comma-separated names of letters, digits, . _ -")
    return uri, ",".join(names) or None


def create_user(db: Database, username: str, password: str, role: str,
                sip_uri: str | None = None, skills: str | None = None) -> int:
    username = username.strip()
    if not USERNAME.match(username):
        raise UserError(f"user name {username!r}: 2-64 letters, digits or . _ @ -")
    parsed = parse_role(role)
    check_password(password, username)
    sip_uri, skills = check_phone(sip_uri, skills)
    with db.session() as s:
        if s.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
            raise UserError(f"user {username!r} exists already")
        user = User(username=username, password_hash=hash_password(password), role=parsed,
                    active=True, failed_logins=0, sip_uri=sip_uri, skills=skills)
        s.add(user)
        s.flush()
        return user.id


def list_users(db: Database) -> list[dict[str, object]]:
    with db.session() as s:
        return [{"id": u.id, "username": u.username, "role": u.role, "active": u.active,
                 "sip_uri": u.sip_uri, "skills": u.skills,
                 "created_at": u.created_at.isoformat() if u.created_at else None,
                 "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
                for u in s.scalars(select(User).order_by(User.username))]


def _other_active_admins(s: object, user_id: int) -> int:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    return int(s.scalar(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN, User.active.is_(True), User.id != user_id)) or 0)


def update_user(db: Database, user_id: int, *, role: str | None = None,
                active: bool | None = None, password: str | None = None,
                acting_user_id: int | None = None, sip_uri: str | None = None,
                skills: str | None = None) -> None:
    """Change a user's role, active flag or password. The last active admin cannot be
    demoted or deactivated (nobody could manage users any more), and nobody deactivates
    themselves."""
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError(f"no user {user_id}")
        if active is False and acting_user_id == user.id:
            raise UserError("you cannot deactivate yourself")
        losing_admin = user.role == Role.ADMIN and user.active and (
            (role is not None and parse_role(role) != Role.ADMIN) or active is False)
        if losing_admin and _other_active_admins(s, user.id) == 0:
            raise UserError(f"{user.username} is the last active admin; make another "
                            "admin first")
        if role is not None:
            user.role = parse_role(role)
        if active is not None:
            user.active = active
            if active:
                user.failed_logins, user.locked_until = 0, None
        if password is not None:
            check_password(password, user.username)
            user.password_hash = hash_password(password)
        if sip_uri is not None or skills is not None:
            uri, names = check_phone(user.sip_uri if sip_uri is None else sip_uri,
                                     user.skills if skills is None else skills)
            user.sip_uri, user.skills = uri, names
        if active is False or password is not None or role is not None:
            # A changed account starts over: its open sessions end.
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))


def agent_phone(db: Database, user_id: int) -> tuple[str | None, list[str]]:
    """The SIP URI a handed-off call rings for this user, and their skills."""
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError(f"no user {user_id}")
        return user.sip_uri, [x for x in (user.skills or "").split(",") if x]


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(db: Database, username: str, password: str,
          now: datetime | None = None) -> tuple[str, CurrentUser]:
    """Check the password and open a session: (cookie token, the user). One message for
    every failure, so it does not tell which user names exist."""
    now = now or utcnow()
    refused = UserError("wrong user name or password, or the account is locked")
    with db.session() as s:
        user = s.scalar(select(User).where(func.lower(User.username)
                                           == username.strip().lower()))
        if user is None:
            verify_password(password, hash_password("timing-equaliser"))
            raise refused
        locked = user.locked_until is not None and _aware(user.locked_until) > now
        if not user.active or locked:
            raise refused
        if not verify_password(password, user.password_hash):
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until, user.failed_logins = now + LOCKOUT, 0
            s.commit()
            raise refused
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        s.add(WebSession(token_hash=_hash_token(token), user_id=user.id, csrf_token=csrf,
                         created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
        # Expired sessions of anyone are swept on the way.
        s.execute(delete(WebSession).where(WebSession.expires_at < now))
        return token, CurrentUser(user.id, user.username, Role(user.role), csrf)


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
        return CurrentUser(user.id, user.username, Role(user.role), session.csrf_token)


def logout(db: Database, token: str | None) -> None:
    if token:
        with db.session() as s:
            s.execute(delete(WebSession).where(WebSession.token_hash == _hash_token(token)))


def _aware(t: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were stored as UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
