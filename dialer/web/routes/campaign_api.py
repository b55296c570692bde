"""The campaigns' JSON API: list, read, create and edit a campaign, start/pause/resume/
stop it, its report, and the scripts and voices a campaign can use. Call lists are
uploaded to .../imports (dialer/web/routes/imports.py); dry-runs are in
dialer/web/routes/dry_runs.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from campaigns.db import Database
from campaigns.lifecycle import (
    CampaignError,
    change_status,
    create_draft,
    list_campaigns,
    progress,
    schedule_options,
    update_campaign,
)
from campaigns.report import campaign_report, report_for
from campaigns.settings import CampaignSettings
from dialer.web import i18n
from dialer.web.auth import allow
from dialer.web.campaign_forms import (
    campaign_or_404,
    check_script_fields,
    script_dirs,
    voice_choices,
)
from dialer.web.deps import Db, Settings, User
from dialer.web.errors import Rejected
from dialer.web.roles import CAMPAIGN_ROLES, MARKETING, READERS

router = APIRouter()


class StatusIn(BaseModel):
    action: str


class CampaignIn(BaseModel):
    """A campaign as the API takes it (POST creates a draft; PATCH sends only changes)."""

    name: str | None = None
    script: str | None = None  # a script directory (see GET /api/scripts)
    region: str | None = None
    caller_id: str | None = None
    voice: str | None = None
    trunk: str | None = None
    window: str | None = None  # HH:MM-HH:MM in the callee's time zone
    first_day: str | None = None
    last_day: str | None = None
    max_concurrent: int | None = None
    max_cps: float | None = None
    max_attempts: int | None = None
    retry_delay_s: int | None = None
    retry_delays: dict[str, int] | None = None
    ring_timeout_s: int | None = None
    # Refused when true: a dry-run is made by POST .../dry-runs (a rehearsal copy on a
    # private worker), never by marking a real campaign.
    dry_run: bool | None = None


def api_options(body: CampaignIn, settings: CampaignSettings) -> dict[str, Any]:
    """The fields sent, checked, as create_draft and update_campaign take them."""
    given = body.model_dump(exclude_unset=True)
    out: dict[str, Any] = {k: given[k] for k in (
        "name", "region", "caller_id", "voice", "trunk", "max_concurrent",
        "max_attempts", "retry_delay_s", "ring_timeout_s") if k in given}
    if given.get("dry_run"):
        raise CampaignError("a campaign cannot be made a dry-run: rehearse it with POST "
                            "/api/campaigns/{id}/dry-runs (simulated customers on a "
                            "private worker)")
    if "script" in given:
        chosen = next((d for d in script_dirs(settings)
                       if given["script"] in (str(d), d.name)), None)
        if chosen is None:
            raise CampaignError("no script {script!r}; see GET /api/scripts",
                                script=given["script"])
        out["script_dir"] = chosen
    if out.get("voice") and out["voice"] not in {v for v, _ in voice_choices()}:
        raise CampaignError("voice {voice!r} is not installed; see GET /api/voices",
                            voice=out["voice"])
    schedule = {"window", "first_day", "last_day", "max_cps", "retry_delays"} & set(given)
    if schedule:
        opts = schedule_options(
            given.get("window") or "09:00-20:00", given.get("first_day"),
            given.get("last_day"), float(given.get("max_cps") or 1),
            [f"{k}={v}" for k, v in (given.get("retry_delays") or {}).items()],
            False)
        out.update({k: opts[k] for k in opts if k != "dry_run" and (
            k in given or (k in ("window_start", "window_end") and "window" in given))})
    return out


def campaign_json(db: Database, campaign_id: int) -> dict[str, Any]:
    c = campaign_or_404(db, campaign_id)
    return {**c, "progress": progress(db, campaign_id),
            "first_day": str(c["first_day"] or ""), "last_day": str(c["last_day"] or "")}


@router.get("/api/campaigns", dependencies=[allow(*CAMPAIGN_ROLES)])
def api_campaigns(db: Db) -> list[dict[str, Any]]:
    """Every campaign with its status and settings."""
    return list_campaigns(db)


@router.get("/api/campaigns/{campaign_id}/report", dependencies=[allow(*CAMPAIGN_ROLES)])
def api_report(db: Db, user: User, campaign_id: int) -> dict[str, Any]:
    """What happened to every contact and call; numbers masked for analysts."""
    try:
        report = campaign_report(db, campaign_id)
    except CampaignError as exc:
        raise HTTPException(404, str(exc)) from None
    # Phones masked, and no number left in any free text (reasons, errors, what
    # was said) for the roles that may not see one.
    return report_for(user.role, report)


@router.get("/api/campaigns/{campaign_id}", dependencies=[allow(*READERS)])
def api_campaign(db: Db, campaign_id: int) -> dict[str, Any]:
    """One campaign: its settings, status and progress (404: no such campaign)."""
    return campaign_json(db, campaign_id)


@router.get("/api/campaigns/{campaign_id}/nlu-advice", dependencies=[allow(*READERS)])
def api_campaign_nlu_advice(request: Request, db: Db, user: User,
                            campaign_id: int) -> dict[str, Any]:
    """Advice on the script's NLU examples (dialer/web/nlu_advice.py): intents with too
    few examples, examples of two intents that mean the same, and the examples a model
    trained without them misreads (cross-validation). Takes a few seconds the first time
    for a version of the script. `said`: the error and the data warnings in the user's
    language, for the campaign page."""
    from dialer.web.nlu_advice import nlu_advice

    found = nlu_advice(campaign_or_404(db, campaign_id)["script_dir"])
    lang = i18n.choose(user.language, request.headers.get("accept-language"))
    return {**found, "said": {
        "error": i18n.said_any(lang, found["error"]) if found.get("error") else None,
        "data_warnings": [i18n.said_any(lang, w) for w in found.get("data_warnings", [])]}}


@router.get("/api/scripts", dependencies=[allow(*READERS)])
def api_scripts(settings: Settings) -> list[dict[str, str]]:
    """Scripts a campaign can use (name and directory)."""
    return [{"name": d.name, "script": str(d)} for d in script_dirs(settings)]


@router.get("/api/voices", dependencies=[allow(*READERS)])
def api_voices() -> list[dict[str, str]]:
    """TTS voices a campaign can use (empty: only the workers' default)."""
    return [{"id": v, "name": n} for v, n in voice_choices()]


@router.post("/api/campaigns", status_code=201, dependencies=[allow(*MARKETING)])
def api_create_campaign(db: Db, settings: Settings, body: CampaignIn) -> dict[str, Any]:
    """Create a draft campaign; then upload its list to .../imports."""
    if not body.name or not body.script:
        raise Rejected(422, "a campaign needs a name and a script (GET /api/scripts)")
    try:
        options = api_options(body, settings)
        cid = create_draft(db, name=options.pop("name"),
                           script_dir=options.pop("script_dir"),
                           region=options.pop("region", settings.default_region), **options)
    except CampaignError as exc:
        raise HTTPException(409 if "already exists" in str(exc) else 422,
                            str(exc)) from None
    return campaign_json(db, cid)


@router.patch("/api/campaigns/{campaign_id}", dependencies=[allow(*MARKETING)])
def api_edit_campaign(db: Db, settings: Settings, campaign_id: int,
                      body: CampaignIn) -> dict[str, Any]:
    """Change a draft or paused campaign; only the fields sent change."""
    campaign_or_404(db, campaign_id)
    try:
        changes = api_options(body, settings)
        if "script_dir" in changes:
            check_script_fields(db, changes["script_dir"], campaign_id)
        update_campaign(db, campaign_id, changes)
    except CampaignError as exc:
        raise HTTPException(409 if "cannot be edited" in str(exc) else 422,
                            str(exc)) from None
    return campaign_json(db, campaign_id)


@router.post("/api/campaigns/{campaign_id}/status", dependencies=[allow(*MARKETING)])
def api_campaign_status(db: Db, campaign_id: int, body: StatusIn) -> dict[str, Any]:
    """Apply `action` start, pause, resume or stop (409: not from the current status)."""
    campaign_or_404(db, campaign_id)
    try:
        return {"id": campaign_id, "status": change_status(db, campaign_id, body.action)}
    except CampaignError as exc:
        raise HTTPException(409, str(exc)) from None
