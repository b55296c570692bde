"""What every `dialer` sub-command shares: the consoles, the one way to fail with a
sentence, the user errors that are reported as such (not as tracebacks), the database,
the log format of the commands that place or answer calls."""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from rich.console import Console

# Piped output (make demo | tee, CI logs) would otherwise be cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 132)


def user_errors() -> tuple[type[Exception], ...]:
    from campaigns.db import SchemaError
    from campaigns.dnc import DncError
    from campaigns.importer import CsvImportError
    from campaigns.lifecycle import CampaignError
    from campaigns.users import UserError
    from campaigns.windows import WindowError
    from dialer.conversation.script import ScriptError
    from dialer.sandbox.personas import PersonaError
    from dialer.sandbox.phone_lines import LineError
    from dialer.telephony.call import SipError
    from nlu.component import NluModelError
    from nlu.rasa_http import NluServerError
    from nlu.training_data import NluDataError
    from voices.asr import ModelNotFoundError
    from voices.tts import TtsError

    return (CsvImportError, CampaignError, ScriptError, PersonaError, SipError, NluDataError,
            ModelNotFoundError, TtsError, NluModelError, NluServerError, SchemaError,
            UserError, DncError, WindowError, LineError, FileNotFoundError)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def open_database() -> Any:
    from campaigns.db import Database
    from campaigns.settings import CampaignSettings

    db = Database(CampaignSettings().resolved_database_url())
    db.migrate()
    return db


def guarded(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except user_errors() as exc:
        fail(str(exc))


def setup_logging() -> None:
    """Log lines on standard error for the commands that run calls or a simulator."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
