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
