"""The do-not-call lists on the web: the global list and each campaign's, searched,
added to and taken from by a page and the API; every change is in the audit log."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from campaigns import dnc
from campaigns.db import Database
from campaigns.users import CurrentUser
from dialer.web.auth import allow
from dialer.web.campaign_forms import language_of
from dialer.web.deps import Db, Render, Settings, User
from dialer.web.errors import Rejected
from dialer.web.i18n import translate as _t
from dialer.web.roles import MARKETING
from dialer.web.uploads import audit

router = APIRouter()
DNC_DONE = {"added": "{number} added.", "removed": "{number} removed.",
            "already": "{number} was already on the list.",
            "absent": "{number} was not on the list."}


class DncIn(BaseModel):
    phone: str
    campaign_id: int | None = None
    reason: str | None = None


def dnc_change(db: Database, user: CurrentUser, region: str, phone: str,
               campaign_id: int | None, add: bool, source: str,
               reason: str | None = None) -> tuple[str, bool]:
    """Add or remove a number, in the audit log when it changed a list; (the number
    in E.164, whether it changed). DncError says what to correct."""
    if add:
        e164, changed = dnc.add_number(db, phone, campaign_id=campaign_id, region=region,
                                       source=source, reason=reason, added_by=user.username)
    else:
        e164 = dnc.normalise(phone, region)
        changed = dnc.remove_number(db, e164, campaign_id=campaign_id, region=region)
    if changed:
        detail = {"phone": e164, "list": dnc.scope_of(campaign_id), "via": source}
        audit(db, user, "dnc_add" if add else "dnc_remove",
              {**detail, "reason": reason} if add else detail)
    return e164, changed


@router.get("/dnc", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
def dnc_page(db: Db, page: Render, q: str = "", campaign: int | None = None,
             done: str = "", number: str = "") -> HTMLResponse:
    """The do-not-call page: search the lists, add a number or take one off."""
    # Only our own sentences, and a number only when it is one: a link must not be
    # able to put words of its own on the page.
    lang = language_of(page.request)
    shown = number if re.fullmatch(r"\+[0-9]{6,15}", number) else _t(lang, "The number")
    return page("dnc.html", entries=dnc.search(db, q, campaign_id=campaign), q=q,
                campaign=campaign, error="",
                done=_t(lang, DNC_DONE[done], number=shown) if done in DNC_DONE else "")


@router.post("/dnc", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
def dnc_submit(request: Request, db: Db, settings: Settings, user: User, page: Render,
               phone: Annotated[str, Form()], action: Annotated[str, Form()] = "add",
               campaign: Annotated[str, Form()] = "",
               reason: Annotated[str, Form()] = "") -> Response:
    """Add a number to a do-not-call list, or take it off, from the page's form."""
    adding = action != "remove"
    try:
        if campaign.strip() and not campaign.strip().isdigit():
            raise dnc.DncError("The campaign {campaign} must be a campaign's number, or "
                               "empty for every campaign's list.",
                               campaign=repr(campaign.strip()[:40]))
        cid = int(campaign) if campaign.strip() else None
        e164, changed = dnc_change(db, user, settings.default_region, phone, cid, adding,
                                   "manual", reason or None)
        done = ("added" if adding else "removed") if changed else \
            ("already" if adding else "absent")
    except dnc.DncError as exc:
        status = 404 if isinstance(exc, dnc.UnknownCampaign) else 400
        return page("dnc.html", status=status, entries=dnc.search(db, ""), q="",
                    campaign=None, error=exc, done="")
    return RedirectResponse(f"/dnc?done={done}&number={quote(e164)}", status_code=303)


@router.get("/api/dnc", dependencies=[allow(*MARKETING)])
def api_dnc(db: Db, q: str = "", campaign_id: int | None = None) -> list[dict[str, Any]]:
    """Do-not-call entries whose number contains `q`, newest first (global or a campaign's)."""
    return dnc.search(db, q, campaign_id=campaign_id)


@router.post("/api/dnc", status_code=201, dependencies=[allow(*MARKETING)])
def api_dnc_add(db: Db, settings: Settings, user: User, body: DncIn) -> dict[str, Any]:
    """Put a number on the global list, or a campaign's (404: no such campaign)."""
    try:
        e164, added = dnc_change(db, user, settings.default_region, body.phone,
                                 body.campaign_id, True, "api", body.reason)
    except dnc.DncError as exc:
        raise HTTPException(404 if isinstance(exc, dnc.UnknownCampaign) else 400,
                            str(exc)) from None
    return {"phone": e164, "added": added}


@router.delete("/api/dnc/{phone}", dependencies=[allow(*MARKETING)])
def api_dnc_remove(db: Db, settings: Settings, user: User, phone: str,
                   campaign_id: int | None = None) -> dict[str, Any]:
    """Take a number off the global list, or a campaign's (404: not on it, or no
    such campaign)."""
    try:
        _, gone = dnc_change(db, user, settings.default_region, phone, campaign_id, False,
                             "api")
    except dnc.DncError as exc:
        raise HTTPException(404 if isinstance(exc, dnc.UnknownCampaign) else 400,
                            str(exc)) from None
    if not gone:
        raise Rejected(404, "{phone} is not on that list", phone=phone)
    return {"phone": phone, "removed": True}
