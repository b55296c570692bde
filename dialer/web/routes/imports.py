"""A campaign's call lists: upload one (imported in the background, dialer/web/
import_jobs.py), follow its progress, choose the phone column when it cannot be told,
and download every rejected row (marketing only: whole numbers and every cell)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from campaigns.db import Database
from campaigns.importer import CsvImportError, preview
from campaigns.lifecycle import CampaignError, progress
from campaigns.list_imports import claim_mapping, import_status, queue_import, rejections_csv
from campaigns.queries.imports import stored_path
from campaigns.settings import CampaignSettings
from dialer.web.auth import allow
from dialer.web.campaign_forms import actions, campaign_or_404
from dialer.web.deps import Db, Imports, Render, Settings, User
from dialer.web.import_jobs import ImportJobs
from dialer.web.roles import MARKETING, READERS
from dialer.web.uploads import audited_download, import_for, save_upload, upload_tmp_dir

router = APIRouter()


def status_or_404(db: Database, campaign_id: int, batch_id: int) -> dict[str, Any]:
    try:
        status = import_status(db, batch_id)
    except CampaignError as exc:
        raise HTTPException(404, str(exc)) from None
    if status["campaign_id"] != campaign_id:
        raise HTTPException(404, f"import {batch_id} is not one of campaign {campaign_id}'s")
    return status


async def upload_list(db: Database, settings: CampaignSettings, jobs: ImportJobs,
                      campaign_id: int, csv_file: UploadFile) -> int:
    """Keep the upload and queue its import; the import's id. CampaignError: the
    campaign takes no list, or the file is empty or its name cannot be kept."""
    c = campaign_or_404(db, campaign_id)
    if c["status"] in ("stopped", "finished") or c["rehearsal_of"] is not None:
        raise CampaignError(f"a {c['status']} campaign takes no more contacts; create a "
                            "new campaign" if c["rehearsal_of"] is None
                            else "a dry-run takes no list")
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
                          campaign_id: int,
                          csv_file: Annotated[UploadFile, File()]) -> Response:
    c = campaign_or_404(db, campaign_id)
    try:
        bid = await upload_list(db, settings, jobs, campaign_id, csv_file)
    except CampaignError as exc:
        return page("campaign.html", status=400, c=c, progress=progress(db, campaign_id),
                    actions=actions(c["status"]), error=str(exc))
    return RedirectResponse(f"/campaigns/{campaign_id}/imports/{bid}", status_code=303)


@router.get("/campaigns/{campaign_id}/imports/{batch_id}", response_class=HTMLResponse,
            dependencies=[allow(*READERS)])
def import_page(db: Db, settings: Settings, user: User, page: Render, campaign_id: int,
                batch_id: int) -> HTMLResponse:
    status = status_or_404(db, campaign_id, batch_id)
    columns: list[str] = []
    rows: list[list[str]] = []
    # The preview is the file's own cells: only for those who choose the column.
    if status["status"] == "needs_mapping" and user.role in MARKETING:
        try:
            columns, rows = preview(stored_path(db, batch_id))
        except CsvImportError:
            pass
    return page("import.html", b=import_for(user.role, status), campaign_id=campaign_id,
                columns=columns, preview=rows, retention_days=settings.upload_retention_days)


@router.post("/campaigns/{campaign_id}/imports/{batch_id}/mapping",
             dependencies=[allow(*MARKETING)])
def import_mapping_submit(db: Db, jobs: Imports, campaign_id: int, batch_id: int,
                          phone_column: Annotated[str, Form()]) -> Response:
    status_or_404(db, campaign_id, batch_id)
    try:
        claimed = claim_mapping(db, batch_id, phone_column)
    except CampaignError as exc:
        raise HTTPException(400, str(exc)) from None
    if not claimed:  # another request chose first, or it was never waiting
        now = import_status(db, batch_id, limit=0)["status"]
        raise HTTPException(409, f"this import is {now}, not waiting for a column mapping")
    jobs.start(batch_id, campaign_id)
    return RedirectResponse(f"/campaigns/{campaign_id}/imports/{batch_id}", status_code=303)


# Whole numbers and every cell of each row: closed to roles that see masked numbers.
@router.get("/campaigns/{campaign_id}/imports/{batch_id}/rejections.csv",
            dependencies=[allow(*MARKETING)])
def rejections_download(db: Db, user: User, campaign_id: int,
                        batch_id: int) -> StreamingResponse:
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
