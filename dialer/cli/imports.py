"""`dialer imports ...`: the uploaded call lists kept on disk (campaigns/uploads.py)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

imports_app = typer.Typer(help="Uploaded call lists kept on disk.", no_args_is_help=True)


@imports_app.command("purge")
def imports_purge(
    days: Annotated[int | None, typer.Option(
        min=1, help="Keep files this many days; default DIALER_UPLOAD_RETENTION_DAYS.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Delete the stored files of finished imports older than the retention (the web app
    does this daily by itself; run it from cron when it is not running). Counts and
    rejected rows stay in the database; each import's page says its file was deleted."""
    from campaigns.settings import CampaignSettings
    from campaigns.uploads import purge_uploads
    from dialer.cli.common import console, open_database

    settings = CampaignSettings()
    keep = days or settings.upload_retention_days
    purged = purge_uploads(open_database(), settings.uploads_dir, keep)
    if as_json:
        print(json.dumps({"retention_days": keep, "purged_imports": purged}))
        return
    console.print(f"{len(purged)} uploaded file{'' if len(purged) == 1 else 's'} deleted "
                  f"(finished imports older than {keep} days)"
                  + (f": imports {', '.join(map(str, purged))}" if purged else ""))
