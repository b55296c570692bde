"""`dialer dnc ...`: the do-not-call lists (campaigns/dnc.py), the global one or a
campaign's own: add and remove numbers, search them."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from dialer.cli.common import console, guarded, open_database

dnc_app = typer.Typer(help="Do-not-call lists: global, or one campaign's (--campaign).",
                      no_args_is_help=True)
CampaignOpt = Annotated[int | None, typer.Option(
    "--campaign", help="The campaign's own list instead of the global one.")]


@dnc_app.command("add")
def dnc_add(numbers: list[str], campaign: CampaignOpt = None,
            reason: Annotated[str | None, typer.Option(help="Why (kept).")] = None) -> None:
    """Add numbers; they are never dialed again (checked at dial time too)."""
    from campaigns import dnc
    from campaigns.settings import CampaignSettings

    db, region = open_database(), CampaignSettings().default_region
    for n in numbers:
        e164, added = guarded(dnc.add_number, db, n, campaign_id=campaign, region=region,
                             reason=reason, added_by="cli")
        console.print(f"{e164} {'added' if added else 'was already on the list'}")


@dnc_app.command("remove")
def dnc_remove(numbers: list[str], campaign: CampaignOpt = None) -> None:
    """Take numbers off a list."""
    from campaigns import dnc
    from campaigns.settings import CampaignSettings

    db, region = open_database(), CampaignSettings().default_region
    for n in numbers:
        gone = guarded(dnc.remove_number, db, n, campaign_id=campaign, region=region)
        console.print(f"{n} {'removed' if gone else 'was not on the list'}")


@dnc_app.command("search")
def dnc_search(text: Annotated[str, typer.Argument()] = "", campaign: CampaignOpt = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Entries whose number contains TEXT (digits compared), newest first."""
    from campaigns import dnc

    rows = dnc.search(open_database(), text, campaign_id=campaign)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("number", "list", "source", "reason", "added")
    for r in rows:
        table.add_row(r["phone"], r["scope"], r["source"], r["reason"] or "",
                      r["created_at"][:16])
    console.print(table)
