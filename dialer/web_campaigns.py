"""Marketing's pages and API: create a campaign with its call list (imported in the
background, with progress, a column-mapping step when the phone column cannot be told,
and every rejected row downloadable), start/pause/resume/stop, and the do-not-call
lists."""

from __future__ import annotations

import logging
import re
import time
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
    claim_mapping,
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
from campaigns.trunks import list_trunks
from campaigns.uploads import purge_uploads
from dialer.web_imports import (
    audit,
    audited_download,
    import_for,
    save_upload,
    upload_tmp_dir,
)

MARKETING = (Role.ADMIN, Role.MARKETING)
READERS = (Role.ADMIN, Role.MARKETING, Role.ANALYST)
RETRY_FIELDS = ("busy", "no_answer", "failed", "machine", "dead_air")
PURGE_EVERY_S = 86400  # how often imports look for uploads past their retention
log = logging.getLogger("dialer.web")
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


DNC_DONE = {"added": "{} added", "removed": "{} removed",
            "already": "{} was already on the list", "absent": "{} was not on the list"}


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
        False)
    options.pop("dry_run")  # never from a form: dry-runs are rehearsals (POST .../dry-runs)
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
            "ring_timeout_s": str(c["ring_timeout_s"]),
            **{f"retry_{k}": str(v) for k, v in c["retry_delays"].items()}}


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

    def start_import(batch_id: int, campaign_id: int) -> None:
        """Run a queued import (queue_import, claim_mapping) in the import thread; it
        runs once however often this is called (run_import claims it)."""
        from sqlalchemy import update

        def work() -> None:
            try:
                run_import(db, batch_id, check_columns=field_check(campaign_id),
                           max_rows=settings.max_list_rows)
            except Exception as exc:  # noqa: BLE001 - the page shows it; the file is kept
                with db.session() as s:
                    s.execute(update(ImportBatch).where(
                        ImportBatch.id == batch_id,
                        ImportBatch.status.in_(("queued", "running"))).values(
                        status="failed", message=f"{type(exc).__name__}: {exc}"))
            purge()
        jobs.submit(work)

    purged_at = [0.0]

    def purge() -> None:
        """Delete uploads past their retention (campaigns/uploads.py), at most daily."""
        if purged_at[0] and time.monotonic() - purged_at[0] < PURGE_EVERY_S:
            return
        purged_at[0] = time.monotonic()
        try:
            purge_uploads(db, settings.uploads_dir, settings.upload_retention_days)
        except Exception:  # imports go on; the next purge tries again
            log.exception("purging old uploads failed")

    jobs.submit(purge)

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
                    voices=voice_choices(), retry_fields=RETRY_FIELDS,
                    trunks=list_trunks(db))

    @app.post("/campaigns/new", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
    async def new_campaign_submit(request: Request, csv_file: Annotated[UploadFile, File()],
                                  name: Annotated[str, Form()],
                                  script: Annotated[str, Form()]) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        scripts = script_dirs(settings)

        def again(message: str) -> HTMLResponse:
            return page(request, "campaign_new.html", status=400, scripts=scripts,
                        form=form, error=message, voices=voice_choices(),
                        retry_fields=RETRY_FIELDS, trunks=list_trunks(db))

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
                    retry_fields=RETRY_FIELDS, trunks=list_trunks(db))

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
                        retry_fields=RETRY_FIELDS, error=str(exc), trunks=list_trunks(db))
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
        with upload_tmp_dir(settings) as tmp:
            upload = Path(tmp) / "upload.csv"
            await save_upload(csv_file, upload, settings.max_upload_mb)
            bid = queue_import(db, campaign_id, upload, csv_file.filename or "upload.csv",
                               settings.uploads_dir, move=True)
        start_import(bid, campaign_id)
        return bid

    @app.get("/campaigns/{campaign_id}/imports/{batch_id}", response_class=HTMLResponse,
             dependencies=[allow(*READERS)])
    def import_page(request: Request, campaign_id: int, batch_id: int) -> HTMLResponse:
        role = request.state.user.role
        status = _status_or_404(db, campaign_id, batch_id)
        columns: list[str] = []
        rows: list[list[str]] = []
        # The preview is the file's own cells: only for those who choose the column.
        if status["status"] == "needs_mapping" and role in MARKETING:
            with db.session() as s:
                b = s.get(ImportBatch, batch_id)
                stored = b.stored_path if b else ""
            try:
                columns, rows = preview(stored)
            except CsvImportError:
                pass
        return page(request, "import.html", b=import_for(role, status),
                    campaign_id=campaign_id, columns=columns, preview=rows,
                    retention_days=settings.upload_retention_days)

    @app.post("/campaigns/{campaign_id}/imports/{batch_id}/mapping",
              dependencies=[allow(*MARKETING)])
    def import_mapping_submit(campaign_id: int, batch_id: int,
                              phone_column: Annotated[str, Form()]) -> Response:
        _status_or_404(db, campaign_id, batch_id)
        try:
            claimed = claim_mapping(db, batch_id, phone_column)
        except CampaignError as exc:
            raise HTTPException(400, str(exc)) from None
        if not claimed:  # another request chose first, or it was never waiting
            now = import_status(db, batch_id, limit=0)["status"]
            raise HTTPException(409, f"this import is {now}, not waiting for a column mapping")
        start_import(batch_id, campaign_id)
        return RedirectResponse(f"/campaigns/{campaign_id}/imports/{batch_id}", status_code=303)

    # Whole numbers and every cell of each row: closed to roles that see masked numbers.
    @app.get("/campaigns/{campaign_id}/imports/{batch_id}/rejections.csv",
             dependencies=[allow(*MARKETING)])
    def rejections_download(request: Request, campaign_id: int,
                            batch_id: int) -> StreamingResponse:
        status = _status_or_404(db, campaign_id, batch_id)
        body = audited_download(db, request.state.user, rejections_csv(db, batch_id), {
            "campaign_id": campaign_id, "import_id": batch_id, "rows": status["rejected"]})
        return StreamingResponse(
            body, media_type="text/csv; charset=utf-8",
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

    def dry_runs_page(request: Request, campaign_id: int, error: str = "",
                      status: int = 200) -> HTMLResponse:
        c = campaign_or_404(campaign_id)
        reports = rehearsals(campaign_id)
        running = any(r["under_way"] for r in reports)
        return page(request, "dryruns.html", status=status, c=c, reports=reports,
                    running=running, error=error)

    @app.get("/campaigns/{campaign_id}/dry-runs", response_class=HTMLResponse,
             dependencies=[allow(*READERS)])
    def dry_runs_get(request: Request, campaign_id: int) -> HTMLResponse:
        return dry_runs_page(request, campaign_id)

    @app.post("/campaigns/{campaign_id}/dry-runs", dependencies=[allow(*MARKETING)])
    def dry_run_start(request: Request, campaign_id: int) -> Response:
        campaign_or_404(campaign_id)
        try:
            rid = start_dry_run(campaign_id)
        except CampaignError as exc:
            # Shown in the answer itself: a `?error=` in a link would let anyone put
            # words of theirs on our page.
            return dry_runs_page(request, campaign_id, str(exc), status=409)
        return RedirectResponse(f"/campaigns/{campaign_id}/dry-runs#dry-run-{rid}",
                                status_code=303)

    def start_dry_run(campaign_id: int) -> int:
        """Prepare the rehearsal here (the page shows it at once) and run it in its own
        process: its simulator, worker and broker outlive no request."""
        import os
        import subprocess
        import sys

        from dialer.rehearsal import prepare_rehearsal, rehearsals_under_way

        if any(r["under_way"] for r in rehearsals(campaign_id)):
            raise CampaignError("a dry-run of this campaign is already under way")
        limit = settings.max_dry_runs
        busy = f"{limit} dry-run(s) are under way on this server, the most at once; " \
               "try again when one has finished"
        if rehearsals_under_way(db, DRY_RUN_TIMEOUT_S) >= limit:
            raise CampaignError(busy)
        rid = prepare_rehearsal(db, campaign_id)
        # Two requests may have passed the check together: the later one gives way.
        if rehearsals_under_way(db, DRY_RUN_TIMEOUT_S, up_to=rid) > limit:
            change_status(db, rid, "stop")
            raise CampaignError(busy)
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
                 done: str = "", number: str = "") -> HTMLResponse:
        # Only our own sentences, and a number only when it is one: a link must not be
        # able to put words of its own on the page.
        shown = number if re.fullmatch(r"\+[0-9]{6,15}", number) else "the number"
        return page(request, "dnc.html", entries=dnc.search(db, q, campaign_id=campaign),
                    q=q, campaign=campaign, error="",
                    done=DNC_DONE[done].format(shown) if done in DNC_DONE else "")

    def dnc_change(request: Request, phone: str, campaign_id: int | None, add: bool,
                   source: str, reason: str | None = None) -> tuple[str, bool]:
        """Add or remove a number, in the audit log when it changed a list; (the number
        in E.164, whether it changed). DncError says what to correct."""
        user = request.state.user
        region = settings.default_region
        if add:
            e164, changed = dnc.add_number(db, phone, campaign_id=campaign_id, region=region,
                                           source=source, reason=reason,
                                           added_by=user.username)
        else:
            e164 = dnc.normalise(phone, region)
            changed = dnc.remove_number(db, e164, campaign_id=campaign_id, region=region)
        if changed:
            detail = {"phone": e164, "list": dnc.scope_of(campaign_id), "via": source}
            audit(db, user, "dnc_add" if add else "dnc_remove",
                  {**detail, "reason": reason} if add else detail)
        return e164, changed

    @app.post("/dnc", response_class=HTMLResponse, dependencies=[allow(*MARKETING)])
    def dnc_submit(request: Request, phone: Annotated[str, Form()],
                   action: Annotated[str, Form()] = "add",
                   campaign: Annotated[str, Form()] = "",
                   reason: Annotated[str, Form()] = "") -> Response:
        adding = action != "remove"
        try:
            if campaign.strip() and not campaign.strip().isdigit():
                raise dnc.DncError(f"campaign {campaign.strip()[:40]!r} must be a campaign's "
                                   "number, or empty for the global list")
            cid = int(campaign) if campaign.strip() else None
            e164, changed = dnc_change(request, phone, cid, adding, "manual", reason or None)
            done = ("added" if adding else "removed") if changed else \
                ("already" if adding else "absent")
        except dnc.DncError as exc:
            status = 404 if isinstance(exc, dnc.UnknownCampaign) else 400
            return page(request, "dnc.html", status=status, entries=dnc.search(db, ""),
                        q="", campaign=None, error=str(exc), done="")
        return RedirectResponse(f"/dnc?done={done}&number={quote(e164)}", status_code=303)

    # -- API --------------------------------------------------------------------------
    @app.get("/api/imports/{batch_id}", dependencies=[allow(*READERS)])
    def api_import(request: Request, batch_id: int) -> dict[str, Any]:
        """An import's progress and its first 50 rejected rows (numbers masked for
        analysts)."""
        try:
            return import_for(request.state.user.role, import_status(db, batch_id, limit=50))
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
            "max_attempts", "retry_delay_s", "ring_timeout_s") if k in given}
        if given.get("dry_run"):
            raise CampaignError("a campaign cannot be made a dry-run: rehearse it with POST "
                                "/api/campaigns/{id}/dry-runs (simulated customers on a "
                                "private worker)")
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
                False)
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
        """Put a number on the global list, or a campaign's (404: no such campaign)."""
        try:
            e164, added = dnc_change(request, body.phone, body.campaign_id, True, "api",
                                     body.reason)
        except dnc.DncError as exc:
            raise HTTPException(404 if isinstance(exc, dnc.UnknownCampaign) else 400,
                                str(exc)) from None
        return {"phone": e164, "added": added}

    @app.delete("/api/dnc/{phone}", dependencies=[allow(*MARKETING)])
    def api_dnc_remove(request: Request, phone: str,
                       campaign_id: int | None = None) -> dict[str, Any]:
        """Take a number off the global list, or a campaign's (404: not on it, or no
        such campaign)."""
        try:
            _, gone = dnc_change(request, phone, campaign_id, False, "api")
        except dnc.DncError as exc:
            raise HTTPException(404 if isinstance(exc, dnc.UnknownCampaign) else 400,
                                str(exc)) from None
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
