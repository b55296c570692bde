"""Do-not-call lists: one global, one per campaign. Nothing on either is ever dialed: the
import scrubs the list, the dispatcher skips, and the worker checks again just before it
dials (a number may be added while its call waits in the queue).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.db import Database
from campaigns.importer import normalize_phone
from campaigns.models import Campaign, DncEntry
from campaigns.refusals import Refusal

SOURCES = ("manual", "upload", "opt_out", "dtmf", "api", "agent")
MAX_ID = 2**31 - 1  # the largest id an Integer column holds (PostgreSQL's integer)
MAX_PHONE_INPUT = 64  # characters of a number as typed, separators and all
MAX_REASON = 500  # characters of the reason kept with an entry


class DncError(Refusal, ValueError):
    """A number or list the operator can correct."""


class UnknownCampaign(DncError):
    """The campaign whose list was named does not exist (the web answers 404)."""


def scope_of(campaign_id: int | None) -> str:
    return "global" if campaign_id is None else f"campaign:{campaign_id}"


def normalise(phone: str, region: str = "KR") -> str:
    if len(phone) > MAX_PHONE_INPUT:
        raise DncError("a phone number has at most {most} characters; this one has {n:,} "
                       "(starting {start!r}); type the number alone",
                       most=MAX_PHONE_INPUT, n=len(phone), start=phone[:20])
    try:
        return normalize_phone(phone, region)
    except ValueError as exc:
        raise DncError("{phone!r}: {why}", phone=phone, why=exc) from None


def add(s: Session, phone_e164: str, *, campaign_id: int | None = None,
        source: str = "manual", reason: str | None = None,
        added_by: str | None = None) -> bool:
    """Add a number (already E.164); False if it was on that list already."""
    if source not in SOURCES:
        raise DncError("source {source!r} must be one of {sources}", source=source,
                       sources=SOURCES)
    scope = scope_of(campaign_id)
    if s.scalar(select(DncEntry.id).where(DncEntry.scope == scope,
                                          DncEntry.phone == phone_e164)) is not None:
        return False
    try:
        with s.begin_nested():
            s.add(DncEntry(phone=phone_e164, scope=scope, campaign_id=campaign_id,
                           source=source, reason=reason, added_by=added_by))
    except IntegrityError:  # added by someone else in the meantime
        return False
    return True


def add_number(db: Database, phone: str, *, campaign_id: int | None = None,
               region: str = "KR", source: str = "manual", reason: str | None = None,
               added_by: str | None = None) -> tuple[str, bool]:
    """Add a number as typed; (its E.164 form, False if it was on that list already).
    UnknownCampaign when `campaign_id` names no campaign."""
    e164 = normalise(phone, region)
    reason = check_reason(reason)
    with db.session() as s:
        _check_campaign(s, campaign_id)
        return e164, add(s, e164, campaign_id=campaign_id, source=source, reason=reason,
                         added_by=added_by)


def check_reason(reason: str | None) -> str | None:
    """The reason as kept: at most MAX_REASON characters, one paragraph of text."""
    if reason is None:
        return None
    if len(reason) > MAX_REASON:
        raise DncError("the reason is {n:,} characters long; keep it to {most} characters",
                       n=len(reason), most=MAX_REASON)
    if any(ord(ch) < 32 and ch not in "\t\n\r" or ord(ch) == 127 for ch in reason):
        raise DncError("the reason contains a control character (such as NUL); type it "
                       "again as plain text")
    return reason


def _check_campaign(s: Session, campaign_id: int | None) -> None:
    if campaign_id is not None and (not 0 < campaign_id <= MAX_ID
                                    or s.get(Campaign, campaign_id) is None):
        raise UnknownCampaign("no campaign {campaign_id}; give the number of an existing "
                              "campaign, or none for the global list", campaign_id=campaign_id)


def remove_number(db: Database, phone: str, *, campaign_id: int | None = None,
                  region: str = "KR") -> bool:
    """Take a number as typed off a list; False if it was not on it. UnknownCampaign
    when `campaign_id` names no campaign."""
    e164 = normalise(phone, region)
    with db.session() as s:
        _check_campaign(s, campaign_id)
        gone = s.execute(delete(DncEntry).where(DncEntry.scope == scope_of(campaign_id),
                                                DncEntry.phone == e164))
        return bool(gone.rowcount)  # type: ignore[attr-defined]


def blocked(s: Session, phone_e164: str, campaign_id: int | None) -> DncEntry | None:
    """The entry that forbids calling this number for this campaign, if any."""
    scopes = ["global"] + ([scope_of(campaign_id)] if campaign_id is not None else [])
    return s.scalar(select(DncEntry).where(DncEntry.phone == phone_e164,
                                           DncEntry.scope.in_(scopes)).limit(1))


def blocked_among(s: Session, phones: list[str], campaign_id: int | None) -> set[str]:
    """Which of these numbers are on the global or the campaign's list. A list shorter
    than the numbers asked about is read whole (one query); otherwise the numbers are
    looked up a thousand at a time."""
    scopes = ["global"] + ([scope_of(campaign_id)] if campaign_id is not None else [])
    listed = s.scalar(select(func.count(DncEntry.id)).where(DncEntry.scope.in_(scopes))) or 0
    if listed == 0 or not phones:
        return set()
    if listed <= 2 * len(phones):
        wanted = set(phones)
        return {p for p in s.scalars(select(DncEntry.phone).where(DncEntry.scope.in_(scopes)))
                if p in wanted}
    out: set[str] = set()
    for i in range(0, len(phones), 1000):
        chunk = phones[i:i + 1000]
        out.update(s.scalars(select(DncEntry.phone).where(DncEntry.phone.in_(chunk),
                                                          DncEntry.scope.in_(scopes))))
    return out


def search(db: Database, text: str = "", *, campaign_id: int | None = None,
           include_global: bool = True, limit: int = 100) -> list[dict[str, Any]]:
    """Entries whose number contains `text` (digits compared, so '010-1234' finds
    +8210 1234 ...), newest first."""
    digits = "".join(ch for ch in text if ch.isdigit())
    scopes = [scope_of(campaign_id)] + (["global"] if include_global and campaign_id else [])
    with db.session() as s:
        q = select(DncEntry).where(DncEntry.scope.in_(scopes))
        if digits:
            variants = {digits, digits.lstrip("0")} - {""}
            q = q.where(or_(*(DncEntry.phone.contains(v) for v in variants)))
        rows = s.scalars(q.order_by(DncEntry.created_at.desc(), DncEntry.id.desc())
                         .limit(limit))
        return [{"phone": e.phone, "scope": e.scope, "source": e.source, "reason": e.reason,
                 "added_by": e.added_by, "created_at": e.created_at.isoformat()}
                for e in rows]
