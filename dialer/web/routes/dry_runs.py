"""A campaign's dry-runs: a rehearsal copy of it called by simulated customers on a
private worker (dialer/sandbox/rehearsal.py), started from its page or the API, each
with its report (transcripts, dispositions, flagged turns, pass or fail per persona).

One click rehearses the campaign on every line of its personas file (`lines:`: codec,
noise, loss; one clean line when it names none): one rehearsal per line, all prepared
in the request (the page shows them at once) and called in turn by one process of their
own. Such a matrix is one dry-run: for the server's limit, for "one at a time per
campaign", and on the page, which shows each line's verdict and the matrix's."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from campaigns.db import Database
from campaigns.lifecycle import CampaignError, change_status, progress
from campaigns.models import Campaign
from campaigns.settings import CampaignSettings
from dialer.conversation.script import ScriptError
from dialer.sandbox.personas import PersonaError
from dialer.sandbox.phone_lines import LineError, LineSpec
from dialer.web.auth import allow
from dialer.web.campaign_forms import campaign_or_404, language_of
from dialer.web.deps import Db, Render, Settings
from dialer.web.i18n import said
from dialer.web.i18n import translate as _t
from dialer.web.pages import Page
from dialer.web.roles import MARKETING, READERS
from nlu.training_data import NluDataError

DRY_RUN_TIMEOUT_S = 600  # for each line
# A dry-run whose runner died leaves its rehearsals open: it is over this long after the
# last sign of life of any of them (made, started, ended). Each line starts within
# minutes of the one before it ending and ends within DRY_RUN_TIMEOUT_S of starting.
DEADLINE = timedelta(seconds=DRY_RUN_TIMEOUT_S + 300)
# One click prepares its lines' rehearsals one right after the other, each on its own
# line; two clicks on one campaign are at least a dry-run apart.
SAME_CLICK = timedelta(seconds=30)
OPEN = ("draft", "running")
# What a personas file, a script or its NLU data can be wrong with: said on the page.
USER_ERRORS = (CampaignError, PersonaError, LineError, ScriptError, NluDataError,
               FileNotFoundError)
ALREADY = "a dry-run of this campaign is already under way"
router = APIRouter()


@dataclass(frozen=True)
class Stored:
    """One rehearsal as stored: enough to tell the dry-run that made it and whether
    that is under way."""

    id: int
    campaign: int
    name: str
    line: str
    status: str
    made: datetime
    seen: datetime  # its last sign of life: made, started or ended


def stored(db: Database, campaign_id: int | None = None) -> list[Stored]:
    """The campaign's rehearsals (None: those of every campaign with one open), by
    campaign, oldest first."""
    from dialer.sandbox.rehearsal import rehearsal_line

    query = select(Campaign.id, Campaign.rehearsal_of, Campaign.name, Campaign.status,
                   Campaign.created_at, Campaign.started_at, Campaign.finished_at)
    if campaign_id is None:
        query = query.where(Campaign.rehearsal_of.in_(select(Campaign.rehearsal_of).where(
            Campaign.rehearsal_of.is_not(None), Campaign.status.in_(OPEN))))
    else:
        query = query.where(Campaign.rehearsal_of == campaign_id)
    with db.session() as s:
        rows = s.execute(query.order_by(Campaign.rehearsal_of, Campaign.id)).all()
    out = []
    for rid, of, name, status, *times in rows:
        made, *later = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in times if t]
        out.append(Stored(rid, int(of or 0), name, rehearsal_line(name), status, made,
                          max([made, *later])))
    return out


def clicks(rehearsals: list[Stored]) -> list[list[Stored]]:
    """The dry-runs these rehearsals (by campaign, oldest first) were made by: one click
    makes one per line at once, so a rehearsal belongs with the one before it when it was
    made moments after it, of the same campaign, on a line that dry-run has not yet."""
    out: list[list[Stored]] = []
    for r in rehearsals:
        last = out[-1] if out else []
        if (last and last[-1].campaign == r.campaign and r.made - last[-1].made <= SAME_CLICK
                and r.line not in {x.line for x in last}):
            last.append(r)
        else:
            out.append([r])
    return out


def under_way(click: list[Stored], now: datetime) -> bool:
    return (any(r.status in OPEN for r in click)
            and max(r.seen for r in click) > now - DEADLINE)


def dry_runs_under_way(db: Database, up_to: int | None = None) -> int:
    """Dry-runs under way on this server: campaigns with one (a matrix of lines is one
    dry-run); `up_to`: only those whose first rehearsal's id is up to it (the earlier)."""
    now = datetime.now(UTC)
    return len({c[0].campaign for c in clicks(stored(db))
                if under_way(c, now) and (up_to is None or c[0].id <= up_to)})


def dry_runs(db: Database, campaign_id: int, lang: str = "en") -> list[dict[str, Any]]:
    """The campaign's dry-runs, newest first: each with its rehearsals (one per line, in
    the lines' order, each with its report) and its verdict over the lines."""
    now = datetime.now(UTC)
    out = []
    for click in reversed(clicks(stored(db, campaign_id))):
        going = under_way(click, now)
        reports = [_report(db, r, going, waiting=going and r.status == "draft" and any(
            x.status in OPEN for x in click[:i])) for i, r in enumerate(click)]
        out.append({"id": click[0].id, "under_way": going, "rehearsals": reports,
                    "verdict": verdict(reports, lang)})
    return out


