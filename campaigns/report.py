"""The campaign report: what happened to every contact and every call, turn by turn,
and the same as a given role may read it (campaigns/privacy.py): masked numbers and,
for the same roles, names shown by their first character only."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from campaigns.db import Database
from campaigns.lifecycle import get_campaign
from campaigns.models import CallAttempt, Contact
from campaigns.privacy import phone_for, scrub_text
from campaigns.queries.calls import name_for

# A call's texts that anyone may have typed or said a number into. The transcript is
# among them: customers say their number aloud (and the recogniser writes digits).
FREE_TEXT = ("reason", "error", "sip_reason", "agent_notes")


def _duration_s(a: CallAttempt) -> float:
    if a.answered_at is None or a.ended_at is None:
        return 0.0
    return round((a.ended_at - a.answered_at).total_seconds(), 2)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def call_dict(a: CallAttempt) -> dict[str, Any]:
    """One call as the reports and the call explorer show it (turns loaded)."""
    return {
        "attempt_id": a.id, "campaign_id": a.campaign_id, "phone": a.contact.phone,
        "name": a.contact.fields.get("name"), "attempt_no": a.attempt_no, "status": a.status,
        "disposition": a.disposition, "reason": a.reason, "sip_status": a.sip_status,
        "sip_reason": a.sip_reason, "duration_s": _duration_s(a), "handoff": a.handoff,
        "end_node": a.end_node, "slots": a.slots, "recording": a.recording_path,
        "error": a.error, "codec": a.codec,
        **{k: _iso(getattr(a, k)) for k in (
            "created_at", "dialed_at", "answered_at", "ended_at", "handoff_result", "agent",
            "handoff_at", "agent_ringing_at", "agent_connected_at", "callback_at",
            "agent_disposition", "agent_notes")},
        "turns": [{"seq": t.seq, "speaker": t.speaker, "node": t.node, "text": t.text,
                   "intent": t.intent, "confidence": t.confidence,
                   "asr_confidence": t.asr_confidence, "latency_ms": t.latency_ms,
                   "asr_ms": t.asr_ms, "nlu_ms": t.nlu_ms, "offset_ms": t.offset_ms,
                   "duration_ms": t.duration_ms, "processing_ms": t.processing_ms,
                   "tts_ms": t.tts_ms, "interrupted": t.interrupted,
                   "confirmation": t.confirmation, "commits": t.commits} for t in a.turns],
    }


def call_detail(db: Database, attempt_id: int) -> dict[str, Any] | None:
    """One call with its turns and its campaign's name; None when there is no such call."""
    with db.session() as s:
        a = s.scalars(select(CallAttempt).where(CallAttempt.id == attempt_id)
                      .options(selectinload(CallAttempt.turns),
                               selectinload(CallAttempt.contact))).first()
        if a is None:
            return None
        out = call_dict(a)
        out["campaign"] = get_campaign(s, a.campaign_id).name
        return out


def campaign_report(db: Database, campaign_id: int) -> dict[str, Any]:
    with db.session() as s:
        campaign = get_campaign(s, campaign_id)
        contacts = s.scalars(select(Contact).where(Contact.campaign_id == campaign_id)
                             .order_by(Contact.id)).all()
        attempts = s.scalars(
            select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
            .options(selectinload(CallAttempt.turns), selectinload(CallAttempt.contact))
            .order_by(CallAttempt.id)).all()
        calls = [call_dict(a) for a in attempts]
        return {
            "campaign": {"id": campaign.id, "name": campaign.name, "status": campaign.status},
            "contacts": [{"phone": c.phone, "name": c.fields.get("name"), "status": c.status,
                          "attempts": c.attempts, "disposition": c.last_disposition}
                         for c in contacts],
            "dispositions": dict(Counter(c.last_disposition or "pending" for c in contacts)),
            "calls": calls,
        }


def call_for(role: str, call: dict[str, Any]) -> dict[str, Any]:
    """A call (`call_dict`) as `role` may read it, changed in place: the number masked,
    and every free text, slot value and turn scrubbed for the roles that see masked
    numbers."""
    if "phone" in call:
        call["phone"] = phone_for(role, call["phone"])
    if "name" in call:
        call["name"] = name_for(role, call["name"])
    for key in FREE_TEXT:
        if key in call:
            call[key] = scrub_text(role, call[key])
    if isinstance(call.get("slots"), dict):
        call["slots"] = {k: scrub_text(role, v) if isinstance(v, str) else v
                         for k, v in call["slots"].items()}
    for turn in call.get("turns") or ():
        turn["text"] = scrub_text(role, turn.get("text"))
    return call


def report_for(role: str, report: dict[str, Any]) -> dict[str, Any]:
    """A `campaign_report` as `role` may read it (changed in place)."""
    for contact in report["contacts"]:
        contact["phone"] = phone_for(role, contact["phone"])
        contact["name"] = name_for(role, contact.get("name"))
    for call in report["calls"]:
        call_for(role, call)
    return report
