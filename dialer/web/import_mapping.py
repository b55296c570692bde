"""The mapping step of an import that waits for it: which column holds the phone
numbers and which column holds each field the campaign's script uses, the obvious ones
proposed (campaigns/import_fields.py), and the script's first prompt as the first
contact of the list would hear it with the mapping chosen.

Choices arrive as form or query fields, `phone_column` and `field.<name>` (one per
field of the script); a choice that is not one of the list's columns is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from campaigns.db import Database
from campaigns.import_fields import (
    apply_mapping,
    check_mapping,
    field_words,
    missing_fields,
    propose,
    script_fields,
)
from campaigns.importer import CsvImportError, preview
from campaigns.lifecycle import CampaignError
from campaigns.queries.campaigns import script_dir_of
from campaigns.queries.imports import stored_path
from dialer.web.i18n import translate as _t

FIELD_PREFIX = "field."
PROMPT_CHARS = 1000  # of the rendered prompt shown


@dataclass
class MappingStep:
    """What the mapping step shows."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)  # (field, in words)
    chosen: dict[str, str] = field(default_factory=dict)  # field -> column
    phone_column: str = ""
    prompt: str = ""  # the first prompt for the first contact
    missing: list[str] = field(default_factory=list)  # sentences: fields left unmapped

    def as_json(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "missing": self.missing}


def choices_of(sent: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """The phone column and the field -> column choices in a form or a query."""
    phone = sent.get("phone_column")
    fields = {k[len(FIELD_PREFIX):]: v for k, v in sent.items()
              if isinstance(k, str) and k.startswith(FIELD_PREFIX) and isinstance(v, str)}
    return (phone if isinstance(phone, str) else None), check_mapping(fields)


def mapping_for(db: Database, campaign_id: int, batch_id: int, phone_column: str | None,
                sent: dict[str, str] | None, lang: str = "en") -> MappingStep:
    """The mapping step with the choices sent (None: the proposals); CampaignError
    when a choice is not one of the list's columns. Sentences in `lang`."""
    view = MappingStep()
    try:
        view.columns, view.rows = preview(stored_path(db, batch_id))
    except (CsvImportError, OSError):
        return view  # the file is gone (retention) or unreadable: the message says so
    for chosen in ([phone_column] if phone_column else []) + list((sent or {}).values()):
        if chosen not in view.columns:
            raise CampaignError("{column} is not a column of the list; choose one of its "
                                "columns.", column=repr(chosen[:100]))
    view.phone_column = phone_column or ""
    script = _script(db, campaign_id)
    if script is None:
        return view
    used = script.fields_used()
    fields = script_fields(used, script.slots)
    view.fields = [(f, field_words(f)) for f in fields]
    view.chosen = propose(fields, view.columns) if sent is None else dict(sent)
    view.missing = [missing_sentence(f, used[f], script.start, lang)
                    for f in missing_fields(fields, view.columns, view.chosen)]
    if view.rows:
        first = dict(zip(view.columns, view.rows[0]))
        view.prompt = script.render(script.start, apply_mapping(view.chosen, first))
        view.prompt = view.prompt[:PROMPT_CHARS]
    return view


def missing_sentence(field: str, where: list[str], start: str, lang: str = "en") -> str:
    """Why the list waits for its mapping, in the words of the person importing it
    (campaigns/import_fields.py says it in English for the import's stored message)."""
    said = ("The script's first prompt uses the contact's {field}, but no column of the list "
            "is mapped to it; choose the column that holds it" if f"node {start!r}" in where
            else "A prompt of the script uses the contact's {field}, but no column of the list "
                 "is mapped to it; choose the column that holds it")
    return _t(lang, said, field=field_words(field))


def _script(db: Database, campaign_id: int) -> Any:
    from dialer.conversation.kit import read_campaign
    from dialer.conversation.script import ScriptError

    try:
        return read_campaign(script_dir_of(db, campaign_id))[0]
    except (ScriptError, OSError):
        return None
