"""A campaign's page as a cockpit (dialer/web/cockpit.py says what it holds) and its live
figures, progress and outcomes, polled by the page's script while the campaign runs.
Start, Resume and Stop are asked twice: the first press shows what they will do."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from campaigns.db import Database
from dialer.web.auth import allow
from dialer.web.campaign_forms import actions, campaign_or_404, language_of
from dialer.web.cockpit import CONFIRMED, cockpit, live
from dialer.web.deps import Db
from dialer.web.i18n import translate as _t
from dialer.web.pages import Page
from dialer.web.roles import READERS
from dialer.web.words import INTENTS, duration_parts, intent_word

router = APIRouter()


@router.get("/api/campaigns/{campaign_id}/live", dependencies=[allow(*READERS)])
def api_campaign_live(request: Request, db: Db, campaign_id: int) -> dict[str, Any]:
    """The campaign's status, progress (contacts done, in progress, pending) and its
    contacts' outcomes so far, in words (the user's language), the most frequent first."""
    c = campaign_or_404(db, campaign_id)
    return {"status": c["status"], **live(db, campaign_id, language_of(request))}


def campaign_cockpit_page(page: Page, db: Database, c: dict[str, Any], role: str, *,
                          status: int = 200, confirming: str | None = None,
                          error: object = None) -> HTMLResponse:
    """The campaign's page; `confirming`: Start, Resume or Stop asked, to be confirmed."""
    lang = language_of(page.request)
    return page("campaign.html", status=status, c=c, cockpit=cockpit(db, c, role, lang=lang),
                actions=actions(c["status"]), confirming=confirming, error=error,
                duration=lambda seconds: duration_in(seconds, lang),
                intent_words=json.dumps({i: intent_word(i, lang) for i in INTENTS},
                                        ensure_ascii=False).replace("</", "<\\/"))


# "1 h 30 min" (dialer/web/words.py) a unit at a time, each unit in the page's language.
_UNITS = {"d": "{n} d", "h": "{n} h", "min": "{n} min", "s": "{n} s"}


def duration_in(seconds: float | None, lang: str = "en") -> str:
    """A delay as people say it, in `lang`: 5400 -> "1 h 30 min" / "1시간 30분"."""
    if seconds is None:
        return ""
    return " ".join(_t(lang, _UNITS[unit], n=n) for n, unit in duration_parts(seconds))


def needs_confirmation(action: str, confirmed: str) -> bool:
    """Start, Resume (they dial people) and Stop (for good) are asked twice."""
    return action in CONFIRMED and confirmed != "yes"
