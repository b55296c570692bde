"""`dialer` command line: campaigns, one-off calls, the simulator, the worker, the web app."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dialer.cli_imports import imports_app
from dialer.cli_trunks import trunk_app

app = typer.Typer(help="Offline AI outbound voice robot.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
campaign_app = typer.Typer(help="Create, start and inspect campaigns.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
app.add_typer(db_app, name="db")
user_app = typer.Typer(help="Users of the web app (the first admin is made here).",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(trunk_app, name="trunk")
app.add_typer(imports_app, name="imports")
# Piped output (make demo | tee, CI logs) would otherwise be cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 132)


def _user_errors() -> tuple[type[Exception], ...]:
    from campaigns.db import SchemaError
    from campaigns.dnc import DncError
    from campaigns.importer import CsvImportError
    from campaigns.service import CampaignError
    from campaigns.users import UserError
    from campaigns.windows import WindowError
    from dialer.script import ScriptError
    from dialer.simulator import PersonaError
    from dialer.sip import SipError
    from nlu.component import NluModelError
    from nlu.rasa_http import NluServerError
    from nlu.training_data import NluDataError
    from voices.asr import ModelNotFoundError
    from voices.tts import TtsError

    return (CsvImportError, CampaignError, ScriptError, PersonaError, SipError, NluDataError,
            ModelNotFoundError, TtsError, NluModelError, NluServerError, SchemaError,
            UserError, DncError, WindowError, FileNotFoundError)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _database() -> Any:
    from campaigns.db import Database
    from campaigns.settings import CampaignSettings

    db = Database(CampaignSettings().resolved_database_url())
    db.migrate()
    return db


def _guard(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except _user_errors() as exc:
        fail(str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema (DIALER_DATABASE_URL)."""
    _guard(_database)
    console.print("schema is up to date")


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
    from campaigns.service import create_campaign, schedule_options
    from campaigns.settings import CampaignSettings
    from dialer.runtime import check_nlu, load_kit

    settings = CampaignSettings()
    if voice:
        _guard(_check_voice, voice)
    kit = _guard(load_kit, script)  # a broken script is refused before anything is stored
    _guard(check_nlu, kit)
    db = _database()
    summary = _guard(create_campaign, db, name=name, script_dir=script, csv_path=csv,
                     uploads_dir=settings.uploads_dir, region=region or settings.default_region,
                     phone_column=phone_column,
                     check_columns=lambda cols: kit.script.check_fields(cols, str(csv)),
                     max_rows=settings.max_list_rows, max_concurrent=max_concurrent,
                     max_attempts=max_attempts, retry_delay_s=retry_delay,
                     ring_timeout_s=ring_timeout, caller_id=caller_id, voice=voice,
                     trunk=trunk,
                     **_guard(schedule_options, window, first_day, last_day, max_cps,
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
    from campaigns.service import CampaignError
    from voices.tts import installed_voice_ids

    if voice not in installed_voice_ids():
        raise CampaignError(f"--voice {voice!r} is not installed; see `espeak-ng --voices` "
                            "(the File column, e.g. ko or gmw/en-us)")


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
    from campaigns.models import Campaign
    from campaigns.service import import_status, progress, queue_import, run_import
    from campaigns.settings import CampaignSettings
    from dialer.runtime import load_kit

    settings = CampaignSettings()
    db = _database()
    state = _guard(progress, db, campaign_id)["status"]
    if state in ("stopped", "finished"):
        fail(f"campaign {campaign_id} is {state}; it takes no more contacts")
    if not csv.is_file():
        fail(f"{csv}: file not found; check the path")
    with db.session() as s:
        c = s.get(Campaign, campaign_id)
        script_dir = c.script_dir if c else ""
    kit = _guard(load_kit, script_dir)
    batch = _guard(queue_import, db, campaign_id, csv, csv.name, settings.uploads_dir)
    outcome = _guard(run_import, db, batch, phone_column,
                     lambda cols: kit.script.check_fields(cols, str(csv)),
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
    from campaigns.service import start_campaign

    _guard(start_campaign, _database(), campaign_id)
    console.print(f"campaign {campaign_id} running")


def _status_command(action: str, doc: str) -> None:
    def command(campaign_id: int) -> None:
        from campaigns.service import change_status

        status = _guard(change_status, _database(), campaign_id, action)
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
    prepared: Annotated[int | None, typer.Option(
        hidden=True, help="Run this rehearsal, already prepared (the web app does).")] = None,
) -> None:
    """Rehearse the campaign with simulated customers over SIP on this machine (never a
    real number): each persona's transcript and disposition, every turn where the robot
    fell back, reprompted or misunderstood."""
    from campaigns.settings import CampaignSettings
    from dialer.rehearsal import rehearsal_report, rehearse, run_rehearsal

    db = _database()
    if prepared is None:
        rid = _guard(rehearse, db, CampaignSettings(), campaign_id, personas, timeout)
    else:
        rid = prepared
        _guard(run_rehearsal, db, CampaignSettings(), rid, personas, timeout)
    report = _guard(rehearsal_report, db, rid, personas)
    if as_json:
        print(json.dumps(report, ensure_ascii=False, default=str))
        return
    table = Table("persona", "disposition", "turns", "flagged", "reason",
                  title=f"dry-run {rid} of campaign {campaign_id}")
    for call in report["calls"]:
        table.add_row(call["persona"], str(call["disposition"]), str(len(call["turns"])),
                      str(call["flags"]), str(call["reason"] or ""))
    console.print(table)
    for call in report["calls"]:
        for t in call["turns"]:
            for flag in t["flags"]:
                console.print(f"  {call['persona']}: {t['speaker']} {t['text']!r} — {flag}",
                              highlight=False)


dnc_app = typer.Typer(help="Do-not-call lists: global, or one campaign's (--campaign).",
                      no_args_is_help=True)
app.add_typer(dnc_app, name="dnc")
CampaignOpt = Annotated[int | None, typer.Option(
    "--campaign", help="The campaign's own list instead of the global one.")]


@dnc_app.command("add")
def dnc_add(numbers: list[str], campaign: CampaignOpt = None,
            reason: Annotated[str | None, typer.Option(help="Why (kept).")] = None) -> None:
    """Add numbers; they are never dialed again (checked at dial time too)."""
    from campaigns import dnc
    from campaigns.settings import CampaignSettings

    db, region = _database(), CampaignSettings().default_region
    for n in numbers:
        e164, added = _guard(dnc.add_number, db, n, campaign_id=campaign, region=region,
                             reason=reason, added_by="cli")
        console.print(f"{e164} {'added' if added else 'was already on the list'}")


@dnc_app.command("remove")
def dnc_remove(numbers: list[str], campaign: CampaignOpt = None) -> None:
    """Take numbers off a list."""
    from campaigns import dnc
    from campaigns.settings import CampaignSettings

    db, region = _database(), CampaignSettings().default_region
    for n in numbers:
        gone = _guard(dnc.remove_number, db, n, campaign_id=campaign, region=region)
        console.print(f"{n} {'removed' if gone else 'was not on the list'}")


@dnc_app.command("search")
def dnc_search(text: Annotated[str, typer.Argument()] = "", campaign: CampaignOpt = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Entries whose number contains TEXT (digits compared), newest first."""
    from campaigns import dnc

    rows = dnc.search(_database(), text, campaign_id=campaign)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("number", "list", "source", "reason", "added")
    for r in rows:
        table.add_row(r["phone"], r["scope"], r["source"], r["reason"] or "",
                      r["created_at"][:16])
    console.print(table)


@campaign_app.command("list")
def campaign_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    from campaigns.service import list_campaigns

    rows = list_campaigns(_database())
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

    report = _guard(build, _database(), campaign_id)
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    from dialer.demo import print_report

    print_report(console, report)


@campaign_app.command("wait")
def campaign_wait(campaign_id: int,
                  timeout: Annotated[float, typer.Option(help="Seconds.")] = 900) -> None:
    """Show progress until the campaign has finished."""
    from dialer.demo import wait_for_campaign

    ok = _guard(wait_for_campaign, _database(), campaign_id, timeout)
    raise typer.Exit(0 if ok else 1)


script_app = typer.Typer(help="Conversation scripts.", no_args_is_help=True)
app.add_typer(script_app, name="script")


@script_app.command("check")
def script_check(
    directory: Annotated[Path, typer.Argument(help="Campaign directory (script.yml, nlu.yml).")],
    csv: Annotated[Path | None, typer.Option(
        help="Also check that this call list has every field the prompts use.")] = None,
) -> None:
    """Validate a campaign's script against its NLU data (and a call list): unknown
    intents or nodes, unreachable nodes, missing prompts, fields absent from the CSV."""
    from campaigns.importer import read_call_list
    from dialer.runtime import load_kit

    kit = _guard(load_kit, directory)
    fields = kit.script.fields_used()
    if csv is not None:
        parsed = _guard(read_call_list, csv)
        _guard(kit.script.check_fields, parsed.columns, str(csv))
    s = kit.script
    console.print(f"[green]ok[/green] {s.path}: {len(s.nodes)} nodes from {s.start!r}, "
                  f"{len(s.intents_used())} intents, fields: "
                  f"{', '.join(sorted(fields)) or 'none'}"
                  f"{f'; {csv} has them all' if csv else ''}", highlight=False)


@app.command("call")
def call(
    sip_uri: Annotated[str, typer.Argument(help="sip:user@host[:port] or a number.")],
    script: Annotated[Path, typer.Option(help="Directory with script.yml and nlu.yml.")],
    field: Annotated[list[str] | None, typer.Option(help="Contact field name=value.")] = None,
    record: Annotated[Path | None, typer.Option(help="Write the call to this WAV.")] = None,
    ring_timeout: Annotated[float, typer.Option()] = 25.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Place one call with a script and print the transcript (no database, no broker)."""
    from dialer.runtime import CallRuntime, load_kit
    from dialer.settings import DialerSettings
    from voices.asr import load_model, resolve_model_path
    from voices.settings import VoiceSettings

    _setup_logging()
    fields = dict(f.split("=", 1) for f in field or [] if "=" in f)
    _guard(load_kit, script)
    voices = VoiceSettings()
    model = load_model(_guard(resolve_model_path, voices.vosk_model, voices.language))
    rt = _guard(CallRuntime, DialerSettings(), voices, model)
    try:
        outcome = _guard(rt.call, sip_uri, str(script), fields, recording=record,
                         ring_timeout_s=ring_timeout)
    finally:
        rt.shutdown()
    if as_json:
        from dataclasses import asdict

        print(json.dumps(asdict(outcome), ensure_ascii=False))
    else:
        for t in outcome.turns:
            who = "[cyan]robot[/cyan]" if t.speaker == "bot" else "[yellow]customer[/yellow]"
            extra = f"  ({t.intent} {t.confidence:.2f}, asr {t.asr_confidence:.2f})" \
                if t.speaker == "customer" else ""
            console.print(f"{who}: {t.text}{extra}", highlight=False)
        console.print(f"disposition: [bold]{outcome.disposition}[/bold]  sip: "
                      f"{outcome.sip_status} {outcome.sip_reason}  reason: {outcome.reason}")
    if outcome.disposition == "failed":
        fail(outcome.reason or f"the call failed (SIP {outcome.sip_status})", code=1)


@app.command("simulate")
def simulate(
    personas: Annotated[Path, typer.Option(help="Personas YAML.")],
    port: Annotated[int, typer.Option(help="SIP port to answer on.")] = 5070,
    rtp_port: Annotated[int, typer.Option(help="First RTP port.")] = 46000,
    duration: Annotated[float | None, typer.Option(help="Stop after seconds.")] = None,
    registrar: Annotated[str | None, typer.Option(
        help="host:port to REGISTER at (an agent's phone behind a PBX or Kamailio).")] = None,
    username: Annotated[str | None, typer.Option(help="SIP user to register as.")] = None,
    password: Annotated[str | None, typer.Option(help="Its digest password.")] = None,
    record_dir: Annotated[Path | None, typer.Option(
        help="Keep what each simulated person heard as call-<n>-<number>.wav here.")] = None,
) -> None:
    """Answer calls as simulated customers, or as agents' phones (answer: agent)."""
    import signal

    from dialer.simulator import CustomerSimulator, load_personas
    from voices.settings import VoiceSettings
    from voices.tts import Pyttsx3Tts

    _setup_logging()
    people = _guard(load_personas, personas)
    v = VoiceSettings()
    # espeak-ng's own default pace; pyttsx3 would speak faster, and less clearly.
    tts = Pyttsx3Tts(v.tts_voice, rate=175, cache_dir=v.prompt_cache_dir)
    v.prompt_cache_dir.mkdir(parents=True, exist_ok=True)
    trunk = None
    if registrar:
        from dialer.sip import TrunkConfig

        if not username:
            fail("--registrar needs --username (and --password)")
        trunk = TrunkConfig(host=registrar, registrar=f"sip:{registrar}", username=username,
                            password=password, caller_id=username)
    sim = _guard(CustomerSimulator, people, tts, port=port, rtp_port=rtp_port, trunk=trunk,
                 record_dir=record_dir)
    signal.signal(signal.SIGTERM, lambda *_: sim.stop())
    print(json.dumps({"sim": None, "event": "ready", "port": port,
                      "personas": len(people)}), flush=True)
    try:
        sim.serve(duration)
    except KeyboardInterrupt:
        pass
    finally:
        sim.shutdown()


@app.command("worker")
def worker(
    processes: Annotated[int | None, typer.Option(help="Call processes.")] = None,
    beat: Annotated[bool, typer.Option(help="Run the dispatcher schedule too.")] = True,
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run a Celery worker that dispatches and places calls."""
    from dialer.demo import redis_answers
    from voices.asr import resolve_model_path
    from voices.settings import VoiceSettings
    from worker import CALLS_QUEUE, DISPATCH_QUEUE, dialer_settings
    from worker import app as celery_app

    # Refuse to start with what would fail every call, in one line instead of a retry loop.
    voices = VoiceSettings()
    _guard(resolve_model_path, voices.vosk_model, voices.language)
    url = dialer_settings.broker_url
    if url.startswith(("redis://", "rediss://")) and not redis_answers(url):
        fail(f"the broker {url} does not answer; start redis-server there or set "
             "DIALER_BROKER_URL (`make demo` starts a local one for you)")
    problem = dialer_settings.sandbox_problem()
    if problem:
        fail(problem)
    _database()
    n = processes or dialer_settings.call_processes
    # One spare child keeps the dispatcher running while every other child is on a call.
    argv = ["worker", "-Q", f"{CALLS_QUEUE},{DISPATCH_QUEUE}", "-c", str(n + 1), "-P", "prefork",
            "-O", "fair", f"--loglevel={loglevel}", "-n", f"dialer-{int(time.time())}@%h"]
    if beat:
        argv.append("-B")
    celery_app.worker_main(argv)


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(
        help="admin | marketing | agent | analyst | supervisor")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (scripts).")] = False,
    sip_uri: Annotated[str | None, typer.Option(
        help="Agents: the phone handed-off calls ring, e.g. sip:agent1@pbx.example.com")] = None,
    skills: Annotated[str | None, typer.Option(
        help="Agents: comma-separated skills routing matches, e.g. billing,korean")] = None,
) -> None:
    """Create a user; asks for the password twice unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    from campaigns.users import create_user

    db = _guard(_database)
    user_id = _guard(create_user, db, username, password, role, sip_uri, skills)
    console.print(f"user {username} ({role.strip().lower()}) created, id {user_id}")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The users, their roles and whether they can log in."""
    from campaigns.users import list_users

    users = list_users(_guard(_database))
    if as_json:
        print(json.dumps(users))
        return
    table = Table("id", "user", "role", "active", "last login")
    for u in users:
        table.add_row(str(u["id"]), str(u["username"]), str(u["role"]),
                      "yes" if u["active"] else "no", str(u["last_login_at"] or "never"))
    console.print(table)


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000,
          secure_cookies: Annotated[bool | None, typer.Option(
              "--secure-cookies/--insecure-cookies",
              help="Cookies only over HTTPS (the default, also DIALER_WEB_SECURE_COOKIES); "
                   "--insecure-cookies for plain http on this machine.")] = None) -> None:
    """Start the web app. Create the first admin with `dialer user create NAME --role
    admin`."""
    import uvicorn

    from dialer.web import create_app

    uvicorn.run(_guard(create_app, secure_cookies=secure_cookies), host=host, port=port)


@app.command("demo")
def demo(timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 900,
         processes: Annotated[int, typer.Option(help="Call processes.")] = 2) -> None:
    """Run the demo campaign end to end against simulated customers on loopback."""
    from dialer.demo import run_demo

    _setup_logging()
    code = _guard(run_demo, console, timeout=timeout, processes=processes)
    raise typer.Exit(code)


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


if __name__ == "__main__":
    app()
