"""Open attempts whose call process stopped: found and closed, so no call holds a line
or a campaign's concurrency slot forever.

While an attempt is dialing or answered, the process placing it writes the attempt's
`heartbeat_at` every few seconds (`Heartbeat`). The dispatcher (`reap_orphans`, every
dispatch) closes an open attempt as `interrupted` when

- its process is gone: the attempt names `host:pid`, and on this host that pid no longer
  exists (a worker killed -9 is found on the first dispatch after a new one starts), or
- its lease ran out: no heartbeat for `lease_s` (a process on another host, or one that
  hangs), judged only by a dispatcher whose own heartbeats have reached the database
  without a gap for at least `lease_s`. After a database outage every heartbeat is old;
  a dispatcher that was cut off too cannot tell a dead process from one that could not
  write, so it waits until every live process has had a whole lease to write again.

The interrupted attempt's contact follows the campaign's retry rule like any other
outcome (`service.plan_next`); the attempt says what happened and when the process was
last seen, and its `ended_at` is that moment (the callee heard nothing after it).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError

from campaigns.attempts import plan_next
from campaigns.db import Database
from campaigns.models import CallAttempt, Campaign, utcnow
from campaigns.statuses import AttemptStatus, Disposition

log = logging.getLogger("dialer.leases")
OPEN = (AttemptStatus.DIALING, AttemptStatus.ANSWERED)
# A pid that exists but has not beaten for this many leases: hung, or a reused pid.
ALIVE_PID_LEASES = 4


def process_gone(worker: str | None, host: str | None = None) -> bool:
    """True when `worker` (host:pid) names a process of this host that no longer exists;
    False when it exists or lives elsewhere (only its lease can tell then)."""
    host = host or socket.gethostname()
    name, _, pid_text = (worker or "").rpartition(":")
    if name != host or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, another user's
        return False
    return False


def beat(db: Database, attempt_ids: set[int] | list[int], now: datetime | None = None) -> None:
    """Renew the leases of this process's open attempts (a plain round trip when it has
    none, so the process still learns whether the database answers)."""
    now = now or utcnow()
    with db.session() as s:
        if attempt_ids:
            s.execute(update(CallAttempt).where(CallAttempt.id.in_(list(attempt_ids)),
                                                CallAttempt.status.in_(OPEN))
                      .values(heartbeat_at=now))
        else:
            s.execute(text("SELECT 1"))


class Heartbeat:
    """One per process: a daemon thread renewing the leases of the attempts `live()`
    returns, every `every_s`. `steady_s` is how long every beat has succeeded."""

    def __init__(self, db: Database, live: Callable[[], set[int]], every_s: float) -> None:
        self._db, self._live, self._every = db, live, every_s
        self._ok_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="attempt-heartbeat",
                                        daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def steady_s(self) -> float:
        since = self._ok_since
        return 0.0 if since is None else time.monotonic() - since

    def beat_once(self) -> None:
        try:
            beat(self._db, self._live())
        except SQLAlchemyError as exc:  # the database is away: say so once, keep trying
            if self._ok_since is not None:
                log.warning("attempt heartbeat failed (%s: %s); open calls' leases are not "
                            "renewed until the database answers", type(exc).__name__, exc)
            self._ok_since = None
            return
        if self._ok_since is None:
            self._ok_since = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.beat_once()
            self._stop.wait(self._every)


def _why(a: CallAttempt, gone: bool, lease_s: float, last: datetime) -> str:
    stage = ("during the conversation; the callee was cut off" if a.answered_at
             else "while dialing; the call never connected or rang out unheard")
    how = (f"is gone from {a.worker.rpartition(':')[0]}" if gone and a.worker else
           f"sent no heartbeat for over {lease_s:.0f}s")
    return (f"the call process {a.worker or '(unknown)'} {how}: it stopped {stage} "
            f"(last sign of life {last:%Y-%m-%d %H:%M:%S} UTC)")


def reap_orphans(db: Database, *, lease_s: float, steady_s: float, sandbox: bool = False,
                 only_campaign: int | None = None, now: datetime | None = None,
                 host: str | None = None) -> list[int]:
    """Close the open attempts whose process stopped (see the module's docstring) as
    `interrupted`; return their ids. Only the kind this dispatcher dials (a dry-run's or
    a real campaign's). Each close is a compare-and-set, so two dispatchers, or the call
    process finishing at the same moment, never close one twice."""
    now = now or utcnow()
    may_judge_leases = steady_s >= lease_s
    query = (select(CallAttempt).join(Campaign, Campaign.id == CallAttempt.campaign_id)
             .where(CallAttempt.status.in_(OPEN), Campaign.dry_run == sandbox))
    if only_campaign is not None:
        query = query.where(Campaign.id == only_campaign)
    closed: list[int] = []
    with db.session() as s:
        for a in s.scalars(query).all():
            last = a.heartbeat_at or a.dialed_at or a.created_at
            if last.tzinfo is None:  # SQLite gives naive UTC back
                last = last.replace(tzinfo=now.tzinfo)
            gone = process_gone(a.worker, host)
            # A pid that still exists here is given longer: hung, or the pid reused.
            bar = lease_s * (ALIVE_PID_LEASES if _here(a.worker, host) else 1)
            if not gone and not (may_judge_leases and now - last > timedelta(seconds=bar)):
                continue
            unchanged = (CallAttempt.heartbeat_at.is_(None) if a.heartbeat_at is None
                         else CallAttempt.heartbeat_at == a.heartbeat_at)
            won = s.execute(update(CallAttempt).where(
                CallAttempt.id == a.id, CallAttempt.status.in_(OPEN), unchanged)
                .values(status=AttemptStatus.FAILED, disposition=Disposition.INTERRUPTED,
                        ended_at=last, error="call process stopped",
                        reason=_why(a, gone, lease_s, last)))
            if won.rowcount != 1:  # type: ignore[attr-defined]
                continue
            s.refresh(a)
            plan_next(s, a, Disposition.INTERRUPTED)
            closed.append(a.id)
            log.warning("attempt %s closed as interrupted: %s", a.id, a.reason)
    return closed


def _here(worker: str | None, host: str | None) -> bool:
    return (worker or "").rpartition(":")[0] == (host or socket.gethostname())
