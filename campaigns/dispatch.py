"""Which contacts are due now: claimed in campaign order within each campaign's window,
pace and concurrency, checked again at dial time, and claims whose task was lost.

Every function takes a Database (or a Session) made by a composition root.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from campaigns import dnc
from campaigns.db import Database
from campaigns.lifecycle import campaign_window, contact_zones
from campaigns.models import CallAttempt, Campaign, Contact, utcnow
from campaigns.statuses import AttemptStatus, CampaignStatus, ContactStatus, Disposition
from campaigns.windows import next_call_time

ACTIVE_ATTEMPTS = (AttemptStatus.QUEUED, AttemptStatus.DIALING, AttemptStatus.ANSWERED)


def claim_due(db: Database, now: datetime | None = None, limit: int = 50,
              period_s: float = 2.0, fallback_zone: str = "Asia/Seoul",
              sandbox: bool = False, only_campaign: int | None = None) -> list[int]:
    """Turn due contacts of running campaigns into queued attempts; return attempt ids.

    The claim is a compare-and-set (`UPDATE ... WHERE status='pending'`), so two
    dispatchers on two hosts can never both take one contact; the unique
    (contact_id, attempt_no) key is a second lock on the same door. Numbers on a DNC
    list are closed as `blocked` without a call; contacts outside their call window
    (in their own time zone; `fallback_zone` when the number tells none) wait for it;
    at most `max_cps * period_s` calls are claimed per campaign and call.

    A production dispatcher (`sandbox` False) never claims a dry-run's contacts: those
    are simulated customers, called with no call window, and only a sandbox worker (a
    private broker and a loopback simulator, dialer.sandbox.rehearsal) may dial them; a sandbox
    dispatcher claims nothing else, and `only_campaign` binds it to its one rehearsal.
    """
    now = now or utcnow()
    fallback = fallback_zone
    claimed: list[int] = []
    with db.session() as s:
        which = select(Campaign).where(Campaign.status == CampaignStatus.RUNNING,
                                       Campaign.dry_run == sandbox)
        if only_campaign is not None:
            which = which.where(Campaign.id == only_campaign)
        campaigns = s.scalars(which)
        for campaign in campaigns.all():
            active = s.scalar(select(func.count(CallAttempt.id)).where(
                CallAttempt.campaign_id == campaign.id,
                CallAttempt.status.in_(ACTIVE_ATTEMPTS))) or 0
            # Pacing: at most max_cps new calls a second of the dispatch period.
            paced = max(1, int(campaign.max_cps * period_s))
            free = min(campaign.max_concurrent - active, limit - len(claimed), paced)
            if free <= 0:
                continue
            window = campaign_window(campaign)
            due = s.execute(select(Contact.id, Contact.phone, Contact.timezones).where(
                Contact.campaign_id == campaign.id, Contact.status == ContactStatus.PENDING,
                Contact.next_attempt_at <= now).order_by(Contact.next_attempt_at, Contact.id)
                .limit(free * 4)
                # PostgreSQL: dispatchers on other hosts skip the rows this one is taking
                # instead of queueing behind them (SQLite has one writer anyway).
                .with_for_update(skip_locked=True, of=Contact)).all()
            on_dnc = dnc.blocked_among(s, [d.phone for d in due], campaign.id)
            taken = 0
            for contact_id, phone, zones in due:
                if taken >= free:
                    break
                if phone in on_dnc:  # never dialed; the contact is done
                    s.execute(update(Contact).where(
                        Contact.id == contact_id, Contact.status == ContactStatus.PENDING)
                        .values(status=ContactStatus.DONE,
                                last_disposition=Disposition.BLOCKED))
                    continue
                when = now if campaign.dry_run else \
                    next_call_time(now, contact_zones(zones), window, fallback)
                if when != now:  # outside their window: due again when it opens
                    s.execute(update(Contact).where(
                        Contact.id == contact_id, Contact.status == ContactStatus.PENDING)
                        .values(**({"next_attempt_at": when} if when else
                                   {"status": ContactStatus.DONE,
                                    "last_disposition": "schedule_ended"})))
                    continue
                won = s.execute(update(Contact).where(
                    Contact.id == contact_id, Contact.status == ContactStatus.PENDING)
                    .values(status=ContactStatus.CLAIMED, attempts=Contact.attempts + 1))
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                taken += 1
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


def dial_check(db: Database, attempt_id: int, now: datetime | None = None,
               fallback_zone: str = "Asia/Seoul", sandbox: bool = False) -> str | None:
    """Just before dialing: None if the call may go, else why not. A number put on a DNC
    list while its call waited is closed as `blocked`; one whose window shut meanwhile is
    given back, due when it opens. A dry-run's attempt reaching a production worker (or
    a real campaign's reaching a sandbox worker) is given back undialed: the window is
    skipped only for simulated customers, and only a sandbox worker calls them."""
    now = now or utcnow()
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        if a is None or a.status != AttemptStatus.QUEUED:
            return None
        campaign, contact = s.get(Campaign, a.campaign_id), a.contact
        assert campaign is not None
        if bool(campaign.dry_run) != sandbox:
            contact.status = ContactStatus.PENDING
            contact.attempts = max(0, contact.attempts - 1)
            s.delete(a)
            return ("refused: a dry-run is dialed only by its rehearsal's sandbox worker"
                    if campaign.dry_run else
                    "refused: a sandbox worker dials dry-runs only, never a real campaign")
        entry = dnc.blocked(s, contact.phone, campaign.id)
        if entry is not None:
            a.status, a.disposition, a.ended_at = (AttemptStatus.COMPLETED,
                                                   Disposition.BLOCKED, now)
            a.reason = f"on the {entry.scope} do-not-call list ({entry.source}); not dialed"
            contact.status, contact.last_disposition = ContactStatus.DONE, Disposition.BLOCKED
            return a.reason
        when = now if campaign.dry_run else next_call_time(
            now, contact_zones(contact.timezones), campaign_window(campaign), fallback_zone)
        if when != now:
            contact.status = ContactStatus.PENDING if when else ContactStatus.DONE
            contact.attempts = max(0, contact.attempts - 1)
            if when:
                contact.next_attempt_at = when
            s.delete(a)
            return f"outside the call window; due again at {when}" if when \
                else "the campaign's last day has passed"
    return None


def stale_queued(db: Database, older_than_s: float = 60.0, sandbox: bool = False,
                 only_campaign: int | None = None) -> list[int]:
    """Attempts claimed but never started (lost message); safe to send again because
    begin_attempt lets only one delivery through. Only the kind this dispatcher claims
    (a dry-run's, or a real campaign's: see claim_due)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    query = (select(CallAttempt.id).join(Campaign, Campaign.id == CallAttempt.campaign_id)
             .where(CallAttempt.status == AttemptStatus.QUEUED, CallAttempt.created_at < cutoff,
                    Campaign.dry_run == sandbox))
    if only_campaign is not None:
        query = query.where(Campaign.id == only_campaign)
    with db.session() as s:
        return list(s.scalars(query))
