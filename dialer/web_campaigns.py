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
from urllib.parse import quote

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select

from campaigns import dnc
from campaigns.db import Database
from campaigns.importer import CsvImportError, preview
from campaigns.models import Campaign, Contact, ImportBatch, Role
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
    update_campaign,
)
from campaigns.settings import CampaignSettings

MARKETING = (Role.ADMIN, Role.MARKETING)
READERS = (Role.ADMIN, Role.MARKETING, Role.ANALYST)
RETRY_FIELDS = ("busy", "no_answer", "failed", "machine", "dead_air")
MAX_UPLOAD = 512 * 1024 * 1024
DRY_RUN_TIMEOUT_S = 600


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
    dry_run: bool | None = None


def voice_choices() -> list[tuple[str, str]]:
    """The TTS voices a campaign can choose (espeak-ng through pyttsx3), cached."""
    global _VOICES
    if _VOICES is None:
        try:
            from voices.tts import installed_voices

            _VOICES = list(installed_voices())
        except Exception:  # noqa: BLE001 - no espeak-ng: only the workers' default voice
            _VOICES = []
    return _VOICES


_VOICES: list[tuple[str, str]] | None = None


def form_options(form: dict[str, str], scripts: list[Path]) -> dict[str, Any]:
    """A campaign's settings from the new/edit form, checked (CampaignError/ValueError
    say what to fix)."""
    chosen = next((d for d in scripts if str(d) == form.get("script")), None)
    if chosen is None:
        raise CampaignError("choose one of the listed scripts")
    voice = form.get("voice", "").strip()
    if voice and voice not in {v for v, _ in voice_choices()}:
        raise CampaignError(f"voice {voice!r} is not installed; choose one of the list")
    options = schedule_options(
        f"{form.get('window_start', '09:00')}-{form.get('window_end', '20:00')}",
        form.get("first_day") or None, form.get("last_day") or None,
        float(form.get("max_cps") or 1), [f"{k}={form[f'retry_{k}']}" for k in RETRY_FIELDS
                                          if form.get(f"retry_{k}", "").strip()],
        form.get("dry_run") == "1")
    for key, default in (("max_concurrent", 2), ("max_attempts", 1), ("retry_delay_s", 600),
                         ("ring_timeout_s", 25)):
        try:
            options[key] = int(form.get(key) or default)
        except ValueError:
            raise CampaignError(f"{key.replace('_', ' ')} {form.get(key)!r} must be a whole "
                                "number") from None
    return {**options, "script_dir": chosen, "voice": voice or None,
            "trunk": form.get("trunk", "").strip() or None,
            "caller_id": form.get("caller_id", "").strip() or None,
            "region": (form.get("region") or "KR").strip().upper()}


def campaign_form(c: dict[str, Any]) -> dict[str, str]:
    """A stored campaign as the edit form's values."""
    start, _, end = c["window"].partition("-")
    return {"name": c["name"], "script": c["script_dir"], "region": c["region"],
            "caller_id": c["caller_id"] or "", "voice": c["voice"] or "",
            "trunk": c["trunk"] or "", "window_start": start, "window_end": end,
            "first_day": str(c["first_day"] or ""), "last_day": str(c["last_day"] or ""),
            "max_concurrent": str(c["max_concurrent"]), "max_cps": str(c["max_cps"]),
            "max_attempts": str(c["max_attempts"]), "retry_delay_s": str(c["retry_delay_s"]),
            "ring_timeout_s": str(c["ring_timeout_s"]), "dry_run": "1" if c["dry_run"] else "",
            **{f"retry_{k}": str(v) for k, v in c["retry_delays"].items()}}


