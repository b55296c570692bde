"""retry_outage waits out a database that is away and nothing else: a refused statement
is raised at once, an outage past the deadline is raised, a write that got through is
returned. Against a real PostgreSQL port with nothing listening, and real errors."""

from __future__ import annotations

import itertools
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from campaigns.db import Database, is_outage, retry_outage
from tests.support.procs import free_udp_tcp_port


def refused_db() -> Database:
    return Database(f"postgresql+psycopg://u@127.0.0.1:{free_udp_tcp_port()}/x")


def ping(db: Database) -> int:
    with db.session() as s:
        return int(s.execute(text("SELECT 1")).scalar_one())


def test_a_refused_connection_is_an_outage_and_a_refused_statement_is_not() -> None:
    with pytest.raises(OperationalError) as away:
        ping(refused_db())
    assert is_outage(away.value)
    assert not is_outage(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_outage(ValueError("not a database error"))


def test_retry_outage_waits_until_the_database_answers() -> None:
    away, calls = refused_db(), []

    def write() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            ping(away)  # raises OperationalError: connection refused
        return "stored"

    assert retry_outage(write, deadline_s=10, what="a turn") == "stored"
    assert len(calls) == 3
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # backing off


def test_retry_outage_gives_up_at_the_deadline_and_never_retries_other_errors() -> None:
    away, start = refused_db(), time.monotonic()
    with pytest.raises(OperationalError):
        retry_outage(ping, away, deadline_s=1.0, what="a turn")
    assert time.monotonic() - start < 3.0
    calls = []

    def duplicate() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        retry_outage(duplicate, deadline_s=10, what="a turn")
    assert calls == [1]
