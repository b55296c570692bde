"""A campaign as its pages and API show it, and the few facts about it they look up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from campaigns.db import Database
from campaigns.models import Campaign, Contact, ImportBatch


def campaign_view(db: Database, campaign_id: int) -> dict[str, Any] | None:
    """The campaign's settings and its imports (newest first); None: no such campaign."""
    with db.session() as s:
        c = s.get(Campaign, campaign_id)
        if c is None:
            return None
        batches = s.scalars(select(ImportBatch).where(ImportBatch.campaign_id == c.id)
                            .order_by(ImportBatch.id.desc())).all()
        return {"id": c.id, "name": c.name, "status": c.status, "script_dir": c.script_dir,
                "region": c.region, "window": f"{c.window_start}-{c.window_end}",
                "first_day": c.first_day, "last_day": c.last_day, "max_cps": c.max_cps,
                "max_concurrent": c.max_concurrent, "max_attempts": c.max_attempts,
                "retry_delays": c.retry_delays or {}, "retry_delay_s": c.retry_delay_s,
                "dry_run": c.dry_run, "caller_id": c.caller_id, "voice": c.voice,
                "trunk": c.trunk, "language": c.language,
                "ring_timeout_s": c.ring_timeout_s, "rehearsal_of": c.rehearsal_of,
                "imports": [{"id": b.id, "filename": b.filename, "status": b.status,
                             "accepted": b.accepted, "rejected": b.rejected}
                            for b in batches]}


def campaign_names(db: Database) -> dict[int, str]:
    """Every campaign's name by its id (dry-run rehearsals too)."""
    with db.session() as s:
        return dict(s.execute(select(Campaign.id, Campaign.name)).all())


def script_dir_of(db: Database, campaign_id: int) -> str:
    """The campaign's script directory ("" when there is no such campaign)."""
    with db.session() as s:
        c = s.get(Campaign, campaign_id)
        return c.script_dir if c else ""


def contact_fields(db: Database, campaign_id: int) -> list[str] | None:
    """The field names of the campaign's contacts (one contact's: a list has one
    header); None while it has none."""
    with db.session() as s:
        fields = s.scalar(select(Contact.fields).where(Contact.campaign_id == campaign_id)
                          .limit(1))
    return None if fields is None else list(fields)


def rehearsals_of(db: Database, campaign_id: int) -> list[tuple[int, str, datetime]]:
    """The campaign's dry-run rehearsals, newest first: (id, status, created)."""
    with db.session() as s:
        rows = s.execute(select(Campaign.id, Campaign.status, Campaign.created_at).where(
            Campaign.rehearsal_of == campaign_id).order_by(Campaign.id.desc())).all()
    return [(rid, status, created) for rid, status, created in rows]


def campaigns_region(db: Database, fallback: str) -> str:
    """The region this dialer's campaigns call: the one most of them (dry-runs aside)
    have, the newest campaign's among equals; `fallback` before there is any. Times are
    read in its zone by whoever has not chosen theirs."""
    with db.session() as s:
        rows = s.execute(select(Campaign.region, func.count(), func.max(Campaign.id))
                         .where(Campaign.rehearsal_of.is_(None))
                         .group_by(Campaign.region)).all()
    best = max(rows, key=lambda r: (r[1], r[2]), default=None)
    return str(best[0]) if best is not None and best[0] else fallback
