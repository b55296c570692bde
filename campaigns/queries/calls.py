"""The call explorer's search (and a call's neighbours under the same filters), the
intents customers said, a call's recording on file, and how many calls are under way:
what the analysts' pages read about calls. A contact's name is shown as its first
character for the roles that see masked numbers (`name_for`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select

from campaigns.db import Database
from campaigns.models import CallAttempt, Campaign, Contact, Turn
from campaigns.privacy import FULL_PHONE_ROLES, phone_for
from campaigns.statuses import AttemptStatus

# When a call started: when it was dialed, or for one never dialed (a number on a
# do-not-call list when its turn came) when it was queued. The explorer shows and
# filters by it, and so does the CDR export (campaigns/cdr.py).
STARTED = func.coalesce(CallAttempt.dialed_at, CallAttempt.created_at)


@dataclass(frozen=True)
class CallSearch:
    """Which calls: the number's last digits, a disposition, an intent the customer
    said, a campaign, started in [start, end) (the time the list shows, as the CDR
    export filters), and the contact's name (the whole name or its beginning). None:
    any. A call still queued (claimed, not yet dialed) is not a call yet."""

    digits: str | None = None
    disposition: str | None = None
    intent: str | None = None
    campaign: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    name: str | None = None

    def where(self) -> list[Any]:
        where: list[Any] = [CallAttempt.status != AttemptStatus.QUEUED]
        if self.digits:
            where.append(Contact.phone.like(f"%{self.digits}"))
        if self.disposition:
            where.append(CallAttempt.disposition == self.disposition)
        if self.intent:
            where.append(exists().where(Turn.attempt_id == CallAttempt.id,
                                        Turn.intent == self.intent))
        if self.campaign is not None:
            where.append(CallAttempt.campaign_id == self.campaign)
        if self.start is not None:
            where.append(STARTED >= self.start)
        if self.end is not None:
            where.append(STARTED < self.end)
        if self.name:
            where.append(Contact.fields["name"].as_string().startswith(
                self.name, autoescape=True))
        return where


def name_for(role: str, name: Any) -> str | None:
    """The contact's name as `role` may see it: whole, or its first character and a
    dot for each other character for the roles that see masked numbers."""
    if name is None or name == "":
        return None
    text = str(name)
    return text if role in FULL_PHONE_ROLES else text[:1] + "•" * (len(text) - 1)


def find_calls(db: Database, search: CallSearch, role: str, page_no: int,
               page_size: int) -> dict[str, Any]:
    """One page of the calls found, newest first, with the numbers as `role` may see
    them: {"total": calls found, "calls": [...]}."""
    base = (select(CallAttempt, Contact.phone, Campaign.name, Contact.fields)
            .join(Contact, Contact.id == CallAttempt.contact_id)
            .join(Campaign, Campaign.id == CallAttempt.campaign_id).where(*search.where()))
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = s.execute(base.order_by(CallAttempt.id.desc())
                         .offset((page_no - 1) * page_size).limit(page_size)).all()
        ids = [a.id for a, _, _, _ in rows]
        said: dict[int, list[str]] = {}
        for attempt_id, name in s.execute(
                select(Turn.attempt_id, Turn.intent).where(
                    Turn.attempt_id.in_(ids), Turn.speaker == "customer",
                    Turn.intent.is_not(None)).order_by(Turn.attempt_id, Turn.seq)):
            said.setdefault(attempt_id, []).append(str(name))
        calls = [{
            "attempt_id": a.id, "campaign": cname, "campaign_id": a.campaign_id,
            "phone": phone_for(role, number),
            "name": name_for(role, (fields or {}).get("name")),
            "started": (a.dialed_at or a.created_at).isoformat(),
            "duration_s": round((a.ended_at - a.answered_at).total_seconds(), 1)
            if a.answered_at and a.ended_at else 0.0,
            "status": a.status, "disposition": a.disposition, "handoff": a.handoff,
            "intents": said.get(a.id, []), "end_node": a.end_node,
        } for a, number, cname, fields in rows]
    return {"total": total, "calls": calls}


def neighbours(db: Database, search: CallSearch, attempt_id: int) -> dict[str, int | None]:
    """The calls just newer and just older than `attempt_id` among those `search`
    finds (the explorer lists newest first): {"newer": id, "older": id}, None at an end."""
    base = (select(CallAttempt.id).join(Contact, Contact.id == CallAttempt.contact_id)
            .where(*search.where()))
    with db.session() as s:
        newer = s.scalar(base.where(CallAttempt.id > attempt_id)
                         .order_by(CallAttempt.id.asc()).limit(1))
        older = s.scalar(base.where(CallAttempt.id < attempt_id)
                         .order_by(CallAttempt.id.desc()).limit(1))
    return {"newer": newer, "older": older}


def intents_said(db: Database) -> list[str]:
    """Every intent recognised in any call, sorted."""
    with db.session() as s:
        return sorted(i for i in s.scalars(select(Turn.intent).distinct()) if i)


def recording_path(db: Database, attempt_id: int) -> str | None:
    """Where the call's recording was written (None: not recorded, or no such call)."""
    with db.session() as s:
        return s.scalar(select(CallAttempt.recording_path)
                        .where(CallAttempt.id == attempt_id))


def calls_under_way(db: Database) -> dict[str, int]:
    """How many calls are dialing and how many answered, by status (absent: none)."""
    with db.session() as s:
        return dict(s.execute(
            select(CallAttempt.status, func.count()).where(CallAttempt.status.in_(
                (AttemptStatus.DIALING, AttemptStatus.ANSWERED)))
            .group_by(CallAttempt.status)).all())
