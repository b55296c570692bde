"""The call's bookkeeping thread through a database outage: turns are stored in order once
the database answers again; an outage longer than DIALER_DB_OUTAGE_S loses the turns said
during it, each named in one line, costs that wait once (not once per turn), and the next
turn after the database is back is stored; a refused statement is not retried."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from dialer.call.books import Bookkeeper


@dataclass(frozen=True)
class FakeTurn:
    seq: int


def refused() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


class Store:
    """A database that is away until `back()` (or for `fail` calls), recording order."""

    def __init__(self, fail: int = 0) -> None:
        self.fail, self.away = fail, False
        self.tries: list[int] = []
        self.stored: list[int] = []

    def on_turn(self, turn: FakeTurn) -> None:
        self.tries.append(turn.seq)
        if self.away or self.fail > 0:
            self.fail -= 1
            raise refused()
        self.stored.append(turn.seq)


def test_turns_wait_out_a_short_outage_in_order() -> None:
    store = Store(fail=3)
    books = Bookkeeper(outage_s=10)
    for seq in (1, 2, 3):
        books.submit(store.on_turn, FakeTurn(seq))
    books.close()
    assert store.stored == [1, 2, 3]
    assert store.tries == [1, 1, 1, 1, 2, 3]  # turn 2 never overtook turn 1


def test_a_long_outage_costs_the_wait_once_and_names_each_lost_turn(
        caplog: pytest.LogCaptureFixture) -> None:
    store = Store()
    store.away = True
    caplog.set_level(logging.INFO, logger="dialer")
    books = Bookkeeper(outage_s=1.0)
    start = time.monotonic()
    for seq in range(1, 7):
        books.submit(store.on_turn, FakeTurn(seq))
    time.sleep(2.0)  # turn 1 has given up by now; the others had one try each
    store.away = False
    books.submit(store.on_turn, FakeTurn(7))
    books.close(timeout=10)
    # Before: each turn waited its own outage_s, so six turns held the call's close()
    # for six times DIALER_DB_OUTAGE_S.
    assert time.monotonic() - start < 4.0
    assert store.stored == [7]
    lost = [r.getMessage() for r in caplog.records if "is lost" in r.getMessage()]
    assert len(lost) == 6, lost
    assert all("database did not answer for 1 s" in m and "DIALER_DB_OUTAGE_S" in m
               for m in lost), lost
    assert [f"(turn {n})" in m for n, m in zip(range(1, 7), lost, strict=True)] == [True] * 6
    assert not any(r.exc_info for r in caplog.records)  # a sentence, not six tracebacks


def test_after_a_lost_turn_the_database_gets_its_full_wait_again() -> None:
    store = Store()
    store.away = True
    books = Bookkeeper(outage_s=1.0)
    books.submit(store.on_turn, FakeTurn(1))  # lost after 1 s
    time.sleep(1.5)
    store.away = False
    books.submit(store.on_turn, FakeTurn(2))  # stored: the outage is over
    time.sleep(0.2)
    store.fail = 2  # a new short outage: waited out again, not given up at once
    books.submit(store.on_turn, FakeTurn(3))
    books.close(timeout=10)
    assert store.stored == [2, 3]


def test_a_refused_statement_is_not_retried_and_the_next_turn_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    tries: list[int] = []

    def on_turn(turn: FakeTurn) -> None:
        tries.append(turn.seq)
        if turn.seq == 1:
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    books = Bookkeeper(outage_s=10)
    books.submit(on_turn, FakeTurn(1))
    books.submit(on_turn, FakeTurn(2))
    books.close(timeout=5)
    assert tries == [1, 2]
    assert any("what it stored is lost: turn 1" in r.getMessage() for r in caplog.records)


def test_the_books_are_named_after_the_call() -> None:
    names: list[str] = []

    def open_books() -> None:
        books = Bookkeeper(outage_s=1)
        books.submit(lambda: names.append(threading.current_thread().name))
        books.close(timeout=5)

    t = threading.Thread(target=open_books, name="call-42")
    t.start()
    t.join(10)
    assert names == ["call-42-bookkeeping"]
