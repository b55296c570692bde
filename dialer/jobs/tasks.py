"""The Celery app: queues, routes, beat schedule, and thin tasks that take IDs (the
top-level worker.py is its entry point).

Process model (measured facts behind it are in docs/architecture.md): the vosk model is loaded in
the parent before the prefork pool forks, so children share it copy-on-write; each child
makes its own pjsua2 Endpoint after the fork, on its own RTP port range, and runs up to
DIALER_CALLS_PER_PROCESS calls at once on threads (the pjsua2 wheel allows at most 4 per
process): 30 calls in 8 processes keep the latency goal where 30 one-call processes,
with their media threads and context switches, did not (bench/concurrency.py).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery, signals

from campaigns.db import Database
from campaigns.settings import CampaignSettings
from campaigns.statuses import AttemptStatus, CampaignStatus
from campaigns.trunks import TrunkError
from dialer.broker import survive_lost_broker
from dialer.settings import DialerSettings
from voices.settings import VoiceSettings

log = logging.getLogger("dialer.worker")
DISPATCH_PERIOD_S = 2.0  # how often beat runs the dispatcher; pacing spreads calls over it

campaign_settings = CampaignSettings()
dialer_settings = DialerSettings()
voice_settings = VoiceSettings()

# A sandbox worker (simulated customers only) has queues of its own, so a production
# worker on the same broker never even receives a dry-run's task, nor it a real one.
_SUFFIX = ".sandbox" if dialer_settings.is_sandbox else ""
CALLS_QUEUE, DISPATCH_QUEUE = f"calls{_SUFFIX}", f"dispatch{_SUFFIX}"

survive_lost_broker()  # a broker restart must not stop the worker (dialer/broker.py)
app = Celery("dialer", broker=dialer_settings.broker_url)
app.conf.update(
    task_acks_late=True,  # a call lost with its worker is redelivered...
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,  # ...and no child hoards calls it cannot start
    # pjsua2 call objects are never freed (see dialer.telephony.call.SipCall): recycle a call
    # process now and then to bound that, and anything else a long life accumulates.
    worker_max_tasks_per_child=500,
    task_ignore_result=True,
    # Longer than the longest call, or Redis hands a running call to a second worker.
    broker_transport_options={"visibility_timeout": int(dialer_settings.max_call_s * 2 + 600)},
    broker_connection_retry_on_startup=True,
    task_routes={"dialer.place_call": {"queue": CALLS_QUEUE},
                 "dialer.dispatch": {"queue": DISPATCH_QUEUE}},
    task_default_queue=DISPATCH_QUEUE,
    beat_schedule={"dispatch": {"task": "dialer.dispatch", "schedule": DISPATCH_PERIOD_S,
                                "options": {"expires": 10, "queue": DISPATCH_QUEUE}}},
    beat_schedule_filename=str(campaign_settings.data_dir / "celerybeat-schedule"),
    worker_redirect_stdouts=False,
)

# Composition-root state: set in the parent (model) or lazily in each child.
_model: Any = None
_db: Database | None = None
_runtime: Any = None
_heartbeat: Any = None  # campaigns.leases.Heartbeat of this process
_live: set[int] = set()  # attempts this process is placing (their leases are renewed)


@signals.worker_init.connect
def _preload_model(**_: Any) -> None:
    """Load the vosk model in the parent, before the pool forks."""
    global _model
    from dialer.call.runtime import preload

    campaign_settings.data_dir.mkdir(parents=True, exist_ok=True)
    _model = preload(voice_settings)


@signals.worker_ready.connect
def _report_preload(**_: Any) -> None:
    # worker_init runs before Celery sets up logging, so say it once the worker is up.
    log.info("preloaded before fork: vosk model %s (%s) and the call stack",
             voice_settings.vosk_model or "packaged", voice_settings.language)


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    global _db, _runtime, _slots, _heartbeat, _broker
    _db, _runtime, _broker = None, None, None  # never reuse the parent's connections
    _slots, _heartbeat = None, None  # threads do not survive a fork
    _calls.clear()
    _live.clear()


@signals.worker_process_shutdown.connect
def _child_exit(**_: Any) -> None:
    left = wait_for_calls(dialer_settings.max_call_s + 30)
    if left:
        log.warning("call process exiting with %d call(s) still running", left)
    if _runtime is not None:
        _runtime.shutdown()


def database() -> Database:
    global _db, _heartbeat
    if _db is None:
        from campaigns.leases import Heartbeat

        db = Database(campaign_settings.resolved_database_url())
        db.require_schema()
        _db = db
        # Renews the leases of this process's calls; its steadiness tells the dispatcher
        # whether it may judge other processes' leases (campaigns.leases).
        _heartbeat = Heartbeat(db, lambda: set(_live),
                               dialer_settings.call_lease_s / 5).start()
    return _db


def runtime() -> Any:
    global _runtime, _model
    if _runtime is None:
        from billiard.process import current_process

        from dialer.call.runtime import CallRuntime, preload

        if _model is None:  # solo/threads pools skip worker_init's fork path
            _model = preload(voice_settings)
        index = getattr(current_process(), "index", None) or 0
        _runtime = CallRuntime(dialer_settings, voice_settings, _model, process_index=index)
    return _runtime


@app.task(name="dialer.dispatch")
def dispatch() -> dict[str, Any]:
    from sqlalchemy.exc import DBAPIError

    from campaigns.db import is_outage

    try:
        return _dispatch()
    except DBAPIError as exc:
        if not is_outage(exc):
            raise
        # One line, not a traceback every two seconds; the next round tries again.
        log.warning("dispatch skipped: the database does not answer (%s)",
                    str(exc.orig or exc).splitlines()[0][:200])
        return {"skipped": "database unavailable"}


def _dispatch() -> dict[str, Any]:
    from campaigns.dispatch import claim_due, stale_queued
    from campaigns.leases import reap_orphans
    from campaigns.lifecycle import finish_campaigns

    db = database()
    # A sandbox worker claims its dry-runs only; a production one never claims them.
    sandbox, only = dialer_settings.is_sandbox, dialer_settings.sandbox_campaign
    # Calls whose process stopped (killed, host lost) give back their slots and contacts.
    reaped = reap_orphans(db, lease_s=dialer_settings.call_lease_s,
                          steady_s=_heartbeat.steady_s if _heartbeat else 0.0,
                          sandbox=sandbox, only_campaign=only)
    sent = claim_due(db, period_s=DISPATCH_PERIOD_S, sandbox=sandbox, only_campaign=only)
    # Spread over the period rather than all at once: the campaign's calls a second.
    step = DISPATCH_PERIOD_S / max(1, len(sent))
    for i, attempt_id in enumerate(sent):
        place_call.apply_async((attempt_id,), countdown=i * step)
    # Claimed attempts whose task message was lost: all of them at once when the broker
    # came back empty (or this is the first round), else those waiting over a minute.
    lost = stale_queued(db, older_than_s=0.0 if broker_emptied() else 60.0,
                        sandbox=sandbox, only_campaign=only)
    for attempt_id in lost:
        if attempt_id not in sent:
            place_call.delay(attempt_id)
    finished = finish_campaigns(db)
    if sent or finished or reaped:
        log.info("dispatch: queued attempts %s, finished campaigns %s, interrupted %s",
                 sent, finished, reaped)
    return {"queued": sent, "finished": finished, "interrupted": reaped}


_broker: Any = None  # a Redis client on the broker, for broker_emptied()


def broker_emptied() -> bool:
    """True once after the broker lost its data (a Redis restarted empty: every queued
    task message is gone) and on the first round: a marker key set when missing. False
    when the broker is not Redis or does not answer (the round then relies on age)."""
    global _broker
    url = dialer_settings.broker_url
    if not url.startswith(("redis://", "rediss://")):
        return False
    import redis

    try:
        if _broker is None:
            _broker = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return bool(_broker.set(f"dialer:broker-epoch{_SUFFIX}", "1", nx=True))
    except redis.RedisError:
        return False


# Calls at once in one call process (DIALER_CALLS_PER_PROCESS): each runs on its own
# thread beside the others on the process's one pjsua2 Endpoint and conference clock.
SLOT_WAIT_S = 3.0  # a task waits this long for a free slot, then goes back to the queue
_slots: threading.BoundedSemaphore | None = None
_calls: set[threading.Thread] = set()
_calls_lock = threading.Lock()


def call_slots() -> threading.BoundedSemaphore:
    global _slots
    if _slots is None:
        _slots = threading.BoundedSemaphore(max(1, dialer_settings.calls_per_process))
    return _slots


# Acknowledged on receipt, unlike the default: the task may be held for a whole call
# (below), and a broker lost meanwhile must not find it unacknowledged (kombu's restore
# of unacknowledged messages on that path stops the worker). A message lost before its
# call began is sent again: its attempt is still queued (dispatch, stale_queued).
@app.task(name="dialer.place_call", bind=True, max_retries=None, acks_late=False)
def place_call(self: Any, attempt_id: int) -> dict[str, Any]:
    """Start one call in a free slot of this process and return: the process takes the
    next task while its calls go on (up to DIALER_CALLS_PER_PROCESS at once). When every
    slot stays busy the task goes back to the queue for another process. Safe to
    deliver twice: only one delivery passes begin_attempt."""
    if dialer_settings.calls_per_process <= 1:
        return run_call(attempt_id)
    slots = call_slots()
    if not slots.acquire(timeout=SLOT_WAIT_S):
        raise self.retry(countdown=1)
    runtime()  # the Endpoint is made on this (the process's main) thread, once
    thread = threading.Thread(target=_call_in_slot, args=(attempt_id, slots),
                              name=f"call-{attempt_id}")
    with _calls_lock:
        _calls.add(thread)
    thread.start()
    # A process whose every slot is now busy keeps this task until one frees: Celery
    # counts the process as busy meanwhile and sends the next call to one with room,
    # instead of here, where it would wait and go back to the queue again and again.
    if slots.acquire(timeout=dialer_settings.max_call_s + 30):
        slots.release()
    return {"attempt_id": attempt_id, "started": thread.name}


def _call_in_slot(attempt_id: int, slots: threading.BoundedSemaphore) -> None:
    try:
        result = run_call(attempt_id)
        log.info("call %s ended: %r", attempt_id, result)
    except Exception:
        log.exception("attempt %s: the call thread failed", attempt_id)
    finally:
        slots.release()
        with _calls_lock:
            _calls.discard(threading.current_thread())


def wait_for_calls(timeout_s: float) -> int:
    """Let the calls under way end (a recycled or stopping process never cuts one off);
    returns how many were still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    with _calls_lock:
        running = list(_calls)
    for t in running:
        t.join(max(0.0, deadline - time.monotonic()))
    return sum(t.is_alive() for t in running)