def rehearsals(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's rehearsals, newest first, each with its report, its line and the
    verdict of the dry-run (matrix) it is part of."""
    return [{**r, "matrix": {k: v for k, v in d.items() if k != "rehearsals"}}
            for d in dry_runs(db, campaign_id) for r in reversed(d["rehearsals"])]


def _report(db: Database, r: Stored, going: bool, waiting: bool) -> dict[str, Any]:
    from dialer.sandbox.rehearsal import rehearsal_report

    try:
        report: dict[str, Any] = rehearsal_report(db, r.id)
    except USER_ERRORS as exc:
        report = {"rehearsal": {"id": r.id, "name": r.name, "status": r.status},
                  "line": r.line, "error": str(exc), "calls": [], "dispositions": {},
                  "flagged_turns": 0, "expectations": None}
    p = progress(db, r.id)
    out = {**report, "under_way": going and r.status in OPEN, "waiting": waiting,
           "progress": {"done": p["done"], "total": p["total"]}}
    return {**out, "result": _result(out)}


def verdict(reports: list[dict[str, Any]], lang: str = "en") -> dict[str, Any]:
    """A dry-run's lines by result (_result), the sentence that sums them up (in `lang`),
    and `ok`: passed on every line that was checked."""
    by: dict[str, list[str]] = {k: [] for k in ("waiting", "calling", "passed", "failed",
                                                "stopped", "unchecked")}
    for r in reports:
        by[r["result"]].append(r["line"])
    n = len(reports)
    done = n - len(by["waiting"]) - len(by["calling"])
    out = {"lines": [r["line"] for r in reports], **by, "done": done,
           "ok": not (by["failed"] or by["stopped"]) and bool(by["passed"])}
    return {**out, "text": verdict_text(out, lang)}


def verdict_text(v: dict[str, Any], lang: str = "en") -> str:
    """The sentence that sums a dry-run's verdict up."""
    n = len(v["lines"])
    if v["calling"]:
        return _t(lang, "Line {line} of {n} ({name}) is being called; {done} done, "
                        "{waiting} waiting.", line=v["done"] + 1, n=n, name=v["calling"][0],
                  done=v["done"], waiting=len(v["waiting"]))
    if len(v["unchecked"]) == n:
        return _t(lang, "Nothing was checked on any line: no persona says how its call "
                        "should end.")
    if len(v["passed"]) == n:
        return _t(lang, "Passed on all {n} lines.", n=n)
    parts = [_t(lang, "Passed on {passed} of {n} lines", passed=len(v["passed"]), n=n)]
    parts += [_t(lang, said, lines=", ".join(v[k])) for k, said in (
        ("failed", "failed on {lines}"), ("stopped", "stopped on {lines}"),
        ("unchecked", "nothing checked on {lines}")) if v[k]]
    return "; ".join(parts) + "."


def _result(r: dict[str, Any]) -> str:
    """waiting, calling, passed, failed, stopped (ended before every persona was called,
    or never started), or unchecked (no persona says how its call should end)."""
    if r["waiting"]:
        return "waiting"
    if r["under_way"]:
        return "calling"
    x = r["expectations"]
    if r["rehearsal"]["status"] != "finished" or x is None:
        return "stopped" if x is not None else "failed"  # None: its report is unreadable
    return "unchecked" if not x["checked"] else "passed" if x["ok"] else "failed"


@contextmanager
def _said_on_the_page() -> Iterator[None]:
    """A personas file, script or NLU data the dry-run cannot use is the user's to fix:
    a CampaignError, shown on the page (the API: 409), never a 500."""
    try:
        yield
    except USER_ERRORS as exc:
        if isinstance(exc, CampaignError):
            raise
        raise CampaignError.again(exc) from None


def start_dry_run(db: Database, settings: CampaignSettings, campaign_id: int) -> list[int]:
    """Prepare one rehearsal per line of the campaign's personas file here (the page
    shows them at once) and call them in turn in one process of their own: its
    simulator, worker and broker outlive no request. Returns their ids, in the lines'
    order."""
    from dialer.sandbox.rehearsal import prepare_rehearsal

    if any(under_way(c, datetime.now(UTC)) for c in clicks(stored(db, campaign_id))):
        raise CampaignError(ALREADY)
    limit = settings.max_dry_runs
    busy = f"{limit} dry-run(s) are under way on this server, the most at once; " \
           "try again when one has finished"
    with _said_on_the_page():
        lines = _lines(db, campaign_id)
        if dry_runs_under_way(db) >= limit:
            raise CampaignError(busy)
        ids: list[int] = []
        try:
            for spec in lines:
                ids.append(prepare_rehearsal(db, campaign_id, line=spec))
        except BaseException:
            _stop(db, ids)
            if _overtaken(db, campaign_id, ids[0] if ids else None):  # a double click
                raise CampaignError(ALREADY) from None
            raise
    # Two requests may have passed the checks together: the later one gives way, with
    # every line it prepared.
    if _overtaken(db, campaign_id, ids[0]):
        _stop(db, ids)
        raise CampaignError(ALREADY)
    if dry_runs_under_way(db, up_to=ids[0]) > limit:
        _stop(db, ids)
        raise CampaignError(busy)
    _run_in_turn(db, settings, campaign_id, list(zip(lines, ids, strict=True)))
    return ids


def _lines(db: Database, campaign_id: int) -> list[LineSpec]:
    """The lines of the campaign's personas file (when there is none, preparing the
    rehearsal says what is missing)."""
    from dialer.sandbox.personas import load_lines

    path = Path(campaign_or_404(db, campaign_id)["script_dir"]) / "personas.yml"
    return load_lines(path) if path.is_file() else [LineSpec()]


def _overtaken(db: Database, campaign_id: int, first: int | None) -> bool:
    """Another click on this campaign prepared its rehearsals at the same time, and
    before ours (`first`; None: we have none). Any older open one is over: the check
    before preparing said so."""
    since = datetime.now(UTC) - DEADLINE
    return any(r.status in OPEN and (first is None or r.id < first) and r.made > since
               for r in stored(db, campaign_id))


def _stop(db: Database, ids: list[int]) -> None:
    for rid in ids:
        try:
            change_status(db, rid, "stop")
        except CampaignError:  # stopped or finished meanwhile
            pass


def _run_in_turn(db: Database, settings: CampaignSettings, campaign_id: int,
                 lines: list[tuple[LineSpec, int]]) -> None:
    """One process calls the rehearsals one line after the other (`dialer campaign
    dry-run --line L --prepared ID ...`: each line named, so a personas file changed
    meanwhile cannot pair a rehearsal with another line)."""
    import os
    import sys

    logs = (settings.data_dir / "logs").resolve()
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DIALER_DATABASE_URL=db.url,
               DIALER_DATA_DIR=str(settings.data_dir.resolve()))
    args = [sys.executable, "-m", "dialer.cli", "campaign", "dry-run", str(campaign_id),
            "--timeout", str(DRY_RUN_TIMEOUT_S)]
    for spec, rid in lines:
        args += ["--line", spec.name, "--prepared", str(rid)]
    log = logs / f"dry-run-{campaign_id}.log"
    try:
        with log.open("ab") as out:
            subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
    except OSError as exc:
        _stop(db, [rid for _, rid in lines])
        raise CampaignError("the dry-run could not be started ({why}); see {log}",
                            why=str(exc), log=str(log)) from None


