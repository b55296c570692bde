"""The line's audio codec is kept with the call (SQLite and PostgreSQL): stored with the
outcome, read back by the call explorer's record, and a database made before the column
existed upgrades to it, its old calls without a codec."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from campaigns import attempts
from campaigns.db import Database, upgrade
from campaigns.models import CallAttempt, Campaign, Contact
from campaigns.report import call_detail


def new_attempts(db: Database, n: int) -> list[int]:
    """`n` dialed attempts of one campaign, one contact each."""
    with db.session() as s:
        campaign = Campaign(name="lines", script_dir="/x")
        s.add(campaign)
        s.flush()
        contacts = [Contact(campaign_id=campaign.id, phone=f"+82103000000{i}", fields={})
                    for i in range(n)]
        s.add_all(contacts)
        s.flush()
        calls = [CallAttempt(campaign_id=campaign.id, contact_id=c.id, attempt_no=1,
                             status="answered") for c in contacts]
        s.add_all(calls)
        s.flush()
        return [a.id for a in calls]


def finish(db: Database, attempt_id: int, codec: str | None = None) -> None:
    attempts.finish_attempt(db, attempt_id, disposition="not_interested", sip_status=200,
                            sip_reason="OK", reason=None, handoff=False, end_node="bye",
                            recording=None, codec=codec)


def test_the_codec_is_stored_with_the_outcome_and_read_back(db: Database) -> None:
    g711, g722, silent = new_attempts(db, 3)
    finish(db, g711, codec="PCMU/8000")
    finish(db, g722, codec="G722/16000")
    finish(db, silent)  # no media flowed: no codec given
    with db.session() as s:
        assert {a.id: a.codec for a in s.query(CallAttempt)} == {
            g711: "PCMU/8000", g722: "G722/16000", silent: None}
    assert [(call_detail(db, i) or {})["codec"] for i in (g711, g722, silent)] == [
        "PCMU/8000", "G722/16000", None]


def test_a_database_from_before_the_codec_upgrades_to_it(db_url: str) -> None:
    upgrade(db_url, "0012")
    engine = create_engine(db_url)
    assert "codec" not in {c["name"] for c in inspect(engine).get_columns("call_attempt")}
    with engine.begin() as con:
        con.execute(text(
            "INSERT INTO campaign (id, name, status, script_dir, language, region, "
            "max_concurrent, max_attempts, retry_delay_s, ring_timeout_s, created_at) "
            "VALUES (1, 'old', 'running', '/x', 'ko', 'KR', 2, 1, 600, 25, "
            "'2026-01-01 00:00:00')"))
        for i in (1, 2):
            con.execute(text(
                "INSERT INTO contact (id, campaign_id, phone, fields, status, attempts, "
                f"next_attempt_at) VALUES ({i}, 1, '+8210000000{i}', '{{}}', 'claimed', 1, "
                "'2026-01-01 00:00:00')"))
            con.execute(text(
                "INSERT INTO call_attempt (id, campaign_id, contact_id, attempt_no, status, "
                f"handoff, created_at, disposition) VALUES ({i}, 1, {i}, 1, :status, :no, "
                "'2026-01-01 00:00:00', :disposition)"),
                {"status": "completed" if i == 1 else "answered", "no": False,
                 "disposition": "interested" if i == 1 else None})
    engine.dispose()
    db = Database(db_url)
    db.migrate()
    assert db.schema_problems() == []
    finish(db, 2, codec="PCMA/8000")  # a call under way during the upgrade ends after it
    with db.engine.connect() as con:
        assert con.execute(text(
            "SELECT id, disposition, codec FROM call_attempt ORDER BY id")).all() == [
            (1, "interested", None), (2, "not_interested", "PCMA/8000")]
