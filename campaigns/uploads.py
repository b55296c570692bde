"""How long uploaded call lists are kept.

Every upload is stored as it came (DIALER_DATA_DIR/uploads) so a rejected row can be
traced back to the file. The file is deleted `upload_retention_days` (DIALER_UPLOAD_
RETENTION_DAYS, 90 by default) after its upload once its import has finished (done or
failed, or left waiting for a phone column that long); the import's counts and every
rejected row, with all its cells, stay in the database and downloadable, and the
import's page says when the file was deleted. Imports still queued or running are never
touched. The web app purges when it starts and after imports, at most daily; `dialer
imports purge` does it from cron.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from campaigns.db import Database
from campaigns.import_fields import sidecar
from campaigns.models import ImportBatch, utcnow
from campaigns.refusals import Phrase, Refusal

log = logging.getLogger("campaigns.uploads")
FINISHED = ("done", "failed", "needs_mapping")


class UploadError(Refusal, ValueError):
    """A retention setting that cannot be used; a ValueError, as callers expect."""


def purge_uploads(db: Database, uploads_dir: Path, retention_days: int,
                  now: datetime | None = None) -> list[int]:
    """Delete the stored files of finished imports uploaded more than `retention_days`
    ago; the ids of the imports whose file went. Each is marked first with a compare-
    and-set on its status, so an import a person starts meanwhile (a column mapping)
    keeps its file. Only files inside `uploads_dir` are ever deleted."""
    if retention_days < 1:
        raise UploadError("the upload retention is {days} days; it must be 1 or more",
                          days=retention_days)
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    root = uploads_dir.resolve()
    with db.session() as s:
        due = s.execute(select(ImportBatch.id, ImportBatch.status, ImportBatch.stored_path)
                        .where(ImportBatch.purged_at.is_(None),
                               ImportBatch.status.in_(FINISHED),
                               ImportBatch.created_at < cutoff)
                        .order_by(ImportBatch.id)).all()
    purged: list[int] = []
    for batch_id, status, stored in due:
        values: dict[str, object] = {"purged_at": now}
        if status == "needs_mapping":
            # Stored as plain text; a page matches it back to its Korean (i18n.said_any).
            values.update(status="failed", message=str(Phrase(
                "no phone column was chosen within {days} days, so the uploaded file was "
                "deleted; upload it again to import it", days=retention_days)))
        with db.session() as s:
            marked = s.execute(update(ImportBatch).where(
                ImportBatch.id == batch_id, ImportBatch.status == status,
                ImportBatch.purged_at.is_(None)).values(**values))
            if not marked.rowcount:  # type: ignore[attr-defined]
                continue
        purged.append(batch_id)
        _delete(Path(stored), root, batch_id)
        _delete(sidecar(stored), root, batch_id)  # the column mapping chosen, if any
    if purged:
        log.info("uploads purged: %d file(s) older than %d days, imports %s", len(purged),
                 retention_days, purged)
    return purged


def _delete(path: Path, root: Path, batch_id: int) -> None:
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(root):
            log.warning("import %d: stored file %s is outside %s; not deleted", batch_id,
                        path, root)
            return
        resolved.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("import %d: cannot delete %s (%s); delete it by hand", batch_id, path,
                    exc.strerror)
