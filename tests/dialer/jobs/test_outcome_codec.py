"""The worker stores the codec the call's line used with the call's outcome (None for a
call on which no media flowed), on a real database; the call itself is a stand-in."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from campaigns import attempts
from campaigns.db import Database
from campaigns.models import CallAttempt, Campaign, Contact
from dialer.conversation.outcomes import CallOutcome
from dialer.jobs import tasks as worker


def dialed(db: Database, n: int) -> list[int]:
    with db.session() as s:
        campaign = Campaign(name="lines", script_dir="/x", status="running",
                            language=worker.voice_settings.language)
        s.add(campaign)
        s.flush()
        ids = []
        for i in range(n):
            contact = Contact(campaign_id=campaign.id, phone=f"+82105000000{i}", fields={})
            s.add(contact)
            s.flush()
            a = CallAttempt(campaign_id=campaign.id, contact_id=contact.id, attempt_no=1,
                            status="dialing")
            s.add(a)
            s.flush()
            ids.append(a.id)
        return ids


def runtime(outcome: CallOutcome) -> Any:
    """What _converse asks of the worker's runtime: no shared ACD, a call that ends so."""
    return SimpleNamespace(acd=None, settings=SimpleNamespace(resolved_acd_url=None),
                           call=lambda *args, **kwargs: outcome)


@pytest.mark.parametrize("codec", ["PCMU/8000", "G722/16000", None])
def test_the_outcomes_codec_is_stored_with_the_call(db: Database, codec: str | None) -> None:
    (attempt_id,) = dialed(db, 1)
    outcome = CallOutcome(disposition="interested" if codec else "no_answer",
                          sip_status=200 if codec else 480, codec=codec)
    ctx = attempts.attempt_context(db, attempt_id)
    got = worker._converse(db, runtime(outcome), attempt_id, ctx, trunk=None)
    assert got == {"attempt_id": attempt_id, "disposition": outcome.disposition}
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        assert a is not None and (a.status, a.codec) == ("completed", codec)
