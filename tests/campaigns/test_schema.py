"""A database whose schema is not what the code needs is refused with the fix, not
failed on at every call."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from campaigns.db import Database, SchemaError


def test_a_database_missing_a_column_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "dialer.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    assert db.schema_problems() == []
    db.engine.dispose()
    with sqlite3.connect(path) as con:  # as if a migration was changed after it ran
        con.execute("ALTER TABLE call_attempt DROP COLUMN slots")
    again = Database(f"sqlite:///{path}")
    with pytest.raises(SchemaError, match=r"lacks call_attempt\.slots although Alembic says "
                                          r"it is up to date; back it up"):
        again.migrate()


def test_an_old_database_with_data_upgrades_and_keeps_it(db_url: str) -> None:
    """A database made by an older release, with campaigns, contacts and calls in it,
    migrates to the newest schema on both backends (SQLite copies tables to alter them,
    which its foreign keys would refuse while rows point at them), and a copy left by a
    failed earlier attempt does not stop it."""
    from sqlalchemy import create_engine, text

    from campaigns.db import upgrade

    upgrade(db_url, "0003")
    engine = create_engine(db_url)
    with engine.begin() as con:
        con.execute(text(
            "INSERT INTO campaign (id, name, status, script_dir, language, region, "
            "max_concurrent, max_attempts, retry_delay_s, ring_timeout_s, created_at) "
            "VALUES (1, 'old', 'finished', '/x', 'ko', 'KR', 2, 1, 600, 25, "
            "'2026-01-01 00:00:00')"))
        for i in (1, 2):
            con.execute(text(
                "INSERT INTO contact (id, campaign_id, phone, fields, status, attempts, "
                f"next_attempt_at) VALUES ({i}, 1, '+8210000000{i}', '{{}}', 'done', 1, "
                "'2026-01-01 00:00:00')"))
        if engine.dialect.name == "sqlite":
            con.execute(text("CREATE TABLE _alembic_tmp_campaign (id INTEGER)"))
    engine.dispose()
    db = Database(db_url)
    db.migrate()
    with db.engine.connect() as con:
        assert con.execute(text("SELECT name, window_start, voice, rehearsal_of FROM campaign")
                           ).all() == [("old", "09:00", None, None)]
        assert con.execute(text("SELECT count(*) FROM contact")).scalar() == 2
        if db.engine.dialect.name == "sqlite":
            assert con.execute(text("PRAGMA foreign_key_check")).all() == []
            assert con.execute(text("PRAGMA foreign_keys")).scalar() == 1
