"""What the web app looks up about a call-list import, and how it records one that
broke in its background thread."""

from __future__ import annotations

from sqlalchemy import update

from campaigns.db import Database
from campaigns.models import ImportBatch


def stored_path(db: Database, batch_id: int) -> str:
    """Where the import's uploaded file is kept ("" when there is no such import)."""
    with db.session() as s:
        b = s.get(ImportBatch, batch_id)
        return b.stored_path if b else ""


def fail_import(db: Database, batch_id: int, message: str) -> None:
    """Mark a queued or running import failed with `message` (one that finished keeps
    its own outcome)."""
    with db.session() as s:
        s.execute(update(ImportBatch).where(
            ImportBatch.id == batch_id,
            ImportBatch.status.in_(("queued", "running"))).values(
            status="failed", message=message))