def handoff_desk(db: Database, rt: Any, attempt_id: int) -> Any:
    """Where this call finds a person if the robot hands it off (None: no shared ACD)."""
    from campaigns import attempts
    from dialer.handoff.desk import HandoffDesk

    acd = rt.acd
    if acd is None:
        return None
    hc = attempts.handoff_context(db, attempt_id)
    return HandoffDesk(acd=acd, call_id=str(attempt_id), queue=hc["queue"], info=hc["info"],
                       plan_callback=lambda at: attempts.callback_time(db, attempt_id, at),
                       timezone=hc["timezone"], prefer=hc["prefer"],
                       offer_s=dialer_settings.handoff_offer_s,
                       ring_s=dialer_settings.handoff_ring_s)


def trunk_config(db: Database, ctx: dict[str, Any]) -> Any:
    """The trunk this attempt dials through: the campaign's, from the admins' list, or
    the workers' own (DIALER_SIP_*). A sandbox worker always uses its own (the loopback
    simulator, checked when it started), whatever the campaign names."""
    from campaigns import trunks
    from dialer.telephony.trunk import TrunkConfig

    if dialer_settings.is_sandbox or not ctx["trunk"]:
        return dialer_settings.trunk(ctx["caller_id"])
    t = trunks.for_call(db, ctx["trunk"])
    caller_id = ctx["caller_id"] or next(iter(t["caller_ids"]), None)
    if caller_id is not None and caller_id not in t["caller_ids"]:
        raise trunks.TrunkError("caller ID {caller_id} is no longer allowed on trunk "
                                "{trunk}; an admin changed the trunk's list",
                                caller_id=caller_id, trunk=t["name"])
    return TrunkConfig(host=t["host"], registrar=t["registrar"], username=t["username"],
                       password=t["password"], realm=t["realm"] or "*",
                       outbound_proxy=t["outbound_proxy"], caller_id=caller_id,
                       transport=t["transport"])


