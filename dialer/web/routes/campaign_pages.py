"""Marketing's campaign pages: the list, a new campaign with its call list (checked
first, then imported in the background: dialer/web/routes/imports.py; the list is kept
across form errors, dialer/web/kept_uploads.py), a campaign's page with its progress,
start/pause/resume/stop, and the edit form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from campaigns.lifecycle import (
    CampaignError,
    change_status,
    create_draft,
    list_campaigns,
    update_campaign,
)
from campaigns.list_imports import queue_import
from campaigns.settings import CampaignSettings
from dialer.web import kept_uploads
from dialer.web.auth import allow
from dialer.web.campaign_forms import (
    actions,
    campaign_form,
    campaign_or_404,
    check_new_list,
    check_script_fields,
    choices,
    form_options,
    script_dirs,
)
from dialer.web.deps import Db, Imports, Render, Settings, User
from dialer.web.roles import CAMPAIGN_ROLES, MARKETING, READERS
from dialer.web.routes.cockpit import campaign_cockpit_page, needs_confirmation
from dialer.web.uploads import save_upload, upload_tmp_dir

router = APIRouter()


async def form_of(request: Request) -> dict[str, str]:
    """The form's text fields (a file field is not one)."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


@router.get("/campaigns", response_class=HTMLResponse, dependencies=[allow(*CAMPAIGN_ROLES)])
def campaigns_page(db: Db, page: Render) -> HTMLResponse:
    """Every campaign with its status and progress."""
    return page("campaigns.html", campaigns=list_campaigns(db, rehearsals=False))


@router.get("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
def new_campaign_page(db: Db, settings: Settings, page: Render) -> HTMLResponse:
    """The form for a new campaign and its call list."""
    return page("campaign_new.html", form={}, **choices(db, settings))


@router.post("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
async def new_campaign_submit(request: Request, db: Db, settings: Settings, page: Render,
                              jobs: Imports, user: User) -> Response:
    """Create a campaign and queue its list's import; on any problem the form comes back
    with what was typed and the list kept (dialer/web/kept_uploads.py), and no campaign
    is created. A list that waits for its column mapping is not a problem."""
    sent = await request.form()
    form = {k: v for k, v in sent.items() if isinstance(v, str)}
    scripts = script_dirs(settings)
    kept = kept_uploads.find(settings.uploads_dir, form.get("kept_list", ""), user.username)

    def again(message: object) -> HTMLResponse:
        return page("campaign_new.html", status=400, form=form, error=message, kept=kept,
                    **choices(db, settings, scripts))

    chosen = sent.get("csv_file")
    if isinstance(chosen, StarletteUpload) and chosen.filename:
        try:
            fresh = await receive(settings, chosen, user.username)
        except CampaignError as exc:
            return again(exc)
        if kept is not None:
            kept_uploads.drop(settings.uploads_dir, kept.token)
        kept = fresh
    if kept is None:
        return again(CampaignError("Choose the call list (a CSV file) to import."))
    try:
        if not form.get("name", "").strip():
            raise CampaignError("Give the campaign a name.")
        options = form_options(form, scripts)
        await run_in_threadpool(check_new_list, options["script_dir"], kept.path,
                                kept.filename, options["region"], settings.max_list_rows)
        cid = create_draft(db, name=form["name"], **options)
    except (CampaignError, ValueError) as exc:
        return again(exc)
    bid = queue_import(db, cid, kept.path, kept.filename, settings.uploads_dir, move=True)
    kept_uploads.drop(settings.uploads_dir, kept.token)
    jobs.start(bid, cid)
    return RedirectResponse(f"/campaigns/{cid}/imports/{bid}", status_code=303)


async def receive(settings: CampaignSettings, upload: StarletteUpload,
                  username: str) -> kept_uploads.KeptList:
    """Stream a chosen list to disk under its cap and keep it aside until the form
    succeeds (413 above the cap; CampaignError when it is empty or badly named)."""
    with upload_tmp_dir(settings) as tmp:
        path = Path(tmp) / "upload.csv"
        await save_upload(upload, path, settings.max_upload_mb)
        return kept_uploads.keep(settings.uploads_dir, path, upload.filename or "upload.csv",
                                 username)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse,
            dependencies=[allow(*READERS)])
def campaign_page(db: Db, page: Render, user: User, campaign_id: int) -> HTMLResponse:
    """The campaign's cockpit: progress, outcomes, prompts, checklist, controls."""
    return campaign_cockpit_page(page, db, campaign_or_404(db, campaign_id), user.role)


@router.post("/campaigns/{campaign_id}/status", dependencies=[allow(*MARKETING)])
def campaign_status_submit(db: Db, page: Render, user: User, campaign_id: int,
                           action: Annotated[str, Form()],
                           confirmed: Annotated[str, Form()] = "") -> Response:
    """Change the campaign's status; Start, Resume and Stop first show what they will
    do and are asked again (dialer/web/routes/cockpit.py)."""
    c = campaign_or_404(db, campaign_id)
    if needs_confirmation(action, confirmed) and action in actions(c["status"]):
        return campaign_cockpit_page(page, db, c, user.role, confirming=action)
    try:
        change_status(db, campaign_id, action)
    except CampaignError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.get("/campaigns/{campaign_id}/edit", response_class=HTMLResponse,
            dependencies=[allow(*MARKETING)])
def edit_campaign_page(db: Db, settings: Settings, page: Render,
                       campaign_id: int) -> HTMLResponse:
    """The form to change a draft or paused campaign's settings."""
    c = campaign_or_404(db, campaign_id)
    return page("campaign_edit.html", c=c, form=campaign_form(c), **choices(db, settings))


@router.post("/campaigns/{campaign_id}/edit", response_class=HTMLResponse,
             dependencies=[allow(*MARKETING)])
async def edit_campaign_submit(request: Request, db: Db, settings: Settings, page: Render,
                               campaign_id: int) -> Response:
    """Save a campaign's changed settings (the form again, with a sentence, on an error)."""
    c = campaign_or_404(db, campaign_id)
    form = await form_of(request)
    try:
        changes = form_options(form, script_dirs(settings))
        changes["name"] = form.get("name", "")
        if str(changes["script_dir"]) != c["script_dir"]:
            check_script_fields(db, changes["script_dir"], campaign_id)
        update_campaign(db, campaign_id, changes)
    except (CampaignError, ValueError) as exc:
        return page("campaign_edit.html", status=400, c=c, form=form, error=exc,
                    **choices(db, settings))
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
