"""Campaign operations on the database: create from a call list, claim, record, report.

Every function takes a Database (or a Session) made by a composition root.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.db import Database
from campaigns.importer import ParsedList, read_call_list
from campaigns.models import (
    RETRYABLE_DISPOSITIONS,
    AttemptStatus,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
    ImportBatch,
    ImportRejection,
    Turn,
    utcnow,
)

ACTIVE_ATTEMPTS = (AttemptStatus.QUEUED, AttemptStatus.DIALING, AttemptStatus.ANSWERED)


class CampaignError(ValueError):
    """A request the operator can correct; the message says how."""


@dataclass
class ImportSummary:
    campaign_id: int
    batch_id: int
    accepted: int
    rejected: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "accepted": self.accepted,
                "rejected": self.rejected, "errors": self.errors}


def _store_upload(uploads_dir: Path, csv_path: Path) -> Path:
    # Keep the file exactly as uploaded: rejected rows can always be traced back to it.
    uploads_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    dest = uploads_dir / f"{stamp}-{csv_path.name}"
    shutil.copyfile(csv_path, dest)
    return dest


def create_campaign(db: Database, *, name: str, script_dir: Path, csv_path: Path,
                    uploads_dir: Path, region: str = "KR", phone_column: str | None = None,
                    check_columns: Callable[[list[str]], None] | None = None,
                    **options: Any) -> ImportSummary:
    """Create a draft campaign and import its call list in one transaction.

    The CSV is parsed before anything is written, so a file-level error leaves the
    database as it was; `check_columns` (e.g. the script's fields) may refuse it too.
    """
    parsed = read_call_list(csv_path, default_region=region, phone_column=phone_column)
    if check_columns is not None:
        check_columns(parsed.columns)
    with db.session() as s:
        if s.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
            raise CampaignError(f"a campaign named {name!r} already exists; choose another --name")
        campaign = Campaign(name=name, script_dir=str(Path(script_dir).resolve()),
                            region=region.upper(), **options)
        s.add(campaign)
        s.flush()
        summary = _import(s, campaign.id, parsed, _store_upload(uploads_dir, Path(csv_path)))
    return summary


def _import(s: Session, campaign_id: int, parsed: ParsedList, stored: Path) -> ImportSummary:
    existing = set(s.scalars(select(Contact.phone).where(Contact.campaign_id == campaign_id)))
    batch = ImportBatch(campaign_id=campaign_id, filename=parsed.path.name,
                        stored_path=str(stored), total_rows=parsed.total_rows)
    s.add(batch)
    s.flush()
    errors: list[dict[str, Any]] = [
        {"row": e.row, "value": e.value, "reason": e.reason, "raw": e.raw}
        for e in parsed.errors]
    accepted = 0
    for c in parsed.contacts:
        if c.phone in existing:
            errors.append({"row": c.row, "value": c.phone, "reason":
                           f"{c.phone} is already in this campaign", "raw": c.fields})
            continue
        existing.add(c.phone)
        s.add(Contact(campaign_id=campaign_id, phone=c.phone, fields=c.fields,
                      source_row=c.row))
        accepted += 1
    errors.sort(key=lambda e: e["row"])
    for e in errors:
        s.add(ImportRejection(batch_id=batch.id, row=e["row"], value=e["value"],
                              reason=e["reason"], raw=e["raw"]))
    batch.accepted, batch.rejected = accepted, len(errors)
    return ImportSummary(campaign_id=campaign_id, batch_id=batch.id, accepted=accepted,
                         rejected=len(errors),
                         errors=[{k: e[k] for k in ("row", "value", "reason")} for e in errors])


def get_campaign(s: Session, campaign_id: int) -> Campaign:
    campaign = s.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"no campaign with id {campaign_id}; see `dialer campaign list`")
    return campaign


def start_campaign(db: Database, campaign_id: int) -> None:
    with db.session() as s:
        c = get_campaign(s, campaign_id)
        if c.status in (CampaignStatus.STOPPED, CampaignStatus.FINISHED):
            raise CampaignError(f"campaign {campaign_id} is {c.status} and cannot start again")
        c.status = CampaignStatus.RUNNING
        c.started_at = c.started_at or utcnow()


def list_campaigns(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        rows = s.execute(select(Campaign, func.count(Contact.id))
                         .outerjoin(Contact).group_by(Campaign.id).order_by(Campaign.id)).all()
        return [{"id": c.id, "name": c.name, "status": c.status, "contacts": n,
                 "script_dir": c.script_dir, "created_at": c.created_at.isoformat()}
                for c, n in rows]


# -- dispatching ---------------------------------------------------------------------

def claim_due(db: Database, now: datetime | None = None, limit: int = 50) -> list[int]:
    """Turn due contacts of running campaigns into queued attempts; return attempt ids.

    The claim is a compare-and-set (`UPDATE ... WHERE status='pending'`), so two
    dispatchers on two hosts can never both take one contact; the unique
    (contact_id, attempt_no) key is a second lock on the same door.
    """
    now = now or utcnow()
    claimed: list[int] = []
    with db.session() as s:
        campaigns = s.scalars(select(Campaign).where(Campaign.status == CampaignStatus.RUNNING))
        for campaign in campaigns.all():
            active = s.scalar(select(func.count(CallAttempt.id)).where(
                CallAttempt.campaign_id == campaign.id,
                CallAttempt.status.in_(ACTIVE_ATTEMPTS))) or 0
            free = min(campaign.max_concurrent - active, limit - len(claimed))
            if free <= 0:
                continue
            due = s.scalars(select(Contact.id).where(
                Contact.campaign_id == campaign.id, Contact.status == ContactStatus.PENDING,
                Contact.next_attempt_at <= now).order_by(Contact.next_attempt_at, Contact.id)
                .limit(free)).all()
            for contact_id in due:
                won = s.execute(update(Contact).where(
                    Contact.id == contact_id, Contact.status == ContactStatus.PENDING)
                    .values(status=ContactStatus.CLAIMED, attempts=Contact.attempts + 1))
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                attempt_no = s.scalar(select(Contact.attempts).where(Contact.id == contact_id))
                attempt = CallAttempt(campaign_id=campaign.id, contact_id=contact_id,
                                      attempt_no=attempt_no)
                try:
                    with s.begin_nested():
                        s.add(attempt)
                except IntegrityError:
                    continue
                claimed.append(attempt.id)
    return claimed


def stale_queued(db: Database, older_than_s: float = 60.0) -> list[int]:
    """Attempts claimed but never started (lost message); safe to send again because
    begin_attempt lets only one delivery through."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with db.session() as s:
        return list(s.scalars(select(CallAttempt.id).where(
            CallAttempt.status == AttemptStatus.QUEUED, CallAttempt.created_at < cutoff)))


def begin_attempt(db: Database, attempt_id: int, uri: str | None = None) -> bool:
    """Move a queued attempt to dialing; False if someone else already did (redelivery)."""
    with db.session() as s:
        won = s.execute(update(CallAttempt).where(
            CallAttempt.id == attempt_id, CallAttempt.status == AttemptStatus.QUEUED)
            .values(status=AttemptStatus.DIALING, dialed_at=utcnow(), sip_uri=uri,
                    worker=f"{socket.gethostname()}:{os.getpid()}"))
        return won.rowcount == 1  # type: ignore[attr-defined]


def release_attempt(db: Database, attempt_id: int) -> bool:
    """Give a queued attempt back (campaign paused before it was dialed): the contact is
    due again and the attempt never counted."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None or a.status != AttemptStatus.QUEUED:
            return False
        a.contact.status = ContactStatus.PENDING
        a.contact.attempts = max(0, a.contact.attempts - 1)
        s.delete(a)
        return True


def attempt_context(db: Database, attempt_id: int) -> dict[str, Any]:
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None:
            raise CampaignError(f"no call attempt {attempt_id}")
        c, camp = a.contact, s.get(Campaign, a.campaign_id)
        assert camp is not None
        return {"attempt_id": a.id, "campaign_id": camp.id, "campaign_status": camp.status,
                "attempt_status": a.status,
                "script_dir": camp.script_dir, "language": camp.language,
                "ring_timeout_s": camp.ring_timeout_s, "caller_id": camp.caller_id,
                "phone": c.phone, "fields": dict(c.fields), "attempt_no": a.attempt_no}


def mark_answered(db: Database, attempt_id: int) -> None:
    with db.session() as s:
        s.execute(update(CallAttempt).where(CallAttempt.id == attempt_id)
                  .values(status=AttemptStatus.ANSWERED, answered_at=utcnow()))


def save_turn(db: Database, attempt_id: int, turn: Any) -> None:
    """Insert or update one turn (the customer turn gets its latency after the reply)."""
    values = {k: getattr(turn, k) for k in (
        "speaker", "node", "text", "intent", "confidence", "asr_confidence", "latency_ms",
        "asr_ms", "nlu_ms", "offset_ms", "duration_ms", "processing_ms", "tts_ms",
        "interrupted")}
    with db.session() as s:
        row = s.scalar(select(Turn).where(Turn.attempt_id == attempt_id, Turn.seq == turn.seq))
        if row is None:
            s.add(Turn(attempt_id=attempt_id, seq=turn.seq, **values))
        else:
            for k, v in values.items():
                setattr(row, k, v)


def finish_attempt(db: Database, attempt_id: int, *, disposition: str,
                   sip_status: int | None, sip_reason: str | None, reason: str | None,
                   handoff: bool, end_node: str | None, recording: str | None,
                   error: str | None = None, slots: dict[str, str] | None = None) -> None:
    """Store the outcome and decide the contact's future (done, or retry later)."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        assert a is not None
        a.status = AttemptStatus.FAILED if error else AttemptStatus.COMPLETED
        a.disposition, a.sip_status, a.sip_reason = disposition, sip_status, sip_reason
        a.reason, a.handoff, a.end_node = reason, handoff, end_node
        a.slots = slots or None
        a.recording_path, a.error, a.ended_at = recording, error, utcnow()
        contact, campaign = a.contact, s.get(Campaign, a.campaign_id)
        assert campaign is not None
        contact.last_disposition = disposition
        if disposition in RETRYABLE_DISPOSITIONS and contact.attempts < campaign.max_attempts:
            contact.status = ContactStatus.PENDING
            contact.next_attempt_at = utcnow() + timedelta(seconds=campaign.retry_delay_s)
        else:
            contact.status = ContactStatus.DONE


def finish_campaigns(db: Database) -> list[int]:
    """Running campaigns with nothing left to dial or in progress become finished."""
    done = []
    with db.session() as s:
        for c in s.scalars(select(Campaign).where(Campaign.status == CampaignStatus.RUNNING)):
            open_contacts = s.scalar(select(func.count(Contact.id)).where(
                Contact.campaign_id == c.id, Contact.status != ContactStatus.DONE)) or 0
            if open_contacts == 0:
                c.status, c.finished_at = CampaignStatus.FINISHED, utcnow()
                done.append(c.id)
    return done


def progress(db: Database, campaign_id: int) -> dict[str, Any]:
    with db.session() as s:
        c = get_campaign(s, campaign_id)
        by_status = dict(s.execute(select(Contact.status, func.count()).where(
            Contact.campaign_id == campaign_id).group_by(Contact.status)).all())
        total = sum(by_status.values())
        return {"status": c.status, "total": total,
                "done": by_status.get(ContactStatus.DONE, 0),
                "in_progress": by_status.get(ContactStatus.CLAIMED, 0)}
