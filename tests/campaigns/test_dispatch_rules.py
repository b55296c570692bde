"""The dispatcher's rules on a real database: do-not-call lists at import, claim and dial
time; call windows in the callee's zone; pacing; retry delays per disposition; the
campaign's states; opt-outs added the moment they are said; and, over random sequences of
operations, never two live attempts for one contact."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns import attempts, dispatch, dnc, lifecycle, list_imports
from campaigns.db import Database
from campaigns.lifecycle import CampaignError
from campaigns.models import CallAttempt, Contact, DncEntry
from campaigns.statuses import CampaignStatus, ContactStatus
from dialer.conversation.outcomes import TurnRecord
from tests.conftest import BACKENDS, database_url

DEMO = Path(__file__).resolve().parents[2] / "campaigns" / "examples" / "demo"
SEOUL = ZoneInfo("Asia/Seoul")


def seoul(*args: int) -> datetime:
    return datetime(*args, tzinfo=SEOUL).astimezone(UTC)  # type: ignore[misc,arg-type]


def make_db(url: str) -> Database:
    db = Database(url)
    db.migrate()
    return db


def campaign(db: Database, tmp_path: Path, phones: list[str], **kw: Any) -> int:
    csv = tmp_path / f"list{len(phones)}-{len(kw)}.csv"
    csv.write_text("name,phone\n" + "".join(f"c{i},{p}\n" for i, p in enumerate(phones)),
                   encoding="utf-8")
    kw.setdefault("max_concurrent", 100)
    kw.setdefault("max_cps", 50.0)
    summary = list_imports.create_campaign(db, name=f"rules {csv.name}", script_dir=DEMO,
                                      csv_path=csv, uploads_dir=tmp_path / "up", **kw)
    return summary.campaign_id


def test_numbers_on_a_dnc_list_are_never_imported_or_dialed(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    assert dnc.add_number(db, "010-3000-0001") == ("+821030000001", True)
    assert dnc.add_number(db, "+82 10 3000 0001") == ("+821030000001", False)
    cid = campaign(db, tmp_path, ["010-3000-0001", "010-3000-0002", "010-3000-0003"],
                   dry_run=True)
    with db.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 2
    # Put on the campaign's own list after the import: skipped at claim, never an attempt.
    dnc.add_number(db, "01030000002", campaign_id=cid, reason="asked by letter")
    lifecycle.start_campaign(db, cid)
    [attempt] = dispatch.claim_due(db, sandbox=True)
    with db.session() as s:
        blocked = s.scalar(select(Contact).where(Contact.phone == "+821030000002"))
        assert blocked is not None and blocked.status == ContactStatus.DONE
        assert blocked.last_disposition == "blocked" and not blocked.call_attempts
    # Added while the claimed call waits in the queue: caught just before dialing.
    dnc.add_number(db, "010-3000-0003", source="api", added_by="mina")
    why = dispatch.dial_check(db, attempt, sandbox=True)
    assert why is not None and "global do-not-call list (api); not dialed" in why
    with db.session() as s:
        a = s.get(CallAttempt, attempt)
        assert a is not None and a.disposition == "blocked" and a.dialed_at is None
    assert [r["phone"] for r in dnc.search(db, "3000-0003")] == ["+821030000003"]
    assert dnc.remove_number(db, "010-3000-0003") and not dnc.remove_number(db, "010-3000-0003")
    with pytest.raises(dnc.DncError, match="not a phone number"):
        dnc.add_number(db, "call me maybe")


def test_calls_wait_for_the_window_in_the_callees_zone(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-3100-0001", "+1 212 555 0123"])
    lifecycle.start_campaign(db, cid)
    # 22:00 in Seoul is 09:00 in New York (summer): New York is called, Seoul waits for
    # its morning.
    night = seoul(2027, 7, 1, 22, 0)
    [ny] = dispatch.claim_due(db, now=night)
    with db.session() as s:
        due = {c.phone: (c.status, c.next_attempt_at.replace(tzinfo=UTC))
               for c in s.scalars(select(Contact))}
    assert due["+821031000001"] == (ContactStatus.PENDING, seoul(2027, 7, 2, 9, 0))
    assert due["+12125550123"][0] == ContactStatus.CLAIMED
    assert dispatch.claim_due(db, now=seoul(2027, 7, 2, 8, 59)) == []
    [kr] = dispatch.claim_due(db, now=seoul(2027, 7, 2, 9, 0))
    assert ny != kr
    # A window that shut while the call waited in the queue: given back, not dialed.
    why = dispatch.dial_check(db, kr, now=seoul(2027, 7, 2, 20, 30))
    assert why is not None and "outside the call window" in why
    with db.session() as s:
        c = s.scalar(select(Contact).where(Contact.phone == "+821031000001"))
        assert c is not None and c.status == ContactStatus.PENDING and c.attempts == 0
        assert c.next_attempt_at.replace(tzinfo=UTC) == seoul(2027, 7, 3, 9, 0)


def test_a_time_zone_column_beats_the_numbers_zone(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    csv = tmp_path / "zones.csv"
    # A Korean mobile whose owner lives in New York, and one at home.
    csv.write_text("name,phone,timezone\nabroad,010-3300-0001,America/New_York\n"
                   "home,010-3300-0002,\n", encoding="utf-8")
    cid = list_imports.create_campaign(db, name="zones", script_dir=DEMO, csv_path=csv,
                                  uploads_dir=tmp_path / "up", max_cps=50.0).campaign_id
    lifecycle.start_campaign(db, cid)
    assert len(dispatch.claim_due(db, now=seoul(2027, 7, 1, 22, 0))) == 1  # 09:00 in New York
    with db.session() as s:
        zones = {c.phone: (c.timezones, c.status) for c in s.scalars(select(Contact))}
    assert zones["+821033000001"] == ("America/New_York", ContactStatus.CLAIMED)
    assert zones["+821033000002"] == ("Asia/Seoul", ContactStatus.PENDING)


def test_after_the_last_day_contacts_are_closed(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-3200-0001"], last_day=date(2027, 7, 1))
    lifecycle.start_campaign(db, cid)
    assert dispatch.claim_due(db, now=seoul(2027, 7, 2, 10, 0)) == []
    with db.session() as s:
        c = s.scalars(select(Contact)).one()
        assert c.status == ContactStatus.DONE and c.last_disposition == "schedule_ended"


def test_pacing_limits_new_calls_per_second(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, [f"010-3300-{i:04d}" for i in range(10)], dry_run=True,
                   max_cps=1.5)
    lifecycle.start_campaign(db, cid)
    assert len(dispatch.claim_due(db, sandbox=True, period_s=2.0)) == 3  # 1.5 a second over 2 s
    assert len(dispatch.claim_due(db, sandbox=True, period_s=4.0)) == 6


def test_retry_delay_per_disposition(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-3400-0001", "010-3400-0002"], dry_run=True,
                   max_attempts=3, retry_delay_s=600, retry_delays={"busy": 60})
    lifecycle.start_campaign(db, cid)
    a, b = dispatch.claim_due(db, sandbox=True)
    for attempt, disposition in ((a, "busy"), (b, "no_answer")):
        attempts.finish_attempt(db, attempt, disposition=disposition, sip_status=486,
                               sip_reason="x", reason=None, handoff=False, end_node=None,
                               recording=None)
    with db.session() as s:
        waits = sorted((c.next_attempt_at.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()
                       for c in s.scalars(select(Contact)))
    assert 55 < waits[0] <= 60 and 595 < waits[1] <= 600


def test_campaign_states_and_their_transitions(tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-3500-0001", "010-3500-0002"], dry_run=True)
    with pytest.raises(CampaignError, match="a draft campaign cannot pause; it can: start, stop"):
        lifecycle.change_status(db, cid, "pause")
    assert lifecycle.change_status(db, cid, "start") == CampaignStatus.RUNNING
    assert lifecycle.change_status(db, cid, "pause") == CampaignStatus.PAUSED
    assert dispatch.claim_due(db, sandbox=True) == [], "paused: nothing new is claimed"
    assert lifecycle.change_status(db, cid, "resume") == CampaignStatus.RUNNING
    assert len(dispatch.claim_due(db, sandbox=True)) == 2
    assert lifecycle.change_status(db, cid, "stop") == CampaignStatus.STOPPED
    with pytest.raises(CampaignError, match="it can: nothing"):
        lifecycle.change_status(db, cid, "resume")
    with pytest.raises(CampaignError, match="cannot start"):
        lifecycle.start_campaign(db, cid)
    allowed = {(f, a) for f, m in lifecycle.TRANSITIONS.items() for a in m}
    for state in CampaignStatus:
        for action in ("start", "pause", "resume", "stop", "finish"):
            if (state, action) in allowed:
                lifecycle.next_status(state, action)
            else:
                with pytest.raises(CampaignError):
                    lifecycle.next_status(state, action)


@pytest.mark.parametrize(("text", "source"), [("전화 하지 마세요", "opt_out"), ("DTMF 9", "dtmf")])
@pytest.mark.parametrize("dry_run", [False, True])
def test_an_opt_out_is_on_the_list_the_moment_it_is_said(tmp_path: Path, db_url: str, text: str,
                                                         source: str, dry_run: bool) -> None:
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-3600-0001"], dry_run=dry_run)
    lifecycle.start_campaign(db, cid)
    [a] = dispatch.claim_due(db, sandbox=dry_run, now=seoul(2027, 7, 1, 11, 0))
    # Heard as an opt-out but only asked about: nobody goes on the list for that.
    attempts.save_turn(db, a, TurnRecord(seq=1, speaker="customer", text=text,
                                        intent="opt_out", node="greeting",
                                        confirmation="asked"))
    with db.session() as s:
        assert s.scalars(select(DncEntry)).all() == []
    attempts.save_turn(db, a, TurnRecord(seq=1, speaker="customer", text=text,
                                        intent="opt_out", node="greeting", commits="opt_out"))
    with db.session() as s:
        entry = s.scalars(select(DncEntry)).one()
        # A simulated callee's opt-out stays with its dry-run: a persona's number on the
        # global list would keep it from the next dry-run (and from a matrix's next
        # line), and nobody real asked for it.
        scope = f"campaign:{cid}" if dry_run else "global"
        assert (entry.phone, entry.scope, entry.source) == ("+821036000001", scope, source)
    # A second say-so in the same call changes nothing.
    attempts.save_turn(db, a, TurnRecord(seq=3, speaker="customer", text=text,
                                        intent="opt_out", node="greeting", commits="opt_out"))
    with db.session() as s:
        assert s.scalar(select(func.count(DncEntry.id))) == 1


ops = st.lists(st.tuples(st.sampled_from(["claim", "finish", "release", "pause", "resume",
                                          "dnc", "dial"]),
                         st.integers(0, 9), st.sampled_from(["busy", "no_answer",
                                                             "interested", "failed"])),
               min_size=5, max_size=40)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_no_contact_ever_has_two_live_attempts(tmp_path_factory: pytest.TempPathFactory,
                                               request: pytest.FixtureRequest, backend: str,
                                               steps: list[tuple[str, int, str]]) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    db = make_db(database_url(backend, request, tmp))
    phones = [f"010-3700-{i:04d}" for i in range(6)]
    cid = campaign(db, tmp, phones, dry_run=True, max_attempts=3, retry_delay_s=0,
                   max_concurrent=4)
    lifecycle.start_campaign(db, cid)
    claimed: list[int] = []
    dnc_numbers: set[str] = set()
    for op, k, disposition in steps:
        if op == "claim":
            claimed += dispatch.claim_due(db, sandbox=True, now=datetime.now(UTC) + timedelta(seconds=1))
        elif op in ("finish", "release", "dial") and claimed:
            a = claimed.pop(k % len(claimed))
            if op == "finish":  # as the worker does: check, take, call, store
                if dispatch.dial_check(db, a) is None and attempts.begin_attempt(db, a):
                    with db.session() as s:
                        dialed = s.get(CallAttempt, a)
                        assert dialed is not None
                        assert dialed.contact.phone not in dnc_numbers, "dialed a DNC number"
                    attempts.finish_attempt(db, a, disposition=disposition, sip_status=200,
                                           sip_reason="OK", reason=None, handoff=False,
                                           end_node=None, recording=None)
            elif op == "release":
                attempts.release_attempt(db, a)
            elif dispatch.dial_check(db, a) is None:
                claimed.append(a)
        elif op in ("pause", "resume"):
            try:
                lifecycle.change_status(db, cid, op)
            except CampaignError:
                pass
        elif op == "dnc":
            dnc_numbers.add(dnc.add_number(db, phones[k % len(phones)])[0])
        with db.session() as s:
            live = s.execute(select(CallAttempt.contact_id, func.count()).where(
                CallAttempt.status.in_(dispatch.ACTIVE_ATTEMPTS))
                .group_by(CallAttempt.contact_id)).all()
            assert all(n == 1 for _, n in live), "two live attempts for one contact"
            assert len(live) <= 4, "max_concurrent"
            per_contact = s.execute(select(CallAttempt.contact_id, CallAttempt.attempt_no)
                                    .order_by(CallAttempt.contact_id, CallAttempt.attempt_no)
                                    ).all()
            seen: dict[int, list[int]] = {}
            for contact_id, no in per_contact:
                seen.setdefault(contact_id, []).append(no)
            for nos in seen.values():  # attempts numbered 1, 2, ... with no gap or repeat
                assert nos == list(range(1, len(nos) + 1)) and len(nos) <= 3


def test_a_promised_callback_is_kept_in_the_callees_window(tmp_path: Path,
                                                          db_url: str) -> None:
    """No agent came: the robot promised a callback. It falls in the call window of the
    callee's zone, the contact is due then even with no attempts left, the agent who
    spoke to this number before is preferred next time; a dry-run is not called back."""
    db = make_db(db_url)
    cid = campaign(db, tmp_path, ["010-3500-0001"], max_attempts=1)
    lifecycle.start_campaign(db, cid)
    [a] = dispatch.claim_due(db, now=seoul(2027, 7, 1, 19, 30))
    when = attempts.callback_time(db, a, seoul(2027, 7, 1, 20, 30))  # after the window
    assert when == seoul(2027, 7, 2, 9, 0)
    hc = attempts.handoff_context(db, a)
    assert hc["queue"] == f"campaign-{cid}" and hc["timezone"] == "Asia/Seoul"
    assert hc["prefer"] is None and hc["info"]["phone"] == "+821035000001"
    attempts.finish_attempt(db, a, disposition="callback", sip_status=200, sip_reason="OK",
                           reason="no agent", handoff=True, end_node="handoff",
                           recording=None, handoff_info={
                               "handoff_result": "abandoned", "callback_at": when,
                               "handoff_at": seoul(2027, 7, 1, 19, 31), "bogus": 1})
    with db.session() as s:
        c = s.scalar(select(Contact))
        att = s.get(CallAttempt, a)
        assert c is not None and att is not None
        assert c.status == ContactStatus.PENDING and c.attempts == 1
        assert c.next_attempt_at.replace(tzinfo=UTC) == when
        assert att.handoff_result == "abandoned"
    [again] = dispatch.claim_due(db, now=when)
    attempts.finish_attempt(db, again, disposition="handoff", sip_status=200, sip_reason="OK",
                           reason="request_human", handoff=True, end_node="handoff",
                           recording=None, handoff_info={"handoff_result": "connected",
                                                         "agent": "kim"})
    with db.session() as s:
        c = s.scalar(select(Contact))
        assert c is not None and c.status == ContactStatus.DONE
    # The same number in another campaign: kim, who spoke to them, is asked for first.
    other = campaign(db, tmp_path, ["010-3500-0001", "010-3500-0002"], dry_run=True)
    lifecycle.start_campaign(db, other)
    first, _ = dispatch.claim_due(db, sandbox=True)
    assert attempts.handoff_context(db, first)["prefer"] == "kim"
    assert attempts.callback_time(db, first, NOW_ANY) == NOW_ANY  # dry-run: no window
    attempts.finish_attempt(db, first, disposition="callback", sip_status=200, sip_reason="OK",
                           reason="x", handoff=True, end_node="handoff", recording=None,
                           handoff_info={"callback_at": NOW_ANY})
    with db.session() as s:
        done = s.scalar(select(Contact).where(Contact.campaign_id == other,
                                              Contact.phone == "+821035000001"))
        assert done is not None and done.status == ContactStatus.DONE


NOW_ANY = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
