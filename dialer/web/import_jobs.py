"""Call lists import in the background, one at a time in one thread per app, so an
upload's request answers at once and its page shows the progress; a list lacking a
field the campaign's script uses waits for its mapping (campaigns/import_fields.py).
The same thread deletes uploads past their retention (campaigns/uploads.py), at most
daily."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from campaigns.db import Database
from campaigns.import_fields import missing_fields, missing_sentence, script_fields
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
            unmapped = self._field_check(campaign_id)
        except (ValueError, OSError):  # ScriptError is a ValueError
            name = Path(script_dir_of(self.db, campaign_id)).name
            log.exception("import %d: the script %s cannot be read", batch_id, name)
            fail_import(self.db, batch_id, f"the campaign's script {name!r} cannot be read, "
                        "so the list was not imported; ask whoever looks after the scripts "
                        "to check it, then upload the list again")
            return
        try:
            run_import(self.db, batch_id, unmapped=unmapped,
                       max_rows=self.settings.max_list_rows)
        except Exception:  # the page says so; the file is kept
            log.exception("import %d failed", batch_id)
            fail_import(self.db, batch_id, "the import stopped on an error of the server; "
                        "nothing of it was stored; upload the list again, or tell an admin "
                        "if it happens again")
        self.purge()

    def _field_check(self, campaign_id: int) -> Callable[[list[str], dict[str, str]], str]:
        """Why a list's columns and mapping leave a field of the campaign's script
        without a value ("" when none is): the import then waits for the mapping."""
        from dialer.conversation.kit import read_campaign

        script, _ = read_campaign(script_dir_of(self.db, campaign_id))
        used = script.fields_used()
        fields = script_fields(used, script.slots)

        def unmapped(columns: list[str], mapping: dict[str, str]) -> str:
            lacking = missing_fields(fields, columns, mapping)
            return missing_sentence(lacking[0], used[lacking[0]], script.start) if lacking else ""

        return unmapped

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
