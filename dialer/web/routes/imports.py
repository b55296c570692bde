"""A campaign's call lists: upload one (imported in the background, dialer/web/
import_jobs.py), follow its progress, map its columns when the phone column cannot be
told or a field the script uses has no column (dialer/web/import_mapping.py, with a
preview of the first prompt), and download every rejected row (marketing only: whole
numbers and every cell)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from campaigns.db import Database
from campaigns.import_fields import claim_mapping
from campaigns.lifecycle import CampaignError
from campaigns.list_imports import import_status, queue_import, rejections_csv
from campaigns.refusals import Code
from campaigns.settings import CampaignSettings
from dialer.web import i18n
from dialer.web.auth import allow
from dialer.web.campaign_forms import campaign_or_404, language_of
from dialer.web.deps import Db, Imports, Render, Settings, User
from dialer.web.errors import Rejected
from dialer.web.i18n import translate as _t
from dialer.web.import_jobs import ImportJobs
from dialer.web.import_mapping import MappingStep, choices_of, mapping_for
from dialer.web.roles import MARKETING, READERS
from dialer.web.routes.cockpit import campaign_cockpit_page
from dialer.web.uploads import audited_download, import_for, save_upload, upload_tmp_dir

router = APIRouter()


def status_or_404(db: Database, campaign_id: int, batch_id: int) -> dict[str, Any]:
    try:
        status = import_status(db, batch_id)
    except CampaignError as exc:
        raise HTTPException(404, str(exc)) from None
    if status["campaign_id"] != campaign_id:
        raise Rejected(404, "import {batch} is not one of campaign {campaign}'s",
                       batch=batch_id, campaign=campaign_id)
    return status


async def upload_list(db: Database, settings: CampaignSettings, jobs: ImportJobs,
                      campaign_id: int, csv_file: UploadFile) -> int:
    """Keep the upload and queue its import; the import's id. CampaignError: the
    campaign takes no list, or the file is empty or its name cannot be kept."""
    c = campaign_or_404(db, campaign_id)
    if c["status"] in ("stopped", "finished") or c["rehearsal_of"] is not None:
        raise (CampaignError("a {status} campaign takes no more contacts; create a new "
                             "campaign", status=Code(c["status"], "status"))
               if c["rehearsal_of"] is None else CampaignError("a dry-run takes no list"))
    with upload_tmp_dir(settings) as tmp:
        upload = Path(tmp) / "upload.csv"
        await save_upload(csv_file, upload, settings.max_upload_mb)
        bid = queue_import(db, campaign_id, upload, csv_file.filename or "upload.csv",
                           settings.uploads_dir, move=True)
    jobs.start(bid, campaign_id)
    return bid


@router.post("/campaigns/{campaign_id}/imports", response_class=HTMLResponse,
             dependencies=[allow(*MARKETING)])
async def add_list_submit(db: Db, settings: Settings, jobs: Imports, page: Render,
                          user: User, campaign_id: int,
                          csv_file: Annotated[UploadFile, File()]) -> Response:
    """Add a call list to a campaign: imported in the background."""
    c = campaign_or_404(db, campaign_id)
    try:
        bid = await upload_list(db, settings, jobs, campaign_id, csv_file)
    except CampaignError as exc:
        return campaign_cockpit_page(page, db, c, user.role, status=400, error=exc)
    return RedirectResponse(f"/campaigns/{campaign_id}/imports/{bid}", status_code=303)


@router.get("/campaigns/{campaign_id}/imports/{batch_id}", response_class=HTMLResponse,
            dependencies=[allow(*READERS)])
def import_page(db: Db, settings: Settings, user: User, page: Render, campaign_id: int,
                batch_id: int) -> HTMLResponse:
    """A call list's import: progress, counts, rejected rows, or its mapping step."""
    status = status_or_404(db, campaign_id, batch_id)
    lang = language_of(page.request)
    step = MappingStep()
    # The mapping step shows the file's own cells: only to those who choose the columns.
    if status["status"] == "needs_mapping" and user.role in MARKETING:
        step = mapping_for(db, campaign_id, batch_id, status["phone_column"], None, lang)
    b = import_for(user.role, status)  # masked for those who see masked numbers
    return page("import.html", b=b, campaign_id=campaign_id, step=step,
                retention_days=settings.upload_retention_days,
                message=import_message(b, step, lang))


# The importer's own sentence for a field of the script with no column
# (campaigns/import_fields.py), said again in the page's language.
_UNMAPPED = re.compile(r"(The script's first prompt|A prompt of the script) uses the contact's "
                       r"(.{1,200}), but no column of the list is mapped to it; choose the "
                       r"column that holds it")


