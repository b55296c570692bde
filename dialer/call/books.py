"""A call's storage jobs (turns, the answer time) run in order on their own thread, so
a slow or restarting database never holds up the conversation."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from campaigns.db import is_outage, retry_outage

log = logging.getLogger(__name__)


class Bookkeeper:
    """Runs storage callbacks (turns, answer time) in order on their own thread, so a slow
    database never holds up the conversation; `close()` waits until all are done.

    A database outage is waited out for `outage_s` (DIALER_DB_OUTAGE_S), job after job in
    order. Past that the job is lost, said in one line naming it, and the jobs behind it
    get one try each until the database answers again: a long outage costs the call's
    books `outage_s` once, not once per turn, so `close()` stays bounded."""

    def __init__(self, outage_s: float = 120.0) -> None:
        self._outage_s = outage_s
        self._given_up = False  # an outage outlasted outage_s and has not ended yet
        self._jobs: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = \
            queue.Queue()
        # Named after the call's thread (worker: call-<attempt id>), so its lines say whose.
        self._thread = threading.Thread(
            target=self._work, name=f"{threading.current_thread().name}-bookkeeping",
            daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._jobs.put((fn, args))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args = job
            what = getattr(fn, "__name__", str(fn))
            # Which turn, never its words (logs are not for customers' speech).
            items = ", ".join(f"turn {a.seq}" if hasattr(a, "seq") else type(a).__name__
                              for a in args) or "-"
            try:
                # In order: a job waits out a database outage before the next one runs.
                retry_outage(fn, *args, deadline_s=0.0 if self._given_up else self._outage_s,
                             what=f"{self._thread.name}: {what} ({items})")
                self._given_up = False
            except Exception as exc:  # storage trouble must not kill a live call
                if is_outage(exc):
                    self._given_up = True
                    log.error("%s: %s (%s) is lost: the database did not answer for %g s "
                              "(DIALER_DB_OUTAGE_S); the call goes on", self._thread.name,
                              what, items, self._outage_s)
                else:
                    log.exception("%s: call bookkeeping failed (%s); what it stored is "
                                  "lost: %s", self._thread.name, what, items)

    def close(self, timeout: float | None = None) -> None:
        self._jobs.put(None)
        self._thread.join(self._outage_s + 30 if timeout is None else timeout)
        if self._thread.is_alive():
            log.warning("%s: storage jobs still running after the call; they go on in the "
                        "background", self._thread.name)
