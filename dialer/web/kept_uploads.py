"""Call lists kept across a form error: the new-campaign form that comes back with an
error (a bad call window, a name already taken, a list that cannot be read) keeps the
file it was sent, so the person does not pick it again.

The file waits in DIALER_DATA_DIR/uploads/kept under a random token, with a JSON note
beside it (its name as uploaded, who sent it, when); it is as large as an upload may be
(it was received by save_upload under its cap), taken when the form succeeds (moved
into the import, queue_import(move=True)) or replaced by another file, and deleted a
day after it was kept in any case. Only the person who sent it can use its token.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

KEPT_FOR_S = 86400  # a kept list goes a day after the form error that kept it
KEPT_PER_USER = 5  # lists one person may have kept at once: the oldest go first
_TOKEN = re.compile(r"[0-9a-f]{32}")
_NOTE_BYTES = 4096


@dataclass(frozen=True)
class KeptList:
    token: str
    path: Path
    filename: str  # as uploaded: the form shows it


def kept_dir(uploads_dir: Path) -> Path:
    return uploads_dir / "kept"


def keep(uploads_dir: Path, upload: Path, filename: str, username: str) -> KeptList:
    """Move a received upload aside under a new token; drop those past their day, and
    the sender's oldest beyond KEPT_PER_USER (forms given up on in other tabs)."""
    purge(uploads_dir)
    where = kept_dir(uploads_dir)
    where.mkdir(parents=True, exist_ok=True)
    mine = sorted((at, path.stem) for path in where.glob("*.json")
                  if (n := _note(path)) is not None and n.get("username") == username
                  and (at := _kept_at(n)) is not None)
    for _, old in mine[:max(0, len(mine) - KEPT_PER_USER + 1)]:
        drop(uploads_dir, old)
    token = secrets.token_hex(16)
    path = where / f"{token}.csv"
    os.replace(upload, path)
    (where / f"{token}.json").write_text(json.dumps(
        {"filename": filename, "username": username, "kept_at": time.time()},
        ensure_ascii=False), encoding="utf-8")
    return KeptList(token, path, filename)


def find(uploads_dir: Path, token: str, username: str) -> KeptList | None:
    """The list kept under `token` for `username`; None when there is none (any more),
    or the token was not made here."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    where = kept_dir(uploads_dir)
    note = _note(where / f"{token}.json")
    path = where / f"{token}.csv"
    if note is None or note.get("username") != username or not path.is_file():
        return None
    kept_at = _kept_at(note)
    if kept_at is None or time.time() - kept_at > KEPT_FOR_S:
        drop(uploads_dir, token)
        return None
    return KeptList(token, path, str(note.get("filename") or "upload.csv"))


def drop(uploads_dir: Path, token: str) -> None:
    """Forget a kept list (its file may already have been moved into an import)."""
    if not _TOKEN.fullmatch(token or ""):
        return
    for suffix in (".csv", ".json"):
        (kept_dir(uploads_dir) / f"{token}{suffix}").unlink(missing_ok=True)


def purge(uploads_dir: Path, now: float | None = None) -> list[str]:
    """Delete the lists kept more than a day ago; their tokens."""
    where = kept_dir(uploads_dir)
    if not where.is_dir():
        return []
    now = time.time() if now is None else now
    gone = []
    for item in where.iterdir():
        token = item.name.split(".", 1)[0]
        if item.suffix not in (".csv", ".json") or not _TOKEN.fullmatch(token):
            continue
        try:
            if now - item.stat().st_mtime > KEPT_FOR_S:
                item.unlink(missing_ok=True)
                gone.append(token)
        except OSError:
            continue
    return sorted(set(gone))


def _note(path: Path) -> dict[str, object] | None:
    try:
        if path.stat().st_size > _NOTE_BYTES:
            return None
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _kept_at(note: dict[str, object]) -> float | None:
    at = note.get("kept_at")
    return float(at) if isinstance(at, (int, float)) else None
