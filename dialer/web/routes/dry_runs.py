"""A campaign's dry-runs: a rehearsal copy of it called by simulated customers on a
private worker (dialer/sandbox/rehearsal.py), started from its page or the API, each
with its report (transcripts, dispositions, flagged turns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from campaigns.db import Database
from campaigns.lifecycle import CampaignError, change_status, progress
from campaigns.queries.campaigns import rehearsals_of
from campaigns.settings import CampaignSettings
from dialer.web.auth import allow
from dialer.web.campaign_forms import campaign_or_404
from dialer.web.deps import Db, Render, Settings
from dialer.web.pages import Page
from dialer.web.roles import MARKETING, READERS

DRY_RUN_TIMEOUT_S = 600
router = APIRouter()


def rehearsals(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's dry-runs, newest first, each with its report and whether it is
    still under way (a rehearsal whose runner died is not: it has a deadline)."""
    from dialer.sandbox.rehearsal import rehearsal_report

    out = []
    deadline = datetime.now(UTC) - timedelta(seconds=DRY_RUN_TIMEOUT_S + 300)
    for rid, status, created in rehearsals_of(db, campaign_id):
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        under_way = status in ("draft", "running") and created > deadline
        try:
            report: dict[str, Any] = rehearsal_report(db, rid)
        except CampaignError as exc:
            report = {"rehearsal": {"id": rid, "status": status}, "error": str(exc),
                      "calls": [], "dispositions": {}, "flagged_turns": 0,
                      "expectations": None}
        p = progress(db, rid)
        out.append({**report, "under_way": under_way,
                    "progress": {"done": p["done"], "total": p["total"]}})
    return out


def start_dry_run(db: Database, settings: CampaignSettings, campaign_id: int) -> int:
    """Prepare the rehearsal here (the page shows it at once) and run it in its own
    process: its simulator, worker and broker outlive no request."""
    import os
    import subprocess
    import sys

    from dialer.sandbox.rehearsal import prepare_rehearsal, rehearsals_under_way

    if any(r["under_way"] for r in rehearsals(db, campaign_id)):
        raise CampaignError("a dry-run of this campaign is already under way")
    limit = settings.max_dry_runs
    busy = f"{limit} dry-run(s) are under way on this server, the most at once; " \
           "try again when one has finished"
    if rehearsals_under_way(db, DRY_RUN_TIMEOUT_S) >= limit:
        raise CampaignError(busy)
    rid = prepare_rehearsal(db, campaign_id)
    # Two requests may have passed the check together: the later one gives way.
    if rehearsals_under_way(db, DRY_RUN_TIMEOUT_S, up_to=rid) > limit:
        change_status(db, rid, "stop")
        raise CampaignError(busy)
    logs = (settings.data_dir / "logs").resolve()
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DIALER_DATABASE_URL=db.url,
               DIALER_DATA_DIR=str(settings.data_dir.resolve()))
    with (logs / f"dry-run-{campaign_id}.log").open("ab") as out:
        subprocess.Popen([sys.executable, "-m", "dialer.cli", "campaign", "dry-run",
                          str(campaign_id), "--prepared", str(rid), "--timeout",
                          str(DRY_RUN_TIMEOUT_S)], stdout=out, stderr=subprocess.STDOUT,
                         env=env, start_new_session=True)
    return rid


def dry_runs_page(db: Database, page: Page, campaign_id: int, error: str = "",
                  status: int = 200) -> HTMLResponse:
    c = campaign_or_404(db, campaign_id)
    reports = rehearsals(db, campaign_id)
    running = any(r["under_way"] for r in reports)
    return page("dryruns.html", status=status, c=c, reports=reports, running=running,
                error=error)


@router.get("/campaigns/{campaign_id}/dry-runs", response_class=HTMLResponse,
            dependencies=[allow(*READERS)])
def dry_runs_get(db: Db, page: Render, campaign_id: int) -> HTMLResponse:
    return dry_runs_page(db, page, campaign_id)


@router.post("/campaigns/{campaign_id}/dry-runs", dependencies=[allow(*MARKETING)])
def dry_run_start(db: Db, settings: Settings, page: Render, campaign_id: int) -> Response:
    campaign_or_404(db, campaign_id)
    try:
        rid = start_dry_run(db, settings, campaign_id)
    except CampaignError as exc:
        # Shown in the answer itself: a `?error=` in a link would let anyone put
        # words of theirs on our page.
        return dry_runs_page(db, page, campaign_id, str(exc), status=409)
    return RedirectResponse(f"/campaigns/{campaign_id}/dry-runs#dry-run-{rid}",
                            status_code=303)


@router.get("/api/campaigns/{campaign_id}/dry-runs", dependencies=[allow(*READERS)])
def api_dry_runs(db: Db, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's dry-runs, newest first: transcripts, dispositions, flags."""
    campaign_or_404(db, campaign_id)
    return rehearsals(db, campaign_id)


@router.post("/api/campaigns/{campaign_id}/dry-runs", status_code=202,
             dependencies=[allow(*MARKETING)])
def api_dry_run_start(db: Db, settings: Settings, campaign_id: int) -> dict[str, Any]:
    """Start a dry-run; poll GET .../dry-runs for its report."""
    campaign_or_404(db, campaign_id)
    try:
        return {"rehearsal_id": start_dry_run(db, settings, campaign_id)}
    except CampaignError as exc:
        raise HTTPException(409, str(exc)) from None