def dry_runs_page(db: Database, page: Page, campaign_id: int, error: str = "",
                  status: int = 200) -> HTMLResponse:
    c = campaign_or_404(db, campaign_id)
    matrices = dry_runs(db, campaign_id, language_of(page.request))
    running = any(d["under_way"] for d in matrices)
    return page("dryruns.html", status=status, c=c, dry_runs=matrices, running=running,
                error=error)


@router.get("/campaigns/{campaign_id}/dry-runs", response_class=HTMLResponse,
            dependencies=[allow(*READERS)])
def dry_runs_get(db: Db, page: Render, campaign_id: int) -> HTMLResponse:
    """The campaign's dry-runs page: each line's verdict and transcripts."""
    return dry_runs_page(db, page, campaign_id)


@router.post("/campaigns/{campaign_id}/dry-runs", dependencies=[allow(*MARKETING)])
def dry_run_start(db: Db, settings: Settings, page: Render, campaign_id: int) -> Response:
    """Start a dry-run from the page: one rehearsal per line of the personas file."""
    campaign_or_404(db, campaign_id)
    try:
        ids = start_dry_run(db, settings, campaign_id)
    except CampaignError as exc:
        # Shown in the answer itself: a `?error=` in a link would let anyone put
        # words of theirs on our page.
        return dry_runs_page(db, page, campaign_id, said(language_of(page.request), exc),
                             status=409)
    anchor = f"matrix-{ids[0]}" if len(ids) > 1 else f"dry-run-{ids[0]}"
    return RedirectResponse(f"/campaigns/{campaign_id}/dry-runs#{anchor}", status_code=303)


@router.get("/api/campaigns/{campaign_id}/dry-runs", dependencies=[allow(*READERS)])
def api_dry_runs(db: Db, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's rehearsals, newest first: transcripts, dispositions, flags, pass or
    fail per persona, the line each called on and its dry-run's verdict (`matrix`)."""
    campaign_or_404(db, campaign_id)
    return rehearsals(db, campaign_id)


@router.post("/api/campaigns/{campaign_id}/dry-runs", status_code=202,
             dependencies=[allow(*MARKETING)])
def api_dry_run_start(db: Db, settings: Settings, campaign_id: int) -> dict[str, Any]:
    """Start a dry-run: one rehearsal per line of the personas file, called in turn;
    poll GET .../dry-runs for their reports."""
    campaign_or_404(db, campaign_id)
    try:
        ids = start_dry_run(db, settings, campaign_id)
    except CampaignError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"rehearsal_id": ids[0], "rehearsal_ids": ids}
