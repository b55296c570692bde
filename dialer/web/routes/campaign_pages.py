"""Marketing's campaign pages: the list, a new campaign with its call list (imported in
the background: dialer/web/routes/imports.py), a campaign's page with its progress,
start/pause/resume/stop, and the edit form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from campaigns.lifecycle import (
    CampaignError,
    change_status,
    create_draft,
    list_campaigns,
    progress,
    update_campaign,
)
from campaigns.list_imports import queue_import
from dialer.web.auth import allow
from dialer.web.campaign_forms import (
    actions,
    campaign_form,
    campaign_or_404,
    check_script_fields,
    choices,
    form_options,
    script_dirs,
)
from dialer.web.deps import Db, Imports, Render, Settings
from dialer.web.roles import CAMPAIGN_ROLES, MARKETING, READERS
from dialer.web.uploads import save_upload, upload_tmp_dir

router = APIRouter()


async def form_of(request: Request) -> dict[str, str]:
    """The form's text fields (a file field is not one)."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


@router.get("/campaigns", response_class=HTMLResponse, dependencies=[allow(*CAMPAIGN_ROLES)])
def campaigns_page(db: Db, page: Render) -> HTMLResponse:
    return page("campaigns.html", campaigns=list_campaigns(db, rehearsals=False))


@router.get("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
def new_campaign_page(db: Db, settings: Settings, page: Render) -> HTMLResponse:
    return page("campaign_new.html", form={}, **choices(db, settings))


@router.post("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
async def new_campaign_submit(request: Request, db: Db, settings: Settings, page: Render,
                              jobs: Imports, csv_file: Annotated[UploadFile, File()],
                              name: Annotated[str, Form()],
                              script: Annotated[str, Form()]) -> Response:
    form = await form_of(request)
    scripts = script_dirs(settings)

    def again(message: str) -> HTMLResponse:
        return page("campaign_new.html", status=400, form=form, error=message,
                    **choices(db, settings, scripts))

    try:
        options = form_options({**form, "script": script}, scripts)
    except (CampaignError, ValueError) as exc:
        return again(str(exc))
    with upload_tmp_dir(settings) as tmp:
        upload = Path(tmp) / "upload.csv"
        try:
            await save_upload(csv_file, upload, settings.max_upload_mb)
            cid = create_draft(db, name=name, **options)
        except CampaignError as exc:
            return again(str(exc))
        bid = queue_import(db, cid, upload, csv_file.filename or "upload.csv",
                           settings.uploads_dir, move=True)
    jobs.start(bid, cid)
    return RedirectResponse(f"/campaigns/{cid}/imports/{bid}", status_code=303)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse,
            dependencies=[allow(*READERS)])
def campaign_page(db: Db, page: Render, campaign_id: int) -> HTMLResponse:
    c = campaign_or_404(db, campaign_id)
    return page("campaign.html", c=c, progress=progress(db, campaign_id),
                actions=actions(c["status"]))


@router.post("/campaigns/{campaign_id}/status", dependencies=[allow(*MARKETING)])
def campaign_status_submit(db: Db, campaign_id: int,
                           action: Annotated[str, Form()]) -> Response:
    campaign_or_404(db, campaign_id)
    try:
        change_status(db, campaign_id, action)
    except CampaignError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.get("/campaigns/{campaign_id}/edit", response_class=HTMLResponse,
            dependencies=[allow(*MARKETING)])
def edit_campaign_page(db: Db, settings: Settings, page: Render,
                       campaign_id: int) -> HTMLResponse:
    c = campaign_or_404(db, campaign_id)
    return page("campaign_edit.html", c=c, form=campaign_form(c), **choices(db, settings))


@router.post("/campaigns/{campaign_id}/edit", response_class=HTMLResponse,
             dependencies=[allow(*MARKETING)])
async def edit_campaign_submit(request: Request, db: Db, settings: Settings, page: Render,
                               campaign_id: int) -> Response:
    c = campaign_or_404(db, campaign_id)
    form = await form_of(request)
    try:
        changes = form_options(form, script_dirs(settings))
        changes["name"] = form.get("name", "")
        if str(changes["script_dir"]) != c["script_dir"]:
            check_script_fields(db, changes["script_dir"], campaign_id)
        update_campaign(db, campaign_id, changes)
    except (CampaignError, ValueError) as exc:
        return page("campaign_edit.html", status=400, c=c, form=form, error=str(exc),
                    **choices(db, settings))
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
