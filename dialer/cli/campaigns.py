"""`dialer campaign ...`: a campaign's life from the command line: create it from a script
directory and a call list, add lists, start, pause, resume and stop it, rehearse it with
simulated customers (dry-run), list the campaigns, report on one and wait for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dialer.cli.common import console, err, fail, guarded, open_database

campaign_app = typer.Typer(help="Create, start and inspect campaigns.", no_args_is_help=True)


@campaign_app.command("create")
def campaign_create(
    name: Annotated[str, typer.Option(help="Campaign name (unique).")],
    script: Annotated[Path, typer.Option(help="Directory with script.yml and nlu.yml.")],
    csv: Annotated[Path, typer.Option(help="Call list CSV with a phone column.")],
    region: Annotated[str, typer.Option(help="Region for numbers without +country.")] = "",
    phone_column: Annotated[str | None, typer.Option(
        help="Name of the phone column, when it is not recognised by itself.")] = None,
    max_concurrent: Annotated[int, typer.Option(help="Calls at the same time.")] = 2,
    max_attempts: Annotated[int, typer.Option(help="Attempts per contact.")] = 1,
    retry_delay: Annotated[int, typer.Option(help="Seconds before a retry.")] = 600,
    ring_timeout: Annotated[int, typer.Option(help="Seconds to ring before giving up.")] = 25,
    caller_id: Annotated[str | None, typer.Option(
        help="One of the caller IDs its trunk allows (+ and digits).")] = None,
    voice: Annotated[str | None, typer.Option(
        help="TTS voice (espeak-ng, e.g. ko or gmw/en-us); default: the workers'.")] = None,
    trunk: Annotated[str | None, typer.Option(
        help="The name of a trunk on the admins' list (`dialer trunk list`); default: the "
             "workers' DIALER_SIP_TRUNK.")] = None,
    window: Annotated[str, typer.Option(
        help="Call window in the callee's time zone, HH:MM-HH:MM (within 08:00-21:00).")
    ] = "09:00-20:00",
    first_day: Annotated[str | None, typer.Option(help="First day to call, YYYY-MM-DD.")] = None,
    last_day: Annotated[str | None, typer.Option(help="Last day to call, YYYY-MM-DD.")] = None,
    max_cps: Annotated[float, typer.Option(help="New calls a second at most.")] = 1.0,
    retry: Annotated[list[str] | None, typer.Option(
        help="Retry delay for one disposition, e.g. --retry busy=300 --retry no_answer=3600"
    )] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Simulated customers only: dialed by a sandbox worker "
                          "(DIALER_SANDBOX=1, a loopback simulator) and never by a "
                          "production one; call windows do not apply.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Create a campaign from a script directory and import its call list."""
    from campaigns.lifecycle import schedule_options
    from campaigns.list_imports import create_campaign
    from campaigns.settings import CampaignSettings
    from dialer.conversation.kit import check_nlu, load_kit

    settings = CampaignSettings()
    if voice:
        guarded(_check_voice, voice)
    kit = guarded(load_kit, script)  # a broken script is refused before anything is stored
    guarded(check_nlu, kit)
    db = open_database()
    summary = guarded(create_campaign, db, name=name, script_dir=script, csv_path=csv,
                     uploads_dir=settings.uploads_dir, region=region or settings.default_region,
                     phone_column=phone_column,
                     check_columns=lambda cols: kit.script.check_fields(cols, str(csv)),
                     max_rows=settings.max_list_rows, max_concurrent=max_concurrent,
                     max_attempts=max_attempts, retry_delay_s=retry_delay,
                     ring_timeout_s=ring_timeout, caller_id=caller_id, voice=voice,
                     trunk=trunk,
                     **guarded(schedule_options, window, first_day, last_day, max_cps,
                              retry or [], dry_run))
    if as_json:
        print(json.dumps(summary.as_json(), ensure_ascii=False))
    else:
        console.print(f"campaign {summary.campaign_id} created: "
                      f"[green]{summary.accepted} accepted[/green], "
                      f"[red]{summary.rejected} rejected[/red]")
        for e in summary.errors:
            console.print(f"  row {e['row']}: {e['value']!r} — {e['reason']}", highlight=False)
    if summary.accepted == 0:
        raise typer.Exit(1)


def _check_voice(voice: str) -> None:
    from campaigns.lifecycle import CampaignError
    from voices.tts import installed_voice_ids

    if voice not in installed_voice_ids():
        raise CampaignError("--voice {voice!r} is not installed; see `espeak-ng --voices` "
                            "(the File column, e.g. ko or gmw/en-us)", voice=voice)


