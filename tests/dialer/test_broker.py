"""The Celery worker outlives its Redis broker (dialer/broker.py): kombu's Redis QoS,
on a channel whose connection is gone, neither puts back nor acknowledges, and says so,
instead of raising in the worker's event loop ("Unrecoverable error")."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kombu.transport import redis as kombu_redis

from dialer.broker import survive_lost_broker


class GoneChannel:
    """A channel after the broker connection dropped: asking it for a client fails the
    way kombu's does once the channel's connection settings are gone."""

    do_restore = False  # nothing to put back when kombu tidies up at the end

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        raise AttributeError("'NoneType' object has no attribute 'client'")
        yield  # pragma: no cover


@pytest.fixture
def qos() -> Any:
    survive_lost_broker()
    q: Any = kombu_redis.QoS(GoneChannel())
    q._delivered.update({"a": object(), "b": object(), "c": object()})
    return q


def test_an_ack_after_the_broker_went_away_is_dropped_with_a_warning(
        qos: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dialer.broker"):
        qos.ack("a")
        qos.reject("b")
    qos._flush()  # acknowledged tags leave the delivered ones in kombu's next flush
    assert list(qos._delivered) == ["c"]
    assert [r.getMessage() for r in caplog.records] == [
        ("a task message finished after the broker went away; its acknowledgement is "
        "dropped (AttributeError)")] * 2


def test_reserved_messages_are_given_up_when_they_cannot_be_put_back(
        qos: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dialer.broker"):
        qos.restore_unacked()
    assert not qos._delivered
    assert "3 reserved task message(s) that could not be put back" in caplog.text