def store_outcome(db: Database, attempt_id: int, **outcome: Any) -> None:
    """The call's outcome, kept through a database outage (DIALER_DB_OUTAGE_S): the
    process keeps the attempt's lease meanwhile, so nobody closes it as interrupted."""
    from campaigns import attempts
    from campaigns.db import retry_outage

    retry_outage(attempts.finish_attempt, db, attempt_id, deadline_s=dialer_settings.db_outage_s,
                 what=f"attempt {attempt_id}'s outcome", **outcome)


def run_call(attempt_id: int) -> dict[str, Any]:
    """Run one whole call (on the task's thread, or a slot's)."""
    from campaigns import attempts, dispatch

    db = database()
    ctx = attempts.attempt_context(db, attempt_id)
    if ctx["attempt_status"] != AttemptStatus.QUEUED:  # a duplicate delivery
        return {"attempt_id": attempt_id, "skipped": "already taken"}
    if ctx["campaign_status"] != CampaignStatus.RUNNING:
        attempts.release_attempt(db, attempt_id)
        return {"attempt_id": attempt_id, "skipped": f"campaign {ctx['campaign_status']}"}
    # DNC and window, again, at dial time; and a dry-run only ever on a sandbox worker.
    why_not = dispatch.dial_check(db, attempt_id, sandbox=dialer_settings.is_sandbox)
    if why_not is not None:
        log.info("attempt %s not dialed: %s", attempt_id, why_not)
        return {"attempt_id": attempt_id, "skipped": why_not}
    rt = runtime()
    try:
        trunk = trunk_config(db, ctx)
    except TrunkError as exc:
        if attempts.begin_attempt(db, attempt_id, None):
            attempts.finish_attempt(db, attempt_id, disposition="failed", sip_status=None,
                                   sip_reason=None, reason=None, handoff=False,
                                   end_node=None, recording=None, error=str(exc))
        return {"attempt_id": attempt_id, "error": str(exc)}
    if not attempts.begin_attempt(db, attempt_id, trunk.dial_uri(ctx["phone"])):
        return {"attempt_id": attempt_id, "skipped": "already taken"}
    _live.add(attempt_id)  # its lease is renewed until the outcome is stored
    try:
        return _converse(db, rt, attempt_id, ctx, trunk)
    finally:
        _live.discard(attempt_id)


