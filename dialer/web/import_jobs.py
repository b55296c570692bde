"""Call lists import in the background, one at a time in one thread per app, so an
upload's request answers at once and its page shows the progress. The same thread
deletes uploads past their retention (campaigns/uploads.py), at most daily."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from campaigns.db import Database
from campaigns.list_imports import run_import
from campaigns.queries.campaigns import script_dir_of
from campaigns.queries.imports import fail_import
from campaigns.settings import CampaignSettings
from campaigns.uploads import purge_uploads

PURGE_EVERY_S = 86400  # how often imports look for uploads past their retention
log = logging.getLogger("dialer.web")


class ImportJobs:
    """The app's import thread (`app.state.import_jobs`); it purges old uploads once
    as soon as it is made."""

    def __init__(self, db: Database, settings: CampaignSettings) -> None:
        self.db, self.settings = db, settings
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import")
        self._purged_at = 0.0
        self.pool.submit(self.purge)

    def start(self, batch_id: int, campaign_id: int) -> None:
        """Run a queued import (queue_import, claim_mapping) in the import thread; it
        runs once however often this is called (run_import claims it)."""
        self.pool.submit(self._run, batch_id, campaign_id)

    def _run(self, batch_id: int, campaign_id: int) -> None:
        try:
            run_import(self.db, batch_id, check_columns=self._field_check(campaign_id),
                       max_rows=self.settings.max_list_rows)
        except Exception as exc:  # noqa: BLE001 - the page shows it; the file is kept
            fail_import(self.db, batch_id, f"{type(exc).__name__}: {exc}")
        self.purge()

    def _field_check(self, campaign_id: int) -> Callable[[list[str]], None]:
        from dialer.conversation.kit import read_campaign

        script, _ = read_campaign(script_dir_of(self.db, campaign_id))
        return lambda cols: script.check_fields(cols, "the uploaded list")

    def purge(self) -> None:
        """Delete uploads past their retention (campaigns/uploads.py), at most daily."""
        if self._purged_at and time.monotonic() - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = time.monotonic()
        try:
            purge_uploads(self.db, self.settings.uploads_dir,
                          self.settings.upload_retention_days)
        except Exception:  # imports go on; the next purge tries again
            log.exception("purging old uploads failed")
