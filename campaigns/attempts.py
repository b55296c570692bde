"""One call attempt's record: begun, answered, its turns, the agent's outcome, finished,
and what happens to the contact next (retry, callback, done).

Every function takes a Database (or a Session) made by a composition root.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from campaigns import dnc
from campaigns.db import Database
from campaigns.lifecycle import MAX_RETRY_DELAY_S, CampaignError, campaign_window, contact_zones
from campaigns.models import CallAttempt, Campaign, Contact, Turn, utcnow
from campaigns.refusals import Phrase
from campaigns.statuses import RETRYABLE_DISPOSITIONS, AttemptStatus, ContactStatus, Disposition
from campaigns.windows import next_call_time

MAX_INTERRUPTIONS = 2  # interrupted calls of one contact retried beyond max_attempts


OPT_OUT_INTENT = "opt_out"  # the intent name scripts use for "remove me" (and its key)


def worker_name() -> str:
    """This process as call_attempt.worker names it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def begin_attempt(db: Database, attempt_id: int, uri: str | None = None) -> bool:
    """Move a queued attempt to dialing; False if someone else already did (redelivery)."""
    now = utcnow()
    with db.session() as s:
        won = s.execute(update(CallAttempt).where(
            CallAttempt.id == attempt_id, CallAttempt.status == AttemptStatus.QUEUED)
            .values(status=AttemptStatus.DIALING, dialed_at=now, heartbeat_at=now,
                    sip_uri=uri, worker=worker_name()))
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
            raise CampaignError("no call attempt {attempt_id}", attempt_id=attempt_id)
        c, camp = a.contact, s.get(Campaign, a.campaign_id)
        assert camp is not None
        return {"attempt_id": a.id, "campaign_id": camp.id, "campaign_status": camp.status,
                "attempt_status": a.status,
                "script_dir": camp.script_dir, "language": camp.language,
                "ring_timeout_s": camp.ring_timeout_s, "caller_id": camp.caller_id,
                "voice": camp.voice, "trunk": camp.trunk, "dry_run": bool(camp.dry_run),
                "phone": c.phone, "fields": dict(c.fields), "attempt_no": a.attempt_no}