def _converse(db: Database, rt: Any, attempt_id: int, ctx: dict[str, Any],
              trunk: Any) -> dict[str, Any]:
    """The call itself, once this process holds the attempt, and its outcome stored."""
    from campaigns import attempts
    from dialer.opsmetrics import TurnTimings, shared_client

    recording = (campaign_settings.recordings_dir / f"campaign-{ctx['campaign_id']}"
                 / f"attempt-{attempt_id}.wav").resolve()
    if ctx["voice"] or ctx["trunk"]:
        log.info("attempt %s: the campaign's voice %s, trunk %s", attempt_id,
                 ctx["voice"] or "(default)", ctx["trunk"] or "(default)")
    desk = handoff_desk(db, rt, attempt_id)
    timings = TurnTimings(shared_client(rt.settings.resolved_acd_url))  # GET /metrics

    def on_turn(turn: Any) -> None:  # on the call's bookkeeping thread, not the audio's
        attempts.save_turn(db, attempt_id, turn)
        timings.observe(turn)

    try:
        if ctx["language"] != voice_settings.language:
            raise RuntimeError(f"campaign language {ctx['language']!r} but this worker loaded "
                               f"the {voice_settings.language!r} model; start a worker with "
                               f"DIALER_LANGUAGE={ctx['language']}")
        outcome = rt.call(ctx["phone"], ctx["script_dir"], ctx["fields"],
                          caller_id=ctx["caller_id"], recording=recording,
                          voice=ctx["voice"], trunk=trunk,
                          ring_timeout_s=ctx["ring_timeout_s"], handoff=desk,
                          on_turn=on_turn,
                          on_answer=lambda: attempts.mark_answered(db, attempt_id))
    except Exception as exc:
        log.exception("attempt %s crashed", attempt_id)
        store_outcome(db, attempt_id, disposition="failed", sip_status=None,
                      sip_reason=None, reason=None, handoff=False, end_node=None,
                      recording=None, error=f"{type(exc).__name__}: {exc}")
        return {"attempt_id": attempt_id, "error": str(exc)}
    rec = outcome.recording if outcome.recording and Path(outcome.recording).exists() else None
    store_outcome(db, attempt_id, disposition=outcome.disposition,
                  sip_status=outcome.sip_status, sip_reason=outcome.sip_reason,
                  reason=outcome.reason, handoff=outcome.handoff, end_node=outcome.end_node,
                  recording=rec, slots=outcome.slots, codec=outcome.codec,
                  handoff_info={k: getattr(outcome, k) for k in attempts.HANDOFF_FIELDS})
    log.info("attempt %s: %s (%s) sip=%s turns=%d", attempt_id, outcome.disposition,
             outcome.reason, outcome.sip_status, len(outcome.turns))
    return {"attempt_id": attempt_id, "disposition": outcome.disposition}
