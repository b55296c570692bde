"""What the call-list and do-not-call routes (dialer/web/routes/) share: an upload
streamed to disk under its own cap, an import's state as a role may see it, and the
audit entries of do-not-call, user and trunk changes and of rejection downloads."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile

from campaigns.cdr import record_audit
from campaigns.db import Database
from campaigns.lifecycle import CampaignError
from campaigns.list_imports import check_filename
from campaigns.privacy import FULL_PHONE_ROLES, phone_for
from campaigns.settings import CampaignSettings
from dialer.web.errors import Rejected

UPLOAD_CHUNK = 1 << 20
# A run of digits and the marks written between them, starting where no word does;
# "row 12" is a row number, not a phone number.
_NUMBER = re.compile(r"(?<![\w+])(?<!row )\+?\d[\d ().\-]*\d")
_PHONE_DIGITS = 7  # fewer digits are counts, row numbers or lengths, not numbers


async def save_upload(upload: UploadFile, dest: Path, limit_mb: int) -> int:
    """Stream an upload to `dest` a chunk at a time; its size. Refused with 413 above
    `limit_mb` (DIALER_MAX_UPLOAD_MB), and with CampaignError when it is empty or its
    name cannot be kept."""
    name = check_filename(upload.filename or "upload.csv")
    limit = limit_mb << 20
    size = 0
    with dest.open("wb") as out:
        while chunk := await upload.read(UPLOAD_CHUNK):
            size += len(chunk)
            if size > limit:
                raise Rejected(413, "{name} is larger than the {limit_mb} MB a call list may "
                               "have (DIALER_MAX_UPLOAD_MB); split it and upload the parts "
                               "to the same campaign", name=name[:100], limit_mb=limit_mb)
            out.write(chunk)
    if size == 0:
        raise CampaignError("{name} is empty", name=name[:100])
    return size


def upload_tmp_dir(settings: CampaignSettings) -> tempfile.TemporaryDirectory[str]:
    """Where an upload is streamed before it is kept: beside the kept uploads, so
    keeping it is a rename (queue_import(move=True)), and whatever is refused goes."""
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".receiving-", dir=settings.uploads_dir)


def mask_numbers(role: str, text: str | None) -> str | None:
    """`text` with every phone number in it as `role` may see it (campaigns/privacy.py):
    reasons and messages quote numbers ("+8210… is already in this campaign")."""
    if text is None or role in FULL_PHONE_ROLES:
        return text

    def one(found: re.Match[str]) -> str:
        run = found.group()
        if sum(ch.isdigit() for ch in run) < _PHONE_DIGITS:
            return run
        return phone_for(role, run) or run

    return _NUMBER.sub(one, text)


# The command line's words in a file's problem, as a web page says them.
CLI_WORDS = (("; pass one of them to --phone-column", "; choose one of them"),
             ("pass --phone-column with the one to call", "choose the one to call"),
             (" or pass --phone-column", " or choose the phone column"))


def for_people(text: str | None) -> str | None:
    """A file's problem without the command line's options in it."""
    if text is None:
        return None
    for cli, web in CLI_WORDS:
        text = text.replace(cli, web)
    return text


def import_for(role: str, status: dict[str, Any]) -> dict[str, Any]:
    """An import's state (campaigns.service.import_status) as `role` may see it: the
    phone cell and any number in a reason or the message masked for masked roles, and
    the message in the web's words (for_people)."""
    status = {**status, "message": for_people(status["message"])}
    if role in FULL_PHONE_ROLES:
        return status
    return {**status, "message": mask_numbers(role, status["message"]),
            "rejections": [{**r, "value": phone_for(role, r["value"]),
                            "reason": mask_numbers(role, r["reason"])}
                           for r in status["rejections"]]}


def audit(db: Database, user: Any, action: str, detail: dict[str, Any]) -> None:
    """One audit entry (/admin/audit, admins only, who see whole numbers)."""
    record_audit(db, user.username, user.role, action, detail)


def audited_download(db: Database, user: Any, body: Iterator[str],
                     detail: dict[str, Any]) -> Iterator[str]:
    """`body`, then an audit entry of the download; also when it stops half-way
    (complete false), as CDR exports are logged."""
    complete = False
    try:
        yield from body
        complete = True
    finally:
        audit(db, user, "rejections_download", {**detail, "complete": complete})