def handoff_context(db: Database, attempt_id: int,
                    fallback_zone: str = "Asia/Seoul") -> dict[str, Any]:
    """What a handed-off call's screen pop shows and how its queue is chosen: the
    campaign, the contact, the callee's zone, the agent who last spoke to this contact."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None:
            raise CampaignError("no call attempt {attempt_id}", attempt_id=attempt_id)
        camp, contact = s.get(Campaign, a.campaign_id), a.contact
        assert camp is not None
        last_agent = s.scalar(
            select(CallAttempt.agent).join(Contact, Contact.id == CallAttempt.contact_id)
            .where(Contact.phone == contact.phone, CallAttempt.agent.is_not(None),
                   CallAttempt.id != attempt_id)
            .order_by(CallAttempt.id.desc()).limit(1))
        zones = contact_zones(contact.timezones)
        return {"queue": f"campaign-{camp.id}", "prefer": last_agent,
                "timezone": zones[0] if zones else fallback_zone,
                "info": {"attempt_id": a.id, "campaign_id": camp.id, "campaign": camp.name,
                         "phone": contact.phone, "fields": dict(contact.fields),
                         "attempt_no": a.attempt_no}}


def callback_time(db: Database, attempt_id: int, at: datetime,
                  fallback_zone: str = "Asia/Seoul") -> datetime:
    """The first moment from `at` the campaign may call this contact again (its window
    in the callee's zones); `at` itself for dry-runs or when the schedule has ended."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None:
            raise CampaignError("no call attempt {attempt_id}", attempt_id=attempt_id)
        camp = s.get(Campaign, a.campaign_id)
        assert camp is not None
        if camp.dry_run:
            return at
        when = next_call_time(at, contact_zones(a.contact.timezones), campaign_window(camp),
                              fallback_zone)
        return when or at


# What an agent may record after a handed-off call (the console's disposition form).
AGENT_OUTCOMES = ("resolved", "interested", "not_interested", "callback", "complaint",
                  "wrong_number", "opt_out")


def save_agent_disposition(db: Database, attempt_id: int, agent: str, outcome: str,
                           notes: str = "", callback_at: datetime | None = None) -> None:
    """The agent's form after the call: their outcome and notes; a callback they agreed
    with the customer schedules the contact; an opt-out puts the number on the DNC list."""
    if outcome not in AGENT_OUTCOMES:
        raise CampaignError("outcome {outcome!r}: one of {outcomes}", outcome=outcome,
                            outcomes=AGENT_OUTCOMES)
    if (outcome == "callback") != (callback_at is not None):
        raise CampaignError("a callback needs its time, and only a callback has one")
    if callback_at is not None and callback_at <= utcnow():
        raise CampaignError("the callback time has passed; pick a later one")
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None:
            raise CampaignError("no call attempt {attempt_id}", attempt_id=attempt_id)
        if a.agent != agent:
            raise CampaignError("call {attempt_id} was not taken by {agent}",
                                attempt_id=attempt_id, agent=agent)
        a.agent_disposition, a.agent_notes = outcome, (notes or "").strip()[:4000] or None
        contact = a.contact
        if callback_at is not None:
            a.callback_at = callback_at
            contact.status, contact.next_attempt_at = ContactStatus.PENDING, callback_at
        if outcome == "opt_out":
            dnc.add(s, contact.phone, source="agent",
                    reason=Phrase("asked agent {agent} in call attempt {attempt}",
                                  agent=agent, attempt=attempt_id),
                    added_by=agent)


def mark_answered(db: Database, attempt_id: int) -> None:
    with db.session() as s:
        # Only a call not yet ended: one closed meanwhile (campaigns.leases) stays closed.
        now = utcnow()
        s.execute(update(CallAttempt).where(
            CallAttempt.id == attempt_id,
            CallAttempt.status.in_((AttemptStatus.QUEUED, AttemptStatus.DIALING)))
                  .values(status=AttemptStatus.ANSWERED, answered_at=now, heartbeat_at=now))


def save_turn(db: Database, attempt_id: int, turn: Any) -> None:
    """Insert or update one turn (the customer turn gets its latency after the reply)."""
    values = {k: getattr(turn, k) for k in (
        "speaker", "node", "text", "intent", "confidence", "asr_confidence", "latency_ms",
        "asr_ms", "nlu_ms", "offset_ms", "duration_ms", "processing_ms", "tts_ms",
        "interrupted")}
    values.update({k: getattr(turn, k, None) for k in ("confirmation", "commits")})
    with db.session() as s:
        row = s.scalar(select(Turn).where(Turn.attempt_id == attempt_id, Turn.seq == turn.seq))
        if row is None:
            s.add(Turn(attempt_id=attempt_id, seq=turn.seq, **values))
        else:
            for k, v in values.items():
                setattr(row, k, v)
        if values["speaker"] == "customer" and values["commits"] == OPT_OUT_INTENT:
            # The moment the robot takes the opt-out (a key, a confident reply, or a
            # confirmed one), not when the call ends; a reply it only asked about is not.
            a = s.get(CallAttempt, attempt_id)
            if a is not None:
                by_key = str(values["text"] or "").startswith("DTMF")
                # A simulated callee's opt-out (a dry-run) goes on that campaign's own
                # list: no real person asked, and the global list would keep the
                # persona's number from every later dry-run.
                dnc.add(s, a.contact.phone, source="dtmf" if by_key else "opt_out",
                        campaign_id=a.campaign_id if a.contact.campaign.dry_run else None,
                        reason=Phrase("said {words!r} in call attempt {attempt}",
                                      words=values["text"], attempt=attempt_id),
                        added_by=f"campaign {a.campaign_id}")


HANDOFF_FIELDS = ("handoff_result", "agent", "handoff_at", "agent_ringing_at",
                  "agent_connected_at", "callback_at")


def finish_attempt(db: Database, attempt_id: int, *, disposition: str,
                   sip_status: int | None, sip_reason: str | None, reason: str | None,
                   handoff: bool, end_node: str | None, recording: str | None,
                   error: str | None = None, slots: dict[str, str] | None = None,
                   handoff_info: dict[str, Any] | None = None,
                   codec: str | None = None) -> None:
    """Store the outcome and decide the contact's future (done, a retry later, or the
    callback the robot promised when no agent came). `codec`: the line's, once media
    flowed."""
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        assert a is not None
        # Closed meanwhile as interrupted (this process's lease went stale: a long pause
        # or a partition): the call went on after all, so its record says how it ended,
        # but a newer attempt may own the contact now and must not be overruled.
        reaped = a.status in (AttemptStatus.COMPLETED, AttemptStatus.FAILED)
        if reaped:
            reason = Phrase("{reason} (the call went on after it was closed as interrupted: "
                            "{first})", reason=reason or disposition, first=a.reason)
        a.status = AttemptStatus.FAILED if error else AttemptStatus.COMPLETED
        a.disposition, a.sip_status, a.sip_reason = disposition, sip_status, sip_reason
        a.reason, a.handoff, a.end_node = reason, handoff, end_node
        a.slots, a.codec = slots or None, codec
        a.recording_path, a.error, a.ended_at = recording, error, utcnow()
        for key, value in (handoff_info or {}).items():
            if key in HANDOFF_FIELDS:
                setattr(a, key, value)
        if not reaped or a.contact.status == ContactStatus.PENDING:
            plan_next(s, a, disposition)


def plan_next(s: Session, a: CallAttempt, disposition: str) -> None:
    """The contact's future after attempt `a` ended with `disposition`: done, a retry
    later, or the callback the robot promised when no agent came."""
    contact, campaign = a.contact, s.get(Campaign, a.campaign_id)
    assert campaign is not None
    contact.last_disposition = disposition
    if a.callback_at is not None and not campaign.dry_run:
        # Promised to the customer: kept whatever the attempt limit. (A dry-run's
        # simulated customers are not called back: it rehearses one pass.)
        contact.status = ContactStatus.PENDING
        contact.next_attempt_at = a.callback_at
    elif disposition in RETRYABLE_DISPOSITIONS and (
            contact.attempts < campaign.max_attempts
            or (disposition == Disposition.INTERRUPTED and _interruptions(s, contact.id)
                <= MAX_INTERRUPTIONS)):
        # An interruption is the dialer's failure, not the contact's answer: it does not
        # use up their attempts, up to MAX_INTERRUPTIONS (a number whose call keeps
        # killing its process must not take the workers down for ever).
        delays = campaign.retry_delays or {}
        contact.status = ContactStatus.PENDING
        contact.next_attempt_at = utcnow() + timedelta(seconds=_retry_delay(
            delays.get(disposition), campaign.retry_delay_s))
    else:
        contact.status = ContactStatus.DONE


def _interruptions(s: Session, contact_id: int) -> int:
    return s.scalar(select(func.count(CallAttempt.id)).where(
        CallAttempt.contact_id == contact_id,
        CallAttempt.disposition == Disposition.INTERRUPTED)) or 0


def _retry_delay(value: object, default: int) -> int:
    """A stored delay, bounded: a row written before the bounds were checked must not
    keep the attempt from closing."""
    for candidate in (value, default, 600):
        try:
            seconds = int(candidate)  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            continue
        return max(0, min(seconds, MAX_RETRY_DELAY_S))
    return 600
