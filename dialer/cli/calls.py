"""Trying a script by hand, without a campaign: `dialer script check` validates it,
`dialer call` places one call with it (no database, no broker), `dialer simulate` answers
calls as the simulated customers of a personas file (or as agents' phones).

`call` and `simulate` are top-level commands: dialer/cli/main.py puts them on the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dialer.cli.common import console, fail, guarded, setup_logging

script_app = typer.Typer(help="Conversation scripts.", no_args_is_help=True)


@script_app.command("check")
def script_check(
    directory: Annotated[Path, typer.Argument(help="Campaign directory (script.yml, nlu.yml).")],
    csv: Annotated[Path | None, typer.Option(
        help="Also check that this call list has every field the prompts use.")] = None,
    advice: Annotated[bool, typer.Option(
        help="Advise on the NLU examples: too few, too similar, misread when held out.")
    ] = True,
) -> None:
    """Validate a campaign's script against its NLU data (and a call list): unknown
    intents or nodes, unreachable nodes, missing prompts, fields absent from the CSV.
    Then advise on the NLU examples (nlu/advice.py); advice does not fail the check."""
    from campaigns.importer import read_call_list
    from dialer.conversation.kit import load_kit

    kit = guarded(load_kit, directory)
    fields = kit.script.fields_used()
    if csv is not None:
        parsed = guarded(read_call_list, csv)
        guarded(kit.script.check_fields, parsed.columns, str(csv))
    s = kit.script
    console.print(f"[green]ok[/green] {s.path}: {len(s.nodes)} nodes from {s.start!r}, "
                  f"{len(s.intents_used())} intents, fields: "
                  f"{', '.join(sorted(fields)) or 'none'}"
                  f"{f'; {csv} has them all' if csv else ''}", highlight=False)
    if advice and s.rasa_url is None and s.nlu_model is None:
        _print_advice(kit.data, s.nlu_config)


def _print_advice(data: object, config: dict[str, object] | None) -> None:
    from nlu.advice import advise

    with console.status("cross-validating the NLU examples…"):
        found = advise(data, config)  # type: ignore[arg-type]
    lines = found.lines()
    cv = found.cv_accuracy
    if cv:
        console.print("held-out accuracy per intent: " + ", ".join(
            f"{i} {a:.0%}" for i, a in cv.items()), highlight=False)
    for line in lines:
        console.print(f"[yellow]advice[/yellow] {line}", highlight=False)
    if not lines:
        console.print("no advice: every intent has enough distinct examples, each read "
                      "right when held out", highlight=False)


def call(
    sip_uri: Annotated[str, typer.Argument(help="sip:user@host[:port] or a number.")],
    script: Annotated[Path, typer.Option(help="Directory with script.yml and nlu.yml.")],
    field: Annotated[list[str] | None, typer.Option(help="Contact field name=value.")] = None,
    record: Annotated[Path | None, typer.Option(help="Write the call to this WAV.")] = None,
    ring_timeout: Annotated[float, typer.Option()] = 25.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Place one call with a script and print the transcript (no database, no broker)."""
    from dialer.call.runtime import CallRuntime
    from dialer.conversation.kit import load_kit
    from dialer.settings import DialerSettings
    from voices.asr import load_model, resolve_model_path
    from voices.settings import VoiceSettings

    setup_logging()
    fields = dict(f.split("=", 1) for f in field or [] if "=" in f)
    guarded(load_kit, script)
    voices = VoiceSettings()
    model = load_model(guarded(resolve_model_path, voices.vosk_model, voices.language))
    rt = guarded(CallRuntime, DialerSettings(), voices, model)
    try:
        outcome = guarded(rt.call, sip_uri, str(script), fields, recording=record,
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
    line: Annotated[str, typer.Option(
        help="The line the callers are on: codec, noise, loss, e.g. pcmu+street@15+loss@2 "
             "(default: clean, the robot's first codec).")] = "clean",
) -> None:
    """Answer calls as simulated customers, or as agents' phones (answer: agent)."""
    import signal

    from dialer.sandbox.personas import load_personas
    from dialer.sandbox.phone_lines import parse_line
    from dialer.sandbox.simulator import CustomerSimulator
    from voices.settings import VoiceSettings
    from voices.tts import Pyttsx3Tts

    setup_logging()
    people = guarded(load_personas, personas)
    spec = guarded(parse_line, line, "--line")
    v = VoiceSettings()
    # espeak-ng's own default pace; pyttsx3 would speak faster, and less clearly.
    tts = Pyttsx3Tts(v.tts_voice, rate=175, cache_dir=v.prompt_cache_dir)
    v.prompt_cache_dir.mkdir(parents=True, exist_ok=True)
    trunk = None
    if registrar:
        from dialer.telephony.trunk import TrunkConfig

        if not username:
            fail("--registrar needs --username (and --password)")
        trunk = TrunkConfig(host=registrar, registrar=f"sip:{registrar}", username=username,
                            password=password, caller_id=username)
    sim = guarded(CustomerSimulator, people, tts, port=port, rtp_port=rtp_port, trunk=trunk,
                 record_dir=record_dir, line=spec)
    signal.signal(signal.SIGTERM, lambda *_: sim.stop())
    print(json.dumps({"sim": None, "event": "ready", "port": port,
                      "personas": len(people), "line": spec.name}), flush=True)
    try:
        sim.serve(duration)
    except KeyboardInterrupt:
        pass
    finally:
        sim.shutdown()