async def save_upload(upload: UploadFile, dest: Path) -> int:
    """Stream an upload to disk; its size, refused above MAX_UPLOAD or when empty."""
    size = 0
    with dest.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise CampaignError(f"the file is larger than {MAX_UPLOAD >> 20} MB; split "
                                    "it and upload the parts to the same campaign")
            out.write(chunk)
    if size == 0:
        raise CampaignError(f"{upload.filename or 'the file'} is empty")
    return size


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
                    "dry_run": c.dry_run, "caller_id": c.caller_id, "voice": c.voice,
                    "trunk": c.trunk, "language": c.language,
                    "ring_timeout_s": c.ring_timeout_s, "rehearsal_of": c.rehearsal_of,
                    "imports": [{"id": b.id, "filename": b.filename, "status": b.status,
                                 "accepted": b.accepted, "rejected": b.rejected}
                                for b in batches]}

    # -- pages ------------------------------------------------------------------------
    @app.get("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
    def new_campaign_page(request: Request) -> HTMLResponse:
        return page(request, "campaign_new.html", scripts=script_dirs(settings), form={},
                    voices=voice_choices(), retry_fields=RETRY_FIELDS)

    @app.post("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
    async def new_campaign_submit(request: Request, csv_file: Annotated[UploadFile, File()],
                                  name: Annotated[str, Form()],
                                  script: Annotated[str, Form()]) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        scripts = script_dirs(settings)

        def again(message: str) -> HTMLResponse:
            return page(request, "campaign_new.html", status=400, scripts=scripts,
                        form=form, error=message, voices=voice_choices(),
                        retry_fields=RETRY_FIELDS)

        try:
            options = form_options({**form, "script": script}, scripts)
        except (CampaignError, ValueError) as exc:
            return again(str(exc))
        with tempfile.TemporaryDirectory() as tmp:
            upload = Path(tmp) / "upload.csv"
            try:
                await save_upload(csv_file, upload)
                cid = create_draft(db, name=name, **options)
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

    @app.get("/campaigns/{campaign_id}/edit", response_class=HTMLResponse,
             dependencies=[allow(*MARKETING)])
    def edit_campaign_page(request: Request, campaign_id: int) -> HTMLResponse:
        c = campaign_or_404(campaign_id)
        return page(request, "campaign_edit.html", c=c, form=campaign_form(c),
                    scripts=script_dirs(settings), voices=voice_choices(),
                    retry_fields=RETRY_FIELDS)

    @app.post("/campaigns/{campaign_id}/edit", response_class=HTMLResponse,
              dependencies=[allow(*MARKETING)])
    async def edit_campaign_submit(request: Request, campaign_id: int) -> Response:
        c = campaign_or_404(campaign_id)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            changes = form_options(form, script_dirs(settings))
            changes["name"] = form.get("name", "")
            if str(changes["script_dir"]) != c["script_dir"]:
                field_check_dir(changes["script_dir"], campaign_id)
            update_campaign(db, campaign_id, changes)
        except (CampaignError, ValueError) as exc:
            return page(request, "campaign_edit.html", status=400, c=c, form=form,
                        scripts=script_dirs(settings), voices=voice_choices(),
                        retry_fields=RETRY_FIELDS, error=str(exc))
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)

    def field_check_dir(script_dir: Path | str, campaign_id: int) -> None:
        """A new script for a campaign with contacts must find its {fields} in them."""
        from dialer.runtime import load_kit
        from dialer.script import ScriptError

        with db.session() as s:
            fields = s.scalar(select(Contact.fields).where(Contact.campaign_id == campaign_id)
                              .limit(1))
        try:
            kit = load_kit(script_dir)
            if fields is not None:
                kit.script.check_fields(list(fields), "the campaign's contacts")
        except ScriptError as exc:
            raise CampaignError(str(exc)) from None

    @app.post("/campaigns/{campaign_id}/imports", response_class=HTMLResponse,
              dependencies=[allow(*MARKETING)])
    async def add_list_submit(request: Request, campaign_id: int,
                              csv_file: Annotated[UploadFile, File()]) -> Response:
        c = campaign_or_404(campaign_id)
        try:
            bid = await upload_list(campaign_id, csv_file)
        except CampaignError as exc:
            return page(request, "campaign.html", status=400, c=c,
                        progress=progress(db, campaign_id), actions=_actions(c["status"]),
                        error=str(exc))
        return RedirectResponse(f"/campaigns/{campaign_id}/imports/{bid}", status_code=303)

    async def upload_list(campaign_id: int, csv_file: UploadFile) -> int:
        c = campaign_or_404(campaign_id)
        if c["status"] in ("stopped", "finished") or c["rehearsal_of"] is not None:
            raise CampaignError(f"a {c['status']} campaign takes no more contacts; create a "
                                "new campaign" if c["rehearsal_of"] is None
                                else "a dry-run takes no list")
        with tempfile.TemporaryDirectory() as tmp:
            upload = Path(tmp) / "upload.csv"
            await save_upload(csv_file, upload)
            bid = queue_import(db, campaign_id, upload, csv_file.filename or "upload.csv",
                               settings.uploads_dir)
        start_import(bid, campaign_id)
        return bid

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

    def rehearsals(campaign_id: int) -> list[dict[str, Any]]:
        """The campaign's dry-runs, newest first, each with its report and whether it is
        still under way (a rehearsal whose runner died is not: it has a deadline)."""
        from datetime import UTC, datetime, timedelta

        from dialer.rehearsal import rehearsal_report

        with db.session() as s:
            rows = s.execute(select(Campaign.id, Campaign.status, Campaign.created_at).where(
                Campaign.rehearsal_of == campaign_id).order_by(Campaign.id.desc())).all()
        out = []
        deadline = datetime.now(UTC) - timedelta(seconds=DRY_RUN_TIMEOUT_S + 300)
        for rid, status, created in rows:
            created = created if created.tzinfo else created.replace(tzinfo=UTC)
            under_way = status in ("draft", "running") and created > deadline
            try:
                report: dict[str, Any] = rehearsal_report(db, rid)
            except CampaignError as exc:
                report = {"rehearsal": {"id": rid, "status": status}, "error": str(exc),
                          "calls": [], "dispositions": {}, "flagged_turns": 0}
            p = progress(db, rid)
            out.append({**report, "under_way": under_way,
                        "progress": {"done": p["done"], "total": p["total"]}})
        return out

    @app.get("/campaigns/{campaign_id}/dry-runs", response_class=HTMLResponse,
             dependencies=[allow(*READERS)])
    def dry_runs_page(request: Request, campaign_id: int, error: str = "") -> HTMLResponse:
        c = campaign_or_404(campaign_id)
        reports = rehearsals(campaign_id)
        running = any(r["under_way"] for r in reports)
        return page(request, "dryruns.html", c=c, reports=reports, running=running,
                    error=error)

    @app.post("/campaigns/{campaign_id}/dry-runs", dependencies=[allow(*MARKETING)])
    def dry_run_start(campaign_id: int) -> Response:
        campaign_or_404(campaign_id)
        try:
            rid = start_dry_run(campaign_id)
        except CampaignError as exc:
            return RedirectResponse(f"/campaigns/{campaign_id}/dry-runs?error={quote(str(exc))}",
                                    status_code=303)
        return RedirectResponse(f"/campaigns/{campaign_id}/dry-runs#dry-run-{rid}",
                                status_code=303)

    def start_dry_run(campaign_id: int) -> int:
        """Prepare the rehearsal here (the page shows it at once) and run it in its own
        process: its simulator, worker and broker outlive no request."""
        import os
        import subprocess
        import sys

        from dialer.rehearsal import prepare_rehearsal

        if any(r["under_way"] for r in rehearsals(campaign_id)):
            raise CampaignError("a dry-run of this campaign is already under way")
        rid = prepare_rehearsal(db, campaign_id)
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

    @app.get("/api/campaigns/{campaign_id}/dry-runs", dependencies=[allow(*READERS)])
    def api_dry_runs(campaign_id: int) -> list[dict[str, Any]]:
        """The campaign's dry-runs, newest first: transcripts, dispositions, flags."""
        campaign_or_404(campaign_id)
        return rehearsals(campaign_id)

    @app.post("/api/campaigns/{campaign_id}/dry-runs", status_code=202,
              dependencies=[allow(*MARKETING)])
    def api_dry_run_start(campaign_id: int) -> dict[str, Any]:
        """Start a dry-run; poll GET .../dry-runs for its report."""
        campaign_or_404(campaign_id)
        try:
            return {"rehearsal_id": start_dry_run(campaign_id)}
        except CampaignError as exc:
            raise HTTPException(409, str(exc)) from None

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

    def api_options(body: CampaignIn) -> dict[str, Any]:
        given = body.model_dump(exclude_unset=True)
        out: dict[str, Any] = {k: given[k] for k in (
            "name", "region", "caller_id", "voice", "trunk", "max_concurrent",
            "max_attempts", "retry_delay_s", "ring_timeout_s", "dry_run") if k in given}
        if "script" in given:
            chosen = next((d for d in script_dirs(settings)
                           if given["script"] in (str(d), d.name)), None)
            if chosen is None:
                raise CampaignError(f"no script {given['script']!r}; see GET /api/scripts")
            out["script_dir"] = chosen
        if out.get("voice") and out["voice"] not in {v for v, _ in voice_choices()}:
            raise CampaignError(f"voice {out['voice']!r} is not installed; see GET /api/voices")
        schedule = {"window", "first_day", "last_day", "max_cps", "retry_delays"} & set(given)
        if schedule:
            opts = schedule_options(
                given.get("window") or "09:00-20:00", given.get("first_day"),
                given.get("last_day"), float(given.get("max_cps") or 1),
                [f"{k}={v}" for k, v in (given.get("retry_delays") or {}).items()],
                bool(given.get("dry_run")))
            out.update({k: opts[k] for k in opts if k != "dry_run" and (
                k in given or (k in ("window_start", "window_end") and "window" in given))})
        return out

    @app.get("/api/scripts", dependencies=[allow(*READERS)])
    def api_scripts() -> list[dict[str, str]]:
        """Scripts a campaign can use (name and directory)."""
        return [{"name": d.name, "script": str(d)} for d in script_dirs(settings)]

    @app.get("/api/voices", dependencies=[allow(*READERS)])
    def api_voices() -> list[dict[str, str]]:
        """TTS voices a campaign can use (empty: only the workers' default)."""
        return [{"id": v, "name": n} for v, n in voice_choices()]

    @app.post("/api/campaigns", status_code=201, dependencies=[allow(*MARKETING)])
    def api_create_campaign(body: CampaignIn) -> dict[str, Any]:
        """Create a draft campaign; then upload its list to .../imports."""
        if not body.name or not body.script:
            raise HTTPException(422, "a campaign needs a name and a script (GET /api/scripts)")
        try:
            options = api_options(body)
            cid = create_draft(db, name=options.pop("name"),
                               script_dir=options.pop("script_dir"),
                               region=options.pop("region", settings.default_region), **options)
        except CampaignError as exc:
            raise HTTPException(409 if "already exists" in str(exc) else 422,
                                str(exc)) from None
        return api_campaign(cid)

    @app.patch("/api/campaigns/{campaign_id}", dependencies=[allow(*MARKETING)])
    def api_edit_campaign(campaign_id: int, body: CampaignIn) -> dict[str, Any]:
        """Change a draft or paused campaign; only the fields sent change."""
        campaign_or_404(campaign_id)
        try:
            changes = api_options(body)
            if "script_dir" in changes:
                field_check_dir(changes["script_dir"], campaign_id)
            update_campaign(db, campaign_id, changes)
        except CampaignError as exc:
            raise HTTPException(409 if "cannot be edited" in str(exc) else 422,
                                str(exc)) from None
        return api_campaign(campaign_id)

    @app.post("/api/campaigns/{campaign_id}/imports", status_code=202,
              dependencies=[allow(*MARKETING)])
    async def api_upload_list(campaign_id: int,
                              csv_file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        """Upload a call list (multipart field csv_file); it imports in the background:
        poll GET /api/imports/{id}."""
        try:
            bid = await upload_list(campaign_id, csv_file)
        except CampaignError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"import_id": bid, "status_url": f"/api/imports/{bid}"}

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
