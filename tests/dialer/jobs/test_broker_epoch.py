"""The dispatcher notices a broker that came back empty (a Redis restarted without its
data: every queued call's task message is gone) and sends those calls again at once,
instead of after the minute a lost message otherwise waits. Against a real
redis-server, restarted on its port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.jobs import tasks as worker
from dialer.settings import DialerSettings
from tests.support.chaos import Redis
from tests.support.procs import free_udp_tcp_port


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Redis]:
    redis = Redis(tmp_path / "redis").start()
    monkeypatch.setattr(worker, "dialer_settings", DialerSettings(broker_url=redis.url))
    monkeypatch.setattr(worker, "_broker", None)
    yield redis
    redis.stop()


def test_an_emptied_broker_is_noticed_once(broker: Redis) -> None:
    assert worker.broker_emptied() is True  # the first round: nothing known yet
    assert worker.broker_emptied() is False
    assert worker.broker_emptied() is False
    broker.kill9()
    assert worker.broker_emptied() is False  # away: rely on age, do not guess
    broker.start()  # same port, empty
    assert worker.broker_emptied() is True
    assert worker.broker_emptied() is False


def test_a_broker_that_is_not_redis_or_not_there_is_never_called_emptied(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_broker", None)
    monkeypatch.setattr(worker, "dialer_settings",
                        DialerSettings(broker_url="amqp://guest@127.0.0.1//"))
    assert worker.broker_emptied() is False
    monkeypatch.setattr(worker, "dialer_settings", DialerSettings(
        broker_url=f"redis://127.0.0.1:{free_udp_tcp_port()}/0"))
    assert worker.broker_emptied() is False
