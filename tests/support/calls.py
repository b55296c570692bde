"""Finished calls written straight into a test's database, for the pages that show them
(the explorer, a call's page, the CDR, the dashboard)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from campaigns import attempts, dispatch, lifecycle, list_imports
from campaigns.db import Database
from campaigns.models import CallAttempt, Campaign, Contact
from tests.support.procs import DEMO


def campaign_and_contact(s: Session, name: str = "봄 캠페인",
                         phone: str = "+821055550123") -> tuple[int, int]:
    """A bare campaign (no script) with one contact: their ids."""
    campaign = Campaign(name=name, script_dir="/x")
    s.add(campaign)
    s.flush()
    contact = Contact(campaign_id=campaign.id, phone=phone, fields={})
    s.add(contact)
    s.flush()
    return campaign.id, contact.id


def finished_call(s: Session, campaign_id: int, contact_id: int, dialed: datetime,
                  **extra: Any) -> CallAttempt:
    """A call dialed at `dialed`, answered 4 s later and ended a minute after that, as
    interested (each field can be given otherwise)."""
    fields: dict[str, Any] = {
        "attempt_no": 1, "status": "completed", "created_at": dialed - timedelta(seconds=1),
        "dialed_at": dialed, "answered_at": dialed + timedelta(seconds=4),
        "ended_at": dialed + timedelta(seconds=64), "sip_status": 200, "sip_reason": "OK",
        "disposition": "interested", **extra}
    call = CallAttempt(campaign_id=campaign_id, contact_id=contact_id, **fields)
    s.add(call)
    s.flush()
    return call


def handed_off_attempt(db: Database, work: Path, agent: str, name: str) -> int:
    """A real call attempt of a new dry-run campaign `name` that the robot handed to
    `agent`, as the worker stores it: its id."""
    csv = work / f"list-{name}.csv"
    csv.write_text("name,phone\n한지민,010-5100-0001\n", encoding="utf-8")
    cid = list_imports.create_campaign(db, name=name, script_dir=DEMO, csv_path=csv,
                                       uploads_dir=work / "up", dry_run=True).campaign_id
    lifecycle.start_campaign(db, cid)
    [attempt] = dispatch.claim_due(db, sandbox=True, only_campaign=cid)
    attempts.finish_attempt(db, attempt, disposition="handoff", sip_status=200,
                            sip_reason="OK", reason="customer intent request_human",
                            handoff=True, end_node="handoff", recording=None,
                            handoff_info={"handoff_result": "connected", "agent": agent})
    return attempt