def import_message(b: dict[str, Any], step: MappingStep, lang: str) -> str:
    """What the import page says about the import's stored message, in `lang` where it
    is one of ours (the importer's own sentences about a file stay as it said them)."""
    message = str(b.get("message") or "")
    if not message:
        return ""
    if b["status"] == "needs_mapping" and step.missing:
        return step.missing[0]
    if b["status"] == "needs_mapping" and step.columns and not b.get("phone_column"):
        return _t(lang, "Which column holds the phone numbers could not be told: choose it "
                        "below.")
    unmapped = _UNMAPPED.fullmatch(message)
    if unmapped:
        return _t(lang, unmapped.group(1) + " uses the contact's {field}, but no column of "
                  "the list is mapped to it; choose the column that holds it",
                  field=unmapped.group(2))
    return i18n.said_any(lang, message)


@router.post("/campaigns/{campaign_id}/imports/{batch_id}/mapping",
             dependencies=[allow(*MARKETING)])
async def import_mapping_submit(request: Request, db: Db, settings: Settings, user: User,
                                page: Render, jobs: Imports, campaign_id: int,
                                batch_id: int) -> Response:
    """Import with the phone column and the field mapping chosen; a field of the script
    left without a column brings the step back saying which."""
    status = status_or_404(db, campaign_id, batch_id)
    lang = language_of(request)
    try:
        phone_column, fields = choices_of(await request.form())
        if not (phone_column or "").strip():
            raise CampaignError("Choose the column that holds the phone numbers.")
        step = mapping_for(db, campaign_id, batch_id, None, fields, lang)
        if status["status"] == "needs_mapping" and step.missing:
            step.phone_column = phone_column or ""
            b = import_for(user.role, status)
            return page("import.html", status=400, b=b, campaign_id=campaign_id, step=step,
                        error=step.missing[0], retention_days=settings.upload_retention_days,
                        message=import_message(b, step, lang))
        claimed = claim_mapping(db, batch_id, phone_column or "", fields)
    except CampaignError as exc:
        raise HTTPException(400, str(exc)) from None
    if not claimed:  # another request chose first, or it was never waiting
        now = import_status(db, batch_id, limit=0)["status"]
        raise Rejected(409, "this import is {status}, not waiting for a column mapping",
                       status=Code(now, "status"))
    jobs.start(batch_id, campaign_id)
    return RedirectResponse(f"/campaigns/{campaign_id}/imports/{batch_id}", status_code=303)


@router.get("/campaigns/{campaign_id}/imports/{batch_id}/preview",
            dependencies=[allow(*MARKETING)])
def import_preview(request: Request, db: Db, campaign_id: int,
                   batch_id: int) -> dict[str, Any]:
    """The script's first prompt for the list's first contact with the mapping in the
    query (phone_column, field.<name>), and what it leaves unmapped."""
    status = status_or_404(db, campaign_id, batch_id)
    if status["status"] != "needs_mapping":
        raise Rejected(409, "this import is {status}, not waiting for a column mapping",
                       status=Code(status["status"], "status"))
    try:
        _, fields = choices_of(request.query_params)
        return mapping_for(db, campaign_id, batch_id, None, fields,
                           language_of(request)).as_json()
    except CampaignError as exc:
        raise HTTPException(400, str(exc)) from None


# Whole numbers and every cell of each row: closed to roles that see masked numbers.
@router.get("/campaigns/{campaign_id}/imports/{batch_id}/rejections.csv",
            dependencies=[allow(*MARKETING)])
def rejections_download(db: Db, user: User, campaign_id: int,
                        batch_id: int) -> StreamingResponse:
    """Every rejected row of an import as CSV (marketing; in the audit log)."""
    status = status_or_404(db, campaign_id, batch_id)
    body = audited_download(db, user, rejections_csv(db, batch_id), {
        "campaign_id": campaign_id, "import_id": batch_id, "rows": status["rejected"]})
    return StreamingResponse(
        body, media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="import-{batch_id}-rejected-rows.csv"'})


@router.get("/api/imports/{batch_id}", dependencies=[allow(*READERS)])
def api_import(db: Db, user: User, batch_id: int) -> dict[str, Any]:
    """An import's progress and its first 50 rejected rows (numbers masked for
    analysts)."""
    try:
        return import_for(user.role, import_status(db, batch_id, limit=50))
    except CampaignError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/api/campaigns/{campaign_id}/imports", status_code=202,
             dependencies=[allow(*MARKETING)])
async def api_upload_list(db: Db, settings: Settings, jobs: Imports, campaign_id: int,
                          csv_file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """Upload a call list (multipart field csv_file); it imports in the background:
    poll GET /api/imports/{id}."""
    try:
        bid = await upload_list(db, settings, jobs, campaign_id, csv_file)
    except CampaignError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"import_id": bid, "status_url": f"/api/imports/{bid}"}
