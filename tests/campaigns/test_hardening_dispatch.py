"""Issue 15, defects 1, 2 and 8 on a real database (SQLite and PostgreSQL):

1. a dry-run is claimed and dialed by a sandbox worker only; a production dispatcher
   never claims it (no call window applies to it) and a production worker refuses it;
2. a campaign's trunk is a name from the admins' list and its caller ID one the trunk
   allows; no host:port, no SIP URI text, no `*` realm with credentials;
8. retry delays per disposition are bounded like retry_delay_s, and a stored one out of
   bounds never keeps an attempt open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from campaigns import attempts, dispatch, lifecycle, trunks
from campaigns.db import Database
from campaigns.lifecycle import CampaignError
from campaigns.models import CallAttempt, Campaign, Contact
from campaigns.statuses import AttemptStatus, ContactStatus
from dialer.settings import DialerSettings
from tests.campaigns.test_dispatch_rules import campaign, make_db, seoul

THREE_AM = seoul(2027, 3, 2, 3, 0)  # a Tuesday, 03:00 in Seoul: nobody may be called


def test_a_production_dispatcher_never_claims_a_dry_run(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-7100-0001", "010-7100-0002"], dry_run=True)
    lifecycle.start_campaign(db, cid)
    assert dispatch.claim_due(db, now=THREE_AM) == [], "production claimed a dry-run at 3 a.m."
    with db.session() as s:
        assert {c.status for c in s.scalars(select(Contact))} == {ContactStatus.PENDING}
    # The rehearsal's own (sandbox) dispatcher does, bound to its campaign if asked.
    assert dispatch.claim_due(db, now=THREE_AM, sandbox=True, only_campaign=cid + 1) == []
    assert len(dispatch.claim_due(db, now=THREE_AM, sandbox=True, only_campaign=cid)) == 2


def test_a_sandbox_dispatcher_never_claims_a_real_campaign(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-7150-0001"])
    lifecycle.start_campaign(db, cid)
    noon = seoul(2027, 3, 2, 12, 0)
    assert dispatch.claim_due(db, now=noon, sandbox=True) == []
    assert len(dispatch.claim_due(db, now=noon)) == 1


def test_a_production_worker_refuses_a_dry_run_attempt(tmp_path: Path, db_url: str) -> None:
    """However the attempt reached it (an old queue, a hand-sent task), a production
    worker gives it back undialed, and the contact is as it was."""
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-7200-0001"], dry_run=True)
    lifecycle.start_campaign(db, cid)
    [attempt] = dispatch.claim_due(db, now=THREE_AM, sandbox=True)
    why = dispatch.dial_check(db, attempt, now=THREE_AM)
    assert why is not None and why.startswith("refused: a dry-run"), why
    with db.session() as s:
        assert s.get(CallAttempt, attempt) is None
        contact = s.scalars(select(Contact)).one()
        assert (contact.status, contact.attempts) == (ContactStatus.PENDING, 0)
    # Nor is it sent again by the production dispatcher's sweep of lost messages.
    [again] = dispatch.claim_due(db, now=THREE_AM, sandbox=True)
    with db.session() as s:
        s.execute(update(CallAttempt).values(created_at=datetime.now(UTC) - timedelta(hours=1)))
    assert dispatch.stale_queued(db) == []
    assert dispatch.stale_queued(db, sandbox=True) == [again]
    assert dispatch.dial_check(db, again, now=THREE_AM, sandbox=True) is None


def test_marketing_cannot_make_a_campaign_a_dry_run(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-7250-0001"])
    with pytest.raises(CampaignError, match="cannot change dry_run"):
        lifecycle.update_campaign(db, cid, {"dry_run": True})


def test_a_sandbox_worker_refuses_to_start_with_a_trunk_off_this_machine() -> None:
    ok = DialerSettings(sandbox=True, sip_trunk="127.0.0.1:5070")
    assert ok.sandbox_problem() is None
    assert DialerSettings(sandbox_campaign=3, sip_trunk="[::1]:5070").sandbox_problem() is None
    far = DialerSettings(sandbox=True, sip_trunk="sip.carrier.example:5060")
    assert "DIALER_SIP_TRUNK is sip.carrier.example:5060" in str(far.sandbox_problem())
    # A test trunk on loopback (Kamailio) may ask for credentials: they stay here.
    local = DialerSettings(sandbox=True, sip_trunk="127.0.0.1:5060", sip_username="acme",
                           sip_registrar="sip:127.0.0.1:5060")
    assert local.sandbox_problem() is None
    for key, value in (("sip_registrar", "sip:pbx.carrier.example"),
                       ("sip_outbound_proxy", "sip:10.1.2.3:5060;lr")):
        problem = DialerSettings.model_validate(
            {"sandbox": True, "sip_trunk": "127.0.0.1", key: value}).sandbox_problem()
        assert f"DIALER_{key.upper()}" in str(problem)
    assert DialerSettings(sip_trunk="sip.carrier.example").sandbox_problem() is None


# -- defect 2: trunks ----------------------------------------------------------------

def _trunk(db: Database, name: str = "acme", **fields: Any) -> None:
    base: dict[str, Any] = {"host": "sip.acme.example:5060", "caller_ids": ["+8215880000"],
                            "username": "robot", "realm": "sip.acme.example"}
    trunks.save_trunk(db, name, {**base, **fields}, by="admin", password="s3cret-pass")


@pytest.mark.parametrize("trunk", ["evil.example:5060", "127.0.0.1:6379", "10.0.0.5"])
def test_a_campaign_cannot_point_the_trunk_at_a_host(tmp_path: Path, db_url: str,
                                                     trunk: str) -> None:
    db = make_db(db_url)
    _trunk(db)
    with pytest.raises(CampaignError, match="not a trunk's name|no trunk named"):
        campaign(db, tmp_path, ["010-7300-0001"], trunk=trunk)
    cid = campaign(db, tmp_path, ["010-7300-0002"])
    with pytest.raises(CampaignError, match="not a trunk's name|no trunk named"):
        lifecycle.update_campaign(db, cid, {"trunk": trunk})
    lifecycle.update_campaign(db, cid, {"trunk": "acme", "caller_id": "+8215880000"})
    with db.session() as s:
        c = s.get(Campaign, cid)
        assert c is not None and (c.trunk, c.caller_id) == ("acme", "+8215880000")


@pytest.mark.parametrize("caller_id", [
    "+8215889999",  # well formed, but not one the trunk allows
    "robot@evil.example>;tag=1",  # SIP header text
    "sip:+821012345678@evil.example",
    "+82 1588 0000\r\nX-Evil: 1",
    "1588-0000",
])
def test_caller_ids_are_plus_digits_from_the_trunks_list(tmp_path: Path, db_url: str,
                                                         caller_id: str) -> None:
    db = make_db(db_url)
    _trunk(db)
    with pytest.raises(CampaignError, match="caller ID"):
        campaign(db, tmp_path, ["010-7400-0001"], trunk="acme", caller_id=caller_id)
    # Without a trunk a campaign takes the workers' caller ID; it cannot choose one.
    with pytest.raises(CampaignError, match="caller ID"):
        campaign(db, tmp_path, ["010-7400-0002"], caller_id="+8215880000")


def test_trunk_credentials_answer_one_realm_and_are_never_shown(db_url: str) -> None:
    db = make_db(db_url)
    with pytest.raises(trunks.TrunkError, match="realm"):
        _trunk(db, realm="*")
    with pytest.raises(trunks.TrunkError, match="realm"):
        _trunk(db, realm=None)
    with pytest.raises(trunks.TrunkError, match="host"):
        _trunk(db, host="sip:acme@evil.example")
    with pytest.raises(trunks.TrunkError, match="caller ID"):
        _trunk(db, caller_ids=["+8215880000", "<sip:x@y>"])
    _trunk(db)
    [shown] = trunks.list_trunks(db)
    assert "password" not in shown and shown["has_password"] is True
    assert "s3cret-pass" not in repr(shown)
    # Editing without a password keeps the old one; the worker gets it.
    trunks.save_trunk(db, "acme", {"host": "sip2.acme.example", "caller_ids": ["+8215880000"],
                                   "username": "robot", "realm": "sip.acme.example"}, by="admin")
    got = trunks.for_call(db, "acme")
    assert (got["host"], got["password"], got["realm"]) == ("sip2.acme.example", "s3cret-pass",
                                                            "sip.acme.example")


def test_a_trunk_in_use_keeps_its_campaigns_caller_ids(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    _trunk(db)
    campaign(db, tmp_path, ["010-7500-0001"], trunk="acme", caller_id="+8215880000")
    with pytest.raises(trunks.TrunkError, match="campaign"):
        _trunk(db, caller_ids=["+8215881111"])
    with pytest.raises(trunks.TrunkError, match="used by campaign"):
        trunks.delete_trunk(db, "acme")
    assert trunks.list_trunks(db)[0]["caller_ids"] == ["+8215880000"]


def test_the_worker_dials_the_named_trunk_with_its_own_credentials(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dialer.jobs import tasks as worker

    db = make_db(db_url)
    _trunk(db)
    cid = campaign(db, tmp_path, ["010-7600-0001"], trunk="acme", caller_id="+8215880000")
    ctx = {"trunk": "acme", "caller_id": "+8215880000", "campaign_id": cid}
    monkeypatch.setattr(worker, "dialer_settings",
                        DialerSettings(sip_username="prod", sip_password="prod-secret"))
    t = worker.trunk_config(db, ctx)
    assert (t.host, t.username, t.password, t.realm, t.caller_id) == (
        "sip.acme.example:5060", "robot", "s3cret-pass", "sip.acme.example", "+8215880000")
    assert t.dial_uri("+821076000001") == "sip:+821076000001@sip.acme.example:5060"
    # A sandbox worker dials its loopback simulator whatever the campaign names.
    monkeypatch.setattr(worker, "dialer_settings",
                        DialerSettings(sandbox=True, sip_trunk="127.0.0.1:5099"))
    assert worker.trunk_config(db, ctx).host == "127.0.0.1:5099"


# -- defect 8: retry delays ----------------------------------------------------------

@pytest.mark.parametrize("delays", [{"busy": 10**30}, {"busy": -1}, {"busy": 30 * 86400 + 1},
                                    {"busy": "soon"}, {"busy": 1.5}, {"busy": True},
                                    {"interested": 60}, ["busy", 60]])
def test_retry_delays_are_bounded(tmp_path: Path, db_url: str, delays: Any) -> None:
    db = make_db(db_url)
    with pytest.raises(CampaignError, match="retry delay"):
        campaign(db, tmp_path, ["010-7700-0001"], retry_delays=delays)
    cid = campaign(db, tmp_path, ["010-7700-0002"])
    with pytest.raises(CampaignError, match="retry delay"):
        lifecycle.update_campaign(db, cid, {"retry_delays": delays})
    with pytest.raises(CampaignError, match="retry"):
        lifecycle.schedule_options("09:00-20:00", None, None, 1.0,
                                 [f"busy={10**30}"], False)
    with pytest.raises(CampaignError, match="retry"):
        lifecycle.schedule_options("09:00-20:00", None, None, 1.0, ["busy=" + "9" * 5000], False)


def test_an_attempt_closes_whatever_delay_was_stored(tmp_path: Path, db_url: str) -> None:
    """A row written before the bounds (or by hand) must not keep the line busy."""
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-7800-0001"], max_attempts=3, dry_run=True)
    with db.session() as s:
        s.execute(update(Campaign).values(retry_delays={"busy": 10**30}))
    lifecycle.start_campaign(db, cid)
    [a] = dispatch.claim_due(db, sandbox=True)
    attempts.finish_attempt(db, a, disposition="busy", sip_status=486, sip_reason="Busy Here",
                           reason=None, handoff=False, end_node=None, recording=None)
    with db.session() as s:
        attempt = s.get(CallAttempt, a)
        assert attempt is not None and attempt.status == AttemptStatus.COMPLETED
        contact = s.scalars(select(Contact)).one()
        wait = contact.next_attempt_at.replace(tzinfo=UTC) - datetime.now(UTC)
        assert contact.status == ContactStatus.PENDING
        assert timedelta(days=29) < wait <= timedelta(days=30)
