"""What the campaign routes share: the scripts and voices a campaign can choose, the
new/edit form's values checked (or a stored campaign as the form's values), a new
campaign's script and list checked before it is created, and a campaign as its pages
show it, or 404."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request

from campaigns.db import Database
from campaigns.lifecycle import MAX_RETRY_DELAY_S, CampaignError, schedule_options
from campaigns.queries.campaigns import campaign_view, contact_fields
from campaigns.refusals import Code, Phrase
from campaigns.settings import CampaignSettings
from campaigns.trunks import list_trunks
from dialer.web.errors import Rejected
from dialer.web.i18n import of_request

RETRY_FIELDS = ("busy", "no_answer", "failed", "machine", "dead_air")
# The form's whole-number fields, by the words of their labels.
WHOLE_NUMBERS = (("max_concurrent", 2, "Calls at once"),
                 ("max_attempts", 1, "Attempts per contact"),
                 ("retry_delay_s", 600, "Retry after"),
                 ("ring_timeout_s", 25, "Seconds to let it ring"))
# The examples shipped with the product (campaigns/examples at the checkout's root).
EXAMPLES = Path(__file__).resolve().parents[2] / "campaigns" / "examples"


def script_dirs(settings: CampaignSettings) -> list[Path]:
    """Scripts a campaign can use: the examples shipped with the product and any
    directory with script.yml + nlu.yml under DIALER_DATA_DIR/scripts."""
    roots = [EXAMPLES, settings.data_dir / "scripts"]
    return sorted(d for root in roots if root.is_dir() for d in root.iterdir()
                  if (d / "script.yml").is_file() and (d / "nlu.yml").is_file())


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


def choices(db: Database, settings: CampaignSettings,
            scripts: list[Path] | None = None) -> dict[str, Any]:
    """What the new and edit pages offer to choose from."""
    return {"scripts": script_dirs(settings) if scripts is None else scripts,
            "voices": voice_choices(), "retry_fields": RETRY_FIELDS,
            "trunks": list_trunks(db)}


def form_options(form: dict[str, str], scripts: list[Path]) -> dict[str, Any]:
    """A campaign's settings from the new/edit form, checked (CampaignError/ValueError
    say what to fix; a page says them in its reader's language). Retry delays are typed
    in minutes, kept in seconds."""
    chosen = next((d for d in scripts if str(d) == form.get("script")), None)
    if chosen is None:
        raise CampaignError("Choose one of the listed scripts.")
    voice = form.get("voice", "").strip()
    if voice and voice not in {v for v, _ in voice_choices()}:
        raise CampaignError("The voice {voice} is not installed: choose one of the list.",
                            voice=repr(voice[:40]))
    options = schedule_options(
        f"{form.get('window_start', '09:00')}-{form.get('window_end', '20:00')}",
        form_day(form, "first_day"), form_day(form, "last_day"),
        calls_per_second(form), retry_delays(form), False)
    options.pop("dry_run")  # never from a form: dry-runs are rehearsals (POST .../dry-runs)
    for key, default, label in WHOLE_NUMBERS:
        try:
            options[key] = int(form.get(key) or default)
        except ValueError:
            raise CampaignError("{field}: {value} must be a whole number.",
                                field=Phrase(label), value=repr(form.get(key, "")[:40])
                                ) from None
    return {**options, "script_dir": chosen, "voice": voice or None,
            "trunk": form.get("trunk", "").strip() or None,
            "caller_id": form.get("caller_id", "").strip() or None,
            "region": (form.get("region") or "KR").strip().upper()}


def form_day(form: dict[str, str], key: str) -> str | None:
    """The first or last day typed, checked here so that the form's words say what to fix."""
    from datetime import date

    text = (form.get(key) or "").strip()[:40]
    if not text:
        return None
    try:
        date.fromisoformat(text)
    except ValueError:
        raise CampaignError("{field}: {value} is not a date (YYYY-MM-DD).",
                            field=Phrase("First day") if key == "first_day"
                            else Phrase("Last day"), value=repr(text)) from None
    return text


