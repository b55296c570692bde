"""A call list's columns matched to the fields its campaign's script uses ({name} in a
prompt): which fields no column names, which column obviously holds one, and the
mapping a person chose, kept beside the stored upload until its import runs.

A list whose headers do not name a field the script needs (say `이름` for `name`)
waits for the person to map a column to it: an obvious column is proposed, never used
unasked, and never proposed when two columns could be meant. The chosen mapping is a
small JSON file next to the stored upload (`<upload>.fields.json`), written by
claim_mapping and read by the import, so no schema change is needed; the retention
rule (campaigns/uploads.py) deletes it with the upload. Imported contacts carry the
script's field names, with the mapped column's value.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Collection, Mapping
from pathlib import Path

from sqlalchemy import update

from campaigns.db import Database
from campaigns.importer import MAX_COLUMN_NAME
from campaigns.lifecycle import CampaignError
from campaigns.models import ImportBatch
from campaigns.phones import alias_key
from campaigns.refusals import Phrase

SIDECAR = ".fields.json"
MAX_FIELDS = 50  # fields a mapping may name: a script's prompts use a handful
MAX_SIDECAR_BYTES = 64 << 10

# Headers people give a field, compared as campaigns.phones.alias_key does.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "customername", "customer", "이름", "성함", "고객명",
             "성명", "고객이름", "고객성함", "姓名", "名字", "客户名", "客户姓名", "氏名"),
    "city": ("city", "town", "도시", "지역", "시", "城市"),
    "plan": ("plan", "요금제", "상품", "套餐"),
}


def script_fields(used: Mapping[str, list[str]], slots: Collection[str]) -> list[str]:
    """The contact fields a script's prompts use (Script.fields_used), without the
    slots it fills from the customer's replies."""
    return [f for f in used if f not in slots]


def propose(fields: list[str], columns: list[str]) -> dict[str, str]:
    """An obvious column for each field: the one named like it, else the one header
    known to mean it (이름 for name). A field two columns could hold gets none."""
    out: dict[str, str] = {}
    for f in fields:
        same = [c for c in columns if c.casefold() == f.casefold()]
        if not same:
            keys = {alias_key(a) for a in (f, *FIELD_ALIASES.get(f.casefold(), ()))}
            same = [c for c in columns if alias_key(c) in keys]
        if len(same) == 1:
            out[f] = same[0]
    return out


def missing_fields(fields: list[str], columns: Collection[str],
                   mapping: Mapping[str, str]) -> list[str]:
    """Fields neither named by a column nor mapped to one of the list's columns."""
    return [f for f in fields if f not in columns and mapping.get(f) not in columns]


def apply_mapping(mapping: Mapping[str, str], fields: dict[str, str]) -> dict[str, str]:
    """A contact's cells under the script's field names: each mapped column's value
    moves to its field; every other column stays as it was."""
    if not mapping:
        return fields
    used = set(mapping.values())
    out = {k: v for k, v in fields.items() if k not in used}
    out.update({f: fields.get(c, "") for f, c in mapping.items()})
    return out


def field_words(field: str) -> str:
    return field.replace("_", " ").strip() or field


def missing_sentence(field: str, where: list[str], start: str) -> Phrase:
    """Why a list waits for its mapping, in the words of the person importing it (the
    same texts as dialer/web/import_mapping.py's)."""
    if f"node {start!r}" in where:
        return Phrase("The script's first prompt uses the contact's {field}, but no column "
                      "of the list is mapped to it; choose the column that holds it",
                      field=field_words(field))
    return Phrase("A prompt of the script uses the contact's {field}, but no column of the "
                  "list is mapped to it; choose the column that holds it",
                  field=field_words(field))


def sidecar(stored: Path | str) -> Path:
    return Path(f"{stored}{SIDECAR}")


def read_mapping(stored: Path | str) -> dict[str, str]:
    """The mapping chosen for an upload ({} when none was, or it cannot be read)."""
    path = sidecar(stored)
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return {}
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def check_mapping(fields: Mapping[str, str]) -> dict[str, str]:
    """A mapping as sent (field -> column), blank choices left out; CampaignError
    says what is wrong with one sent by hand."""
    chosen = {f.strip(): c.strip() for f, c in fields.items() if c.strip()}
    if len(chosen) > MAX_FIELDS:
        raise CampaignError("{n} fields were sent; a script uses at most {most}",
                            n=len(chosen), most=MAX_FIELDS)
    for f, c in chosen.items():
        if len(c) > MAX_COLUMN_NAME or len(f) > MAX_COLUMN_NAME:
            raise CampaignError("a column name has at most {most} characters; choose one of "
                                "the file's columns", most=MAX_COLUMN_NAME)
    return chosen


def claim_mapping(db: Database, batch_id: int, phone_column: str,
                  fields: Mapping[str, str] | None = None) -> bool:
    """Queue an import that waits for its mapping, with the phone column and the
    field -> column mapping chosen; False when it is not waiting (any more). Like the
    dispatcher's claims the UPDATE checks the status it changes, so of several
    requests at once exactly one wins, and only the winner's mapping is kept."""
    column = phone_column.strip()
    if not column:
        raise CampaignError("choose the column that holds the phone numbers")
    if len(column) > MAX_COLUMN_NAME:
        raise CampaignError("the column name sent is {n:,} characters long, but a column "
                            "name has at most {most} characters; choose one of the file's "
                            "columns", n=len(column), most=MAX_COLUMN_NAME)
    chosen = check_mapping(fields or {})
    with db.session() as s:
        batch = s.get(ImportBatch, batch_id)
        stored = batch.stored_path if batch is not None else ""
    draft = sidecar(f"{stored}.{uuid.uuid4().hex}") if stored else None
    if draft is not None:
        draft.write_text(json.dumps(chosen, ensure_ascii=False), encoding="utf-8")
    try:
        with db.session() as s:
            claimed = bool(s.execute(update(ImportBatch).where(
                ImportBatch.id == batch_id, ImportBatch.status == "needs_mapping").values(
                status="queued", progress=0.0, message=None,
                phone_column=column)).rowcount)  # type: ignore[attr-defined]
        if claimed and draft is not None:
            os.replace(draft, sidecar(stored))
        return claimed
    finally:
        if draft is not None:
            draft.unlink(missing_ok=True)
