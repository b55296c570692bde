"""The Celery worker's Redis broker going away without taking the worker with it.

When the broker's connection drops, kombu closes the channel and puts back the messages
the worker had reserved but not yet handed to a process (its prefetch). With the server
gone that put-back needs a new connection, kombu's Redis channel has already dropped the
settings to make one, and the resulting AttributeError stops the worker for good
("Unrecoverable error"). A worker must instead reconnect when the broker returns.

Nothing is lost by giving up that put-back: a reserved `place_call` has not begun its
call, so its attempt is still queued in the campaign database, and the dispatcher sends
queued attempts again (at once when the broker came back empty, else after a minute). A
second delivery is harmless: only one passes `begin_attempt`.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("dialer.broker")

_patched = False


def survive_lost_broker() -> None:
    """Make kombu's Redis QoS give up, with one warning, a put-back of reserved messages
    that the lost connection makes impossible. Idempotent."""
    global _patched
    if _patched:
        return
    import redis
    from kombu.transport import redis as kombu_redis

    restore = kombu_redis.QoS.restore_unacked

    def restore_unacked(self: Any, client: Any = None) -> Any:
        try:
            return restore(self, client)
        except (AttributeError, redis.RedisError, OSError) as exc:
            count = len(self._delivered)
            self._delivered.clear()
            log.warning("the broker went away with %d reserved task message(s) that could "
                        "not be put back (%s); their calls are still queued and the "
                        "dispatcher sends them again", count, type(exc).__name__)
            return None

    kombu_redis.QoS.restore_unacked = restore_unacked  # type: ignore[method-assign]

    # A task that finishes after the connection dropped is acknowledged on the old
    # channel, whose settings are gone too: the same AttributeError, raised in the event
    # loop, stopped the worker ("Unrecoverable error"). Its entry in the broker's
    # unacked index is gone with a server that came back empty, or is sent again after
    # the visibility timeout, which a call's attempt and the dispatcher both take.
    ack, reject = kombu_redis.QoS.ack, kombu_redis.QoS.reject

    def lost_ack(self: Any, delivery_tag: Any, exc: Exception) -> None:
        log.warning("a task message finished after the broker went away; its "
                    "acknowledgement is dropped (%s)", type(exc).__name__)
        self._quick_ack(delivery_tag)

    def safe_ack(self: Any, delivery_tag: Any) -> Any:
        try:
            return ack(self, delivery_tag)
        except (AttributeError, redis.RedisError, OSError) as exc:
            return lost_ack(self, delivery_tag, exc)

    def safe_reject(self: Any, delivery_tag: Any, requeue: bool = False) -> Any:
        try:
            return reject(self, delivery_tag, requeue)
        except (AttributeError, redis.RedisError, OSError) as exc:
            return lost_ack(self, delivery_tag, exc)

    kombu_redis.QoS.ack = safe_ack  # type: ignore[method-assign]
    kombu_redis.QoS.reject = safe_reject  # type: ignore[method-assign]
    _patched = True
