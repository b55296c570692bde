"""Marketing's pages and API: create a campaign with its call list (imported in the
background, with progress, a column-mapping step when the phone column cannot be told,
and every rejected row downloadable), start/pause/resume/stop, and the do-not-call
lists."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select

from campaigns import dnc
from campaigns.db import Database
from campaigns.importer import CsvImportError, preview
from campaigns.models import Campaign, ImportBatch, Role
from campaigns.service import (
    CampaignError,
    change_status,
    create_draft,
    import_status,
    progress,
    queue_import,
    rejections_csv,
    run_import,
    schedule_options,
)
from campaigns.settings import CampaignSettings

MARKETING = (Role.ADMIN, Role.MARKETING)
READERS = (Role.ADMIN, Role.MARKETING, Role.ANALYST)
RETRY_FIELDS = ("busy", "no_answer", "failed", "machine", "dead_air")
MAX_UPLOAD = 512 * 1024 * 1024


class StatusIn(BaseModel):
    action: str


class DncIn(BaseModel):
    phone: str
    campaign_id: int | None = None
    reason: str | None = None


def script_dirs(settings: CampaignSettings) -> list[Path]:
    """Scripts a campaign can use: the examples shipped with the product and any
    directory with script.yml + nlu.yml under DIALER_DATA_DIR/scripts."""
    roots = [Path(__file__).resolve().parents[1] / "campaigns" / "examples",
             settings.data_dir / "scripts"]
    return sorted(d for root in roots if root.is_dir() for d in root.iterdir()
                  if (d / "script.yml").is_file() and (d / "nlu.yml").is_file())


def add_routes(app: FastAPI, db: Database, settings: CampaignSettings, allow: Any,
               page: Callable[..., HTMLResponse]) -> None:
    jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import")
    app.state.import_jobs = jobs

    def field_check(campaign_id: int) -> Callable[[list[str]], None]:
        from dialer.runtime import load_kit

        with db.session() as s:
            c = s.get(Campaign, campaign_id)
            script_dir = c.script_dir if c else ""
        kit = load_kit(script_dir)
        return lambda cols: kit.script.check_fields(cols, "the uploaded list")

    def start_import(batch_id: int, campaign_id: int, phone_column: str | None = None) -> None:
        from sqlalchemy import update

        with db.session() as s:  # queued at once: the page shows it before the job starts
            s.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(
                status="queued", progress=0.0, message=None))

        def work() -> None:
            try:
                run_import(db, batch_id, phone_column, field_check(campaign_id))
            except Exception as exc:  # noqa: BLE001 - the page shows it; the file is kept
                with db.session() as s:
                    s.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(
                        status="failed", message=f"{type(exc).__name__}: {exc}"))
        jobs.submit(work)

    def campaign_or_404(campaign_id: int) -> dict[str, Any]:
        with db.session() as s:
            c = s.get(Campaign, campaign_id)
            if c is None:
                raise HTTPException(404, f"no campaign {campaign_id}")
            batches = s.scalars(select(ImportBatch).where(ImportBatch.campaign_id == c.id)
                                .order_by(ImportBatch.id.desc())).all()
            return {"id": c.id, "name": c.name, "status": c.status, "script_dir": c.script_dir,
                    "region": c.region, "window": f"{c.window_start}-{c.window_end}",
                    "first_day": c.first_day, "last_day": c.last_day, "max_cps": c.max_cps,
                    "max_concurrent": c.max_concurrent, "max_attempts": c.max_attempts,
                    "retry_delays": c.retry_delays or {}, "retry_delay_s": c.retry_delay_s,
                    "dry_run": c.dry_run, "caller_id": c.caller_id,
                    "imports": [{"id": b.id, "filename": b.filename, "status": b.status,
                                 "accepted": b.accepted, "rejected": b.rejected}
                                for b in batches]}

    # -- pages ------------------------------------------------------------------------
    @app.get("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
    def new_campaign_page(request: Request) -> HTMLResponse:
        return page(request, "campaign_new.html", scripts=script_dirs(settings), form={},
                    retry_fields=RETRY_FIELDS)

    @app.post("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
    async def new_campaign_submit(request: Request, csv_file: Annotated[UploadFile, File()],
                                  name: Annotated[str, Form()],
                                  script: Annotated[str, Form()]) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        scripts = script_dirs(settings)

        def again(message: str) -> HTMLResponse:
            return page(request, "campaign_new.html", status=400, scripts=scripts,
                        form=form, error=message, retry_fields=RETRY_FIELDS)

        chosen = next((d for d in scripts if str(d) == script), None)
        if chosen is None:
            return again("choose one of the listed scripts")
        try:
            options = schedule_options(
                f"{form.get('window_start', '09:00')}-{form.get('window_end', '20:00')}",
                form.get("first_day") or None, form.get("last_day") or None,
                float(form.get("max_cps") or 1), [f"{k}={form[f'retry_{k}']}"
                                                  for k in RETRY_FIELDS
                                                  if form.get(f"retry_{k}", "").strip()],
                form.get("dry_run") == "1")
            numbers = {k: int(form.get(k) or default) for k, default in (
                ("max_concurrent", 2), ("max_attempts", 1), ("retry_delay_s", 600))}
        except (CampaignError, ValueError) as exc:
            return again(str(exc))
        with tempfile.TemporaryDirectory() as tmp:
            upload = Path(tmp) / "upload.csv"
            size = 0
            with upload.open("wb") as out:
                while chunk := await csv_file.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_UPLOAD:
                        return again(f"the file is larger than {MAX_UPLOAD >> 20} MB; "
                                     "split it and upload the parts to the same campaign")
                    out.write(chunk)
            if size == 0:
                return again(f"{csv_file.filename or 'the file'} is empty")
            try:
                cid = create_draft(db, name=name, script_dir=chosen,
                                   region=form.get("region") or settings.default_region,
                                   caller_id=form.get("caller_id") or None, **numbers,
                                   **options)
            except CampaignError as exc:
                return again(str(exc))
            bid = queue_import(db, cid, upload, csv_file.filename or "upload.csv",
                               settings.uploads_dir)
        start_import(bid, cid)
        return RedirectResponse(f"/campaigns/{cid}/imports/{bid}", status_code=303)

    @app.get("/campaigns/{campaign_id}", response_class=HTMLResponse,
             dependencies=[allow(*READERS)])
    def campaign_page(request: Request, campaign_id: int) -> HTMLResponse:
        c = campaign_or_404(campaign_id)
        return page(request, "campaign.html", c=c, progress=progress(db, campaign_id),
                    actions=_actions(c["status"]))

    @app.post("/campaigns/{campaign_id}/status", dependencies=[allow(*MARKETING)])
    def campaign_status_submit(request: Request, campaign_id: int,
                               action: Annotated[str, Form()]) -> Response:
        campaign_or_404(campaign_id)
        try:
            change_status(db, campaign_id, action)
        except CampaignError as exc:
            raise HTTPException(409, str(exc)) from None
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)

    @app.get("/campaigns/{campaign_id}/imports/{batch_id}", response_class=HTMLResponse,
             dependencies=[allow(*READERS)])
    def import_page(request: Request, campaign_id: int, batch_id: int) -> HTMLResponse:
        status = _status_or_404(db, campaign_id, batch_id)
        columns: list[str] = []
        rows: list[list[str]] = []
        if status["status"] == "needs_mapping":
            with db.session() as s:
                b = s.get(ImportBatch, batch_id)
                stored = b.stored_path if b else ""
            try:
                columns, rows = preview(stored)
            except CsvImportError:
                pass
        return page(request, "import.html", b=status, campaign_id=campaign_id,
                    columns=columns, preview=rows)

    @app.post("/campaigns/{campaign_id}/imports/{batch_id}/mapping",
              dependencies=[allow(*MARKETING)])
    def import_mapping_submit(campaign_id: int, batch_id: int,
                              phone_column: Annotated[str, Form()]) -> Response:
        status = _status_or_404(db, campaign_id, batch_id)
        if status["status"] != "needs_mapping":
            raise HTTPException(409, f"this import is {status['status']}, not waiting for a "
                                     "column mapping")
        start_import(batch_id, campaign_id, phone_column)
        return RedirectResponse(f"/campaigns/{campaign_id}/imports/{batch_id}", status_code=303)

    @app.get("/campaigns/{campaign_id}/imports/{batch_id}/rejections.csv",
             dependencies=[allow(*READERS)])
    def rejections_download(campaign_id: int, batch_id: int) -> StreamingResponse:
        _status_or_404(db, campaign_id, batch_id)
        return StreamingResponse(
            rejections_csv(db, batch_id), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition":
                     f'attachment; filename="import-{batch_id}-rejected-rows.csv"'})

    @app.get("/dnc", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
    def dnc_page(request: Request, q: str = "", campaign: int | None = None,
                 error: str = "", done: str = "") -> HTMLResponse:
        return page(request, "dnc.html", entries=dnc.search(db, q, campaign_id=campaign),
                    q=q, campaign=campaign, error=error, done=done)

    @app.post("/dnc", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
    def dnc_submit(request: Request, phone: Annotated[str, Form()],
                   action: Annotated[str, Form()] = "add",
                   campaign: Annotated[str, Form()] = "",
                   reason: Annotated[str, Form()] = "") -> Response:
        user = request.state.user
        cid = int(campaign) if campaign.strip().isdigit() else None
        try:
            if action == "remove":
                gone = dnc.remove_number(db, phone, campaign_id=cid,
                                         region=settings.default_region)
                done = f"{phone} removed" if gone else f"{phone} was not on the list"
            else:
                e164, added = dnc.add_number(db, phone, campaign_id=cid,
                                             region=settings.default_region, source="manual",
                                             reason=reason or None, added_by=user.username)
                done = f"{e164} added" if added else f"{e164} was already on the list"
        except dnc.DncError as exc:
            return page(request, "dnc.html", status=400, entries=dnc.search(db, ""),
                        q="", campaign=cid, error=str(exc), done="")
        return RedirectResponse(f"/dnc?done={done}", status_code=303)

    # -- API --------------------------------------------------------------------------
    @app.get("/api/imports/{batch_id}", dependencies=[allow(*READERS)])
    def api_import(batch_id: int) -> dict[str, Any]:
        try:
            return import_status(db, batch_id, limit=50)
        except CampaignError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/campaigns/{campaign_id}", dependencies=[allow(*READERS)])
    def api_campaign(campaign_id: int) -> dict[str, Any]:
        c = campaign_or_404(campaign_id)
        return {**c, "progress": progress(db, campaign_id),
                "first_day": str(c["first_day"] or ""), "last_day": str(c["last_day"] or "")}

    @app.post("/api/campaigns/{campaign_id}/status", dependencies=[allow(*MARKETING)])
    def api_campaign_status(campaign_id: int, body: StatusIn) -> dict[str, Any]:
        campaign_or_404(campaign_id)
        try:
            return {"id": campaign_id, "status": change_status(db, campaign_id, body.action)}
        except CampaignError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.get("/api/dnc", dependencies=[allow(*MARKETING)])
    def api_dnc(q: str = "", campaign_id: int | None = None) -> list[dict[str, Any]]:
        return dnc.search(db, q, campaign_id=campaign_id)

    @app.post("/api/dnc", status_code=201, dependencies=[allow(*MARKETING)])
    def api_dnc_add(request: Request, body: DncIn) -> dict[str, Any]:
        try:
            e164, added = dnc.add_number(db, body.phone, campaign_id=body.campaign_id,
                                         region=settings.default_region, source="api",
                                         reason=body.reason,
                                         added_by=request.state.user.username)
        except dnc.DncError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"phone": e164, "added": added}

    @app.delete("/api/dnc/{phone}", dependencies=[allow(*MARKETING)])
    def api_dnc_remove(phone: str, campaign_id: int | None = None) -> dict[str, Any]:
        try:
            gone = dnc.remove_number(db, phone, campaign_id=campaign_id,
                                     region=settings.default_region)
        except dnc.DncError as exc:
            raise HTTPException(400, str(exc)) from None
        if not gone:
            raise HTTPException(404, f"{phone} is not on that list")
        return {"phone": phone, "removed": True}


def _status_or_404(db: Database, campaign_id: int, batch_id: int) -> dict[str, Any]:
    try:
        status = import_status(db, batch_id)
    except CampaignError as exc:
        raise HTTPException(404, str(exc)) from None
    if status["campaign_id"] != campaign_id:
        raise HTTPException(404, f"import {batch_id} is not one of campaign {campaign_id}'s")
    return status


def _actions(status: str) -> list[str]:
    from campaigns.service import TRANSITIONS

    return [a for a in TRANSITIONS.get(status, {}) if a != "finish"]
