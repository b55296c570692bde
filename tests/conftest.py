"""Fixtures shared by the whole suite: the database tests run on SQLite and on a private
PostgreSQL server (tests/support/postgres.py) alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from campaigns.db import Database
from tests.support import postgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    if not postgres.available():
        pytest.fail("PostgreSQL is not installed: `make test` installs Debian's postgresql")
    with postgres.postgres_server() as url:
        yield url


def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of that backend."""
    if backend == "sqlite":
        import uuid

        return f"sqlite:///{tmp_path / f'test-{uuid.uuid4().hex[:8]}.db'}"
    return postgres.fresh_database(request.getfixturevalue("pg_server"))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, request, tmp_path)


@pytest.fixture
def db(db_url: str) -> Database:
    """A new, migrated database on each backend."""
    database = Database(db_url)
    database.migrate()
    return database
