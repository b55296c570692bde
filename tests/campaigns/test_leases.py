"""Open attempts whose call process stopped (campaigns.leases): found by a process that
is gone from this host or by a stale lease, closed once as `interrupted`, the contact
given the retry rule; a live process's calls and a cut-off dispatcher's view are left
alone; a call that went on after all keeps its record without overruling a newer one."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from campaigns import attempts, dispatch, leases, lifecycle
from campaigns.db import Database
from campaigns.models import CallAttempt, Contact, utcnow
from campaigns.statuses import AttemptStatus, ContactStatus
from tests.campaigns.test_service import make_db, new_campaign
from tests.support.procs import free_udp_tcp_port

HOST = socket.gethostname()


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped) on this host."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def started(db: Database, tmp_path: Path, n: int = 3, **kw: object) -> tuple[int, list[int]]:
    cid = new_campaign(db, tmp_path, n, retry_delay_s=60, max_cps=5, max_concurrent=5, **kw)
    lifecycle.start_campaign(db, cid)
    ids = dispatch.claim_due(db, sandbox=True)
    for a in ids:
        assert attempts.begin_attempt(db, a, "sip:x@127.0.0.1")
    return cid, ids


def set_attempt(db: Database, attempt_id: int, **values: object) -> None:
    with db.session() as s:
        s.execute(update(CallAttempt).where(CallAttempt.id == attempt_id).values(**values))


def get(db: Database, attempt_id: int) -> tuple[str, str | None, str | None, datetime | None]:
    with db.session() as s:
        a = s.get(CallAttempt, attempt_id)
        assert a is not None
        return a.status, a.disposition, a.reason, a.ended_at


def test_process_gone_knows_only_this_hosts_pids() -> None:
    assert leases.process_gone(f"{HOST}:{dead_pid()}") is True
    assert leases.process_gone(f"{HOST}:{__import__('os').getpid()}") is False
    # Another host's pid cannot be checked from here: only its lease tells.
    assert leases.process_gone(f"elsewhere.example:{dead_pid()}") is False
    for odd in (None, "", "no-pid", f"{HOST}:", f"{HOST}:12x", ":::"):
        assert leases.process_gone(odd) is False


def test_a_gone_process_attempts_are_closed_at_once_and_retried(tmp_path: Path,
                                                                   db_url: str) -> None:
    db = make_db(db_url)
    cid, (a1, a2, a3) = started(db, tmp_path)
    gone = f"{HOST}:{dead_pid()}"
    set_attempt(db, a1, worker=gone)  # dialing
    set_attempt(db, a2, worker=gone)
    attempts.mark_answered(db, a2)  # answered, mid-conversation
    # a3 stays with this (live) process. Leases are fresh: only the pid check decides.
    closed = leases.reap_orphans(db, lease_s=15, steady_s=0, sandbox=True)
    assert sorted(closed) == [a1, a2]
    for a, stage in ((a1, "while dialing"), (a2, "during the conversation")):
        status, disposition, reason, ended = get(db, a)
        assert (status, disposition) == (AttemptStatus.FAILED, "interrupted")
        assert reason and gone in reason and "is gone" in reason and stage in reason, reason
        assert ended is not None
    assert get(db, a3)[0] == AttemptStatus.DIALING
    with db.session() as s:
        contacts = {c.id: c for c in s.query(Contact).filter(Contact.campaign_id == cid)}
        retried = [c for c in contacts.values() if c.last_disposition == "interrupted"]
        assert len(retried) == 2
        soon = utcnow().replace(tzinfo=None)
        assert all(c.status == ContactStatus.PENDING
                   and c.next_attempt_at.replace(tzinfo=None) > soon for c in retried)
    # Closed once: a second dispatcher finds nothing more to do.
    assert leases.reap_orphans(db, lease_s=15, steady_s=0, sandbox=True) == []
    # The answer arriving late (a delayed bookkeeping job) does not reopen it.
    attempts.mark_answered(db, a1)
    assert get(db, a1)[0] == AttemptStatus.FAILED


def test_stale_leases_are_judged_only_by_a_steady_dispatcher(tmp_path: Path,
                                                              db_url: str) -> None:
    db = make_db(db_url)
    _, (a1, a2, a3) = started(db, tmp_path)
    old = utcnow() - timedelta(seconds=40)
    set_attempt(db, a1, worker="other-host:123", heartbeat_at=old)
    set_attempt(db, a2, worker="other-host:124", heartbeat_at=utcnow())
    set_attempt(db, a3, worker=f"{HOST}:{__import__('os').getpid()}", heartbeat_at=old)
    # Just back from a database outage (not steady for a lease): every lease is old for
    # all it knows, so it closes nothing.
    assert leases.reap_orphans(db, lease_s=15, steady_s=5, sandbox=True) == []
    # Steady: the other host's silent call is closed; the fresh one is not; a pid that
    # exists here gets four leases (60 s) before it counts as hung.
    assert leases.reap_orphans(db, lease_s=15, steady_s=20, sandbox=True) == [a1]
    reason = get(db, a1)[2]
    assert reason and "sent no heartbeat for over 15s" in reason, reason
    set_attempt(db, a3, heartbeat_at=utcnow() - timedelta(seconds=61))
    assert leases.reap_orphans(db, lease_s=15, steady_s=20, sandbox=True) == [a3]
    # A production dispatcher never touches a dry-run's attempts (and vice versa).
    set_attempt(db, a2, heartbeat_at=old)
    assert leases.reap_orphans(db, lease_s=15, steady_s=20, sandbox=False) == []


def test_heartbeat_renews_this_process_leases_and_measures_steadiness(
        tmp_path: Path, db_url: str) -> None:
    db = make_db(db_url)
    _, (a1, a2, _a3) = started(db, tmp_path)
    old = utcnow() - timedelta(seconds=40)
    set_attempt(db, a1, heartbeat_at=old)
    set_attempt(db, a2, heartbeat_at=old)
    hb = leases.Heartbeat(db, lambda: {a1}, every_s=60)
    assert hb.steady_s == 0.0
    hb.beat_once()
    with db.session() as s:
        beat1 = s.get(CallAttempt, a1).heartbeat_at  # type: ignore[union-attr]
        beat2 = s.get(CallAttempt, a2).heartbeat_at  # type: ignore[union-attr]
    assert beat1 is not None and beat1.replace(tzinfo=None) > old.replace(tzinfo=None)
    assert beat2 is not None and beat2.replace(tzinfo=None) == old.replace(tzinfo=None)
    assert hb.steady_s > 0
    steady = hb.steady_s
    # A closed attempt's lease is not renewed (it would look alive to nobody anyway).
    set_attempt(db, a1, status=AttemptStatus.COMPLETED, heartbeat_at=old)
    hb.beat_once()
    with db.session() as s:
        again = s.get(CallAttempt, a1).heartbeat_at  # type: ignore[union-attr]
    assert again is not None and again.replace(tzinfo=None) == old.replace(tzinfo=None)
    assert hb.steady_s > steady  # still counting from the first good beat
    # The database gone: the beat fails quietly and steadiness starts again from zero.
    refused = free_udp_tcp_port()  # nothing listens there
    broken = leases.Heartbeat(Database(f"postgresql+psycopg://u@127.0.0.1:{refused}/x"),
                              lambda: set(), every_s=60)
    broken.beat_once()
    assert broken.steady_s == 0.0


def test_a_call_that_went_on_after_it_was_closed_keeps_its_record(tmp_path: Path,
                                                                  db_url: str) -> None:
    db = make_db(db_url)
    cid, (a1, a2, _a3) = started(db, tmp_path)
    old = utcnow() - timedelta(seconds=40)
    set_attempt(db, a1, worker="other-host:1", heartbeat_at=old)
    set_attempt(db, a2, worker="other-host:2", heartbeat_at=old)
    assert sorted(leases.reap_orphans(db, lease_s=15, steady_s=20, sandbox=True)) == [a1, a2]
    # a1's contact is claimed again by a newer attempt; then the old call reports in.
    with db.session() as s:
        a = s.get(CallAttempt, a1)
        assert a is not None
        s.execute(update(Contact).where(Contact.id == a.contact_id)
                  .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    newer = dispatch.claim_due(db, sandbox=True)
    assert len(newer) == 1
    attempts.finish_attempt(db, a1, disposition="interested", sip_status=200, sip_reason="OK",
                           reason=None, handoff=False, end_node="goodbye", recording=None)
    status, disposition, reason, _ = get(db, a1)
    assert (status, disposition) == (AttemptStatus.COMPLETED, "interested")
    assert reason and "went on after it was closed as interrupted" in reason
    with db.session() as s:
        a = s.get(CallAttempt, a1)
        assert a is not None and a.contact.status == ContactStatus.CLAIMED  # newer owns it
    # a2's contact was only waiting for its retry: the real outcome decides its future.
    attempts.finish_attempt(db, a2, disposition="not_interested", sip_status=200,
                           sip_reason="OK", reason=None, handoff=False, end_node="bye",
                           recording=None)
    with db.session() as s:
        a = s.get(CallAttempt, a2)
        assert a is not None and a.contact.status == ContactStatus.DONE
        assert a.contact.last_disposition == "not_interested"
    assert cid
