"""A PostgreSQL server that accepts the connection and never answers (a hung or stopped
host) is an outage within seconds, not a request held for good; the driver's own errors
count as an outage as well as SQLAlchemy's."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import campaigns.db as dbmod
from campaigns.db import Database, is_outage, retry_outage


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port whose kernel completes the TCP handshake and then nothing ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def ping(db: Database) -> None:
    with db.session() as s:
        s.execute(text("SELECT 1"))


def test_a_silent_server_is_an_outage_after_the_connect_timeout(
        silent_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbmod, "CONNECT_TIMEOUT_S", 2)
    db = Database(f"postgresql+psycopg://u@127.0.0.1:{silent_port}/x")
    start = time.monotonic()
    with pytest.raises(OperationalError) as away:
        ping(db)
    assert time.monotonic() - start < 8
    assert is_outage(away.value)


def test_the_urls_own_connect_timeout_wins(silent_port: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbmod, "CONNECT_TIMEOUT_S", 60)
    db = Database(f"postgresql+psycopg://u@127.0.0.1:{silent_port}/x?connect_timeout=2")
    start = time.monotonic()
    with pytest.raises(OperationalError):
        ping(db)
    assert time.monotonic() - start < 8


def test_the_drivers_own_connection_errors_are_an_outage() -> None:
    calls: list[int] = []

    def raw_write() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise psycopg.OperationalError("connection to server lost")
        return "stored"

    assert is_outage(psycopg.OperationalError("server closed the connection"))
    assert not is_outage(psycopg.errors.UniqueViolation("duplicate key"))
    assert retry_outage(raw_write, deadline_s=5, what="a raw write") == "stored"
    with pytest.raises(psycopg.errors.UniqueViolation):
        retry_outage(lambda: (_ for _ in ()).throw(psycopg.errors.UniqueViolation("dup")),
                     deadline_s=5, what="a duplicate")