@campaign_app.command("import")
def campaign_import(
    campaign_id: int,
    csv: Annotated[Path, typer.Option(help="Another call list for this campaign.")],
    phone_column: Annotated[str | None, typer.Option(
        help="Name of the phone column, when it is not recognised by itself.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Add a call list to a campaign: duplicates of its contacts and numbers on a DNC list
    are rejected row by row; every rejected row is printed (or in --json)."""
    from campaigns.lifecycle import progress
    from campaigns.list_imports import import_status, queue_import, run_import
    from campaigns.models import Campaign
    from campaigns.settings import CampaignSettings
    from dialer.conversation.kit import read_campaign

    settings = CampaignSettings()
    db = open_database()
    state = guarded(progress, db, campaign_id)["status"]
    if state in ("stopped", "finished"):
        fail(f"campaign {campaign_id} is {state}; it takes no more contacts")
    if not csv.is_file():
        fail(f"{csv}: file not found; check the path")
    with db.session() as s:
        c = s.get(Campaign, campaign_id)
        script_dir = c.script_dir if c else ""
    script, _ = guarded(read_campaign, script_dir)
    batch = guarded(queue_import, db, campaign_id, csv, csv.name, settings.uploads_dir)
    outcome = guarded(run_import, db, batch, phone_column,
                     lambda cols: script.check_fields(cols, str(csv)),
                     settings.max_list_rows)
    result = import_status(db, batch, limit=10_000)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    elif outcome == "done":
        console.print(f"import {batch} into campaign {campaign_id}: "
                      f"[green]{result['accepted']} accepted[/green], "
                      f"[red]{result['rejected']} rejected[/red]")
        for e in result["rejections"]:
            console.print(f"  row {e['row']}: {e['value']!r} — {e['reason']}", highlight=False)
    if outcome != "done":
        hint = " (pass --phone-column)" if outcome == "needs_mapping" else ""
        fail(f"{result['message']}{hint}; the file is kept as import {batch}")


@campaign_app.command("start")
def campaign_start(campaign_id: int) -> None:
    """Let the dispatcher dial this campaign's contacts."""
    from campaigns.lifecycle import start_campaign

    guarded(start_campaign, open_database(), campaign_id)
    console.print(f"campaign {campaign_id} running")


def _status_command(action: str, doc: str) -> None:
    def command(campaign_id: int) -> None:
        from campaigns.lifecycle import change_status

        status = guarded(change_status, open_database(), campaign_id, action)
        console.print(f"campaign {campaign_id} {status}")

    command.__doc__ = doc
    campaign_app.command(action)(command)


_status_command("pause", "Stop claiming new calls (calls in progress end normally).")
_status_command("resume", "Dial a paused campaign again.")
_status_command("stop", "End the campaign for good: what was not dialed never is.")


@campaign_app.command("dry-run")
def campaign_dry_run(
    campaign_id: int,
    personas: Annotated[Path | None, typer.Option(
        help="Personas file (default: the script's personas.yml).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the calls.")] = 600,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    line: Annotated[list[str] | None, typer.Option(
        help="A line to call the personas on (codec, noise, loss: pcmu+street@15+loss@2); "
             "repeat it for a matrix. Default: the personas file's `lines:`, else clean.")
    ] = None,
    prepared: Annotated[list[int] | None, typer.Option(
        hidden=True, help="Run this rehearsal, already prepared (the web app does): once "
                          "per line, in the lines' order.")] = None,
) -> None:
    """Rehearse the campaign with simulated customers over SIP on this machine (never a
    real number): each persona's transcript and disposition, every turn where the robot
    fell back, reprompted or misunderstood, and pass or fail for each persona with an
    `expect:`, on each line. Exits 1 when one of them failed (a campaign's personas are
    its tests), 2 on an error."""
    db = open_database()
    lines = _dry_run_lines(db, campaign_id, personas, line)
    if prepared:
        _check_prepared(db, campaign_id, prepared, lines)
    try:
        reports = [_dry_run_line(db, campaign_id, spec, i, len(lines), personas, timeout,
                                 prepared[i - 1] if prepared else None)
                   for i, spec in enumerate(lines, 1)]
    finally:
        if prepared:  # a line that failed ends the dry-run: those after it never start
            _stop_drafts(db, prepared)
    failed = [r["line"] for r in reports if not r["expectations"]["ok"]]
    if as_json:
        out = reports[0] if len(reports) == 1 else {
            "lines": reports, "by_line": {r["line"]: r["expectations"] for r in reports},
            "ok": not failed}
        print(json.dumps(out, ensure_ascii=False, default=str))
    else:
        for r in reports:
            _print_dry_run(r, f"dry-run {r['rehearsal']['id']} of campaign {campaign_id} "
                              f"on line {r['line']}")
        if len(reports) > 1:
            console.print(f"{len(reports) - len(failed)} of {len(reports)} lines passed"
                          + (f"; failed on {', '.join(failed)}" if failed else ""),
                          highlight=False)
    if failed:
        raise typer.Exit(1)


def _dry_run_line(db: Any, campaign_id: int, spec: Any, i: int, n: int,
                  personas: Path | None, timeout: float, prepared: int | None
                  ) -> dict[str, Any]:
    """Rehearse on one line (in the rehearsal the web app prepared for it, if given);
    its report."""
    from campaigns.settings import CampaignSettings
    from dialer.sandbox.rehearsal import rehearsal_report, rehearse, run_rehearsal

    if n > 1:
        err.print(f"dry-run of campaign {campaign_id}: line {i} of {n}, {spec.name}",
                  highlight=False)
    if prepared is None:
        rid = guarded(rehearse, db, CampaignSettings(), campaign_id, personas, timeout,
                      line=spec)
    else:
        rid = prepared
        guarded(run_rehearsal, db, CampaignSettings(), rid, personas, timeout, line=spec)
    return {**guarded(rehearsal_report, db, rid, personas), "line": spec.name}


def _check_prepared(db: Any, campaign_id: int, prepared: list[int], lines: list[Any]
                    ) -> None:
    """One prepared rehearsal of this campaign per line, paired in order."""
    from campaigns.models import Campaign

    names = ", ".join(spec.name for spec in lines)
    if len(prepared) != len(lines):
        fail(f"--prepared was given {len(prepared)} time(s) for {len(lines)} line(s) "
             f"({names}); give one prepared rehearsal per line, in the lines' order")
    if len(set(prepared)) != len(prepared):
        fail(f"--prepared {' '.join(map(str, prepared))} names a rehearsal twice; give "
             "each line its own")
    with db.session() as s:
        for rid in prepared:
            c = s.get(Campaign, rid)
            if c is None or c.rehearsal_of != campaign_id:
                fail(f"--prepared {rid} is no rehearsal of campaign {campaign_id}; give "
                     "the rehearsals prepared for its dry-run")


def _stop_drafts(db: Any, rehearsals: list[int]) -> None:
    """Stop those of the rehearsals never started (so their page shows them ended)."""
    from campaigns.lifecycle import CampaignError, change_status, progress

    for rid in rehearsals:
        try:
            if progress(db, rid)["status"] == "draft":
                change_status(db, rid, "stop")
        except CampaignError:  # changed meanwhile
            pass


def _dry_run_lines(db: Any, campaign_id: int, personas: Path | None,
                   given: list[str] | None) -> list[Any]:
    """The lines to rehearse on: those given, else the personas file's."""
    from campaigns.models import Campaign
    from dialer.sandbox.personas import load_lines
    from dialer.sandbox.phone_lines import parse_line

    if given:
        return [guarded(parse_line, word, "--line") for word in given]
    with db.session() as s:
        c = s.get(Campaign, campaign_id)
        if c is None:
            fail(f"no campaign with id {campaign_id}")
        path = personas or Path(c.script_dir) / "personas.yml"
    if not path.is_file():
        return [parse_line("clean")]  # rehearse() says what is missing
    return list(guarded(load_lines, path))


def _print_dry_run(report: dict[str, Any], title: str) -> None:
    table = Table("persona", "result", "disposition", "turns", "flagged", "reason",
                  title=title)
    for call in report["calls"]:
        result = {True: "[green]pass[/]", False: "[red]FAIL[/]"}.get(call["passed"], "—")
        table.add_row(call["persona"], result, str(call["disposition"]),
                      str(len(call["turns"])), str(call["flags"]), str(call["reason"] or ""))
    console.print(table)
    for call in report["calls"]:
        if call["passed"] is False:
            console.print(f"  {call['persona']}: FAIL — {call['why']}", highlight=False)
        for t in call["turns"]:
            for flag in t["flags"]:
                console.print(f"  {call['persona']}: {t['speaker']} {t['text']!r} — {flag}",
                              highlight=False)
    tally = report["expectations"]
    if tally["checked"]:
        console.print(f"{tally['passed']} of {tally['checked']} personas passed"
                      + (f", {tally['failed']} failed" if tally["failed"] else "")
                      + (f"; {tally['unchecked']} without expect:" if tally["unchecked"]
                         else ""), highlight=False)
    else:
        console.print("no persona says what should happen (expect:); nothing was checked",
                      highlight=False)


@campaign_app.command("list")
def campaign_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    from campaigns.lifecycle import list_campaigns

    rows = list_campaigns(open_database())
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("id", "name", "status", "contacts", "script")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["status"], str(r["contacts"]), r["script_dir"])
    console.print(table)


@campaign_app.command("report")
def campaign_report(campaign_id: int,
                    as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Dispositions and every call with its transcript."""
    from campaigns.report import campaign_report as build

    report = guarded(build, open_database(), campaign_id)
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    from dialer.sandbox.demo import print_report

    print_report(console, report)


@campaign_app.command("wait")
def campaign_wait(campaign_id: int,
                  timeout: Annotated[float, typer.Option(help="Seconds.")] = 900) -> None:
    """Show progress until the campaign has finished."""
    from dialer.sandbox.demo import wait_for_campaign

    ok = guarded(wait_for_campaign, open_database(), campaign_id, timeout)
    raise typer.Exit(0 if ok else 1)
