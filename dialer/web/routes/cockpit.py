"""A campaign's page as a cockpit (dialer/web/cockpit.py says what it holds) and its live
figures, progress and outcomes, polled by the page's script while the campaign runs.
Start, Resume and Stop are asked twice: the first press shows what they will do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from campaigns.db import Database
from dialer.web.auth import allow
from dialer.web.campaign_forms import actions, campaign_or_404
from dialer.web.cockpit import CONFIRMED, cockpit, live
from dialer.web.deps import Db
from dialer.web.pages import Page
from dialer.web.roles import READERS
from dialer.web.words import disposition_word, duration_words

router = APIRouter()


@router.get("/api/campaigns/{campaign_id}/live", dependencies=[allow(*READERS)])
def api_campaign_live(db: Db, campaign_id: int) -> dict[str, Any]:
    """The campaign's status, progress (contacts done, in progress, pending) and its
    contacts' outcomes so far, in words, the most frequent first."""
    c = campaign_or_404(db, campaign_id)
    return {"status": c["status"], **live(db, campaign_id)}


def campaign_cockpit_page(page: Page, db: Database, c: dict[str, Any], role: str, *,
                          status: int = 200, confirming: str | None = None,
                          error: str | None = None) -> HTMLResponse:
    """The campaign's page; `confirming`: Start, Resume or Stop asked, to be confirmed."""
    return page("campaign.html", status=status, c=c, cockpit=cockpit(db, c, role),
                actions=actions(c["status"]), confirming=confirming, error=error,
                word=disposition_word, duration=duration_words)


def needs_confirmation(action: str, confirmed: str) -> bool:
    """Start, Resume (they dial people) and Stop (for good) are asked twice."""
    return action in CONFIRMED and confirmed != "yes"