def calls_per_second(form: dict[str, str]) -> float:
    text = (form.get("max_cps") or "1").strip()[:20]
    try:
        cps = float(text)
    except ValueError:
        cps = 0.0
    if not 0 < cps <= 100:  # also NaN
        raise CampaignError("New calls per second: {value} must be above 0 and at most 100.",
                            value=repr(text))
    return cps


def retry_delays(form: dict[str, str]) -> list[str]:
    """The form's retry delays (minutes, by outcome) as `outcome=seconds`."""

    out = []
    most = MAX_RETRY_DELAY_S // 60
    for k in RETRY_FIELDS:
        text = form.get(f"retry_{k}", "").strip()[:20]
        if not text:
            continue
        try:
            minutes = float(text)
        except ValueError:
            minutes = -1.0
        if not 0 <= minutes <= most:  # also NaN
            raise CampaignError("Retry after “{outcome}”: {value} must be a number of "
                                "minutes from 0 to {most}.",
                                outcome=Code(k, "disposition"), value=repr(text), most=most)
        out.append(f"{k}={round(minutes * 60)}")
    return out


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
            **{f"retry_{k}": f"{v / 60:g}" for k, v in c["retry_delays"].items()}}


def language_of(request: Request) -> str:
    """The page's language: the user's choice, else the browser's, else English."""
    return of_request(request)


def campaign_or_404(db: Database, campaign_id: int) -> dict[str, Any]:
    c = campaign_view(db, campaign_id)
    if c is None:
        raise Rejected(404, "no campaign {id}", id=campaign_id)
    return c


def check_script_fields(db: Database, script_dir: Path | str, campaign_id: int) -> None:
    """A new script for a campaign with contacts must find its {fields} in them."""
    from campaigns.import_fields import field_words, missing_fields, script_fields
    from dialer.conversation.kit import read_campaign
    from dialer.conversation.script import ScriptError

    fields = contact_fields(db, campaign_id)
    name = Path(script_dir).name
    try:
        script, _ = read_campaign(script_dir)
    except (ScriptError, OSError):
        raise CampaignError("the script {name!r} cannot be read; ask whoever looks after "
                            "the scripts to check it, or choose another one", name=name) from None
    if fields is None:
        return
    lacking = missing_fields(script_fields(script.fields_used(), script.slots), fields, {})
    if lacking:
        raise CampaignError("the script {name!r} uses the contact's {field}, but the "
                            "campaign's contacts have none; keep the script, or choose one "
                            "that uses what they have", name=name, field=field_words(lacking[0]))


def check_new_list(script_dir: Path, path: Path, filename: str, region: str,
                   max_rows: int) -> None:
    """Before a campaign is created with its list: the script can be read and the list
    is one the import can start on (a list waiting for its phone column or for a field
    mapping is; one too long, empty or unreadable is not). CampaignError says so in the
    person's words: the script by its name and the file by the name it was sent with."""
    from campaigns.importer import CsvImportError, open_call_list
    from campaigns.list_imports import MAPPING_HINTS
    from dialer.conversation.kit import read_campaign
    from dialer.conversation.script import ScriptError

    try:
        read_campaign(script_dir)
    except (ScriptError, OSError):
        raise CampaignError("the script {name!r} cannot be read; ask whoever looks after "
                            "the scripts to check it, or choose another one",
                            name=script_dir.name) from None
    try:
        open_call_list(path, default_region=region, max_rows=max_rows)
    except CsvImportError as exc:
        # (the problems the mapping step solves are left to it; the others' words are
        # the web's already: only the mapping hints name --phone-column)
        if not any(h in str(exc) for h in MAPPING_HINTS):
            raise CampaignError.again(exc, **({"path": filename} if "path" in exc.values
                                              else {})) from None
    except ValueError as exc:  # the region
        raise CampaignError.again(exc) from None


def actions(status: str) -> list[str]:
    """The status changes a person may ask for (a campaign finishes by itself)."""
    from campaigns.lifecycle import TRANSITIONS

    return [a for a in TRANSITIONS.get(status, {}) if a != "finish"]
