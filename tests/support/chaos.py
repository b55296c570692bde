"""Faults injected into real processes, shared by the fault tests and bench/chaos.py: a
Celery worker that can be killed -9 as a whole (parent, call children, beat), a
redis-server that can be killed and started again empty on its port, a short campaign
against the SIPp callee farm, and what the database says afterwards (every contact
final? any attempt left open? any contact dialed twice at once? turns lost?)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from campaigns.db import Database
from campaigns.models import CallAttempt, Campaign, Contact, Turn
from campaigns.statuses import AttemptStatus, ContactStatus
from tests.support.procs import DEMO, dialer_cmd, free_udp_tcp_port, spawn, wait_for

OPEN = (AttemptStatus.QUEUED, AttemptStatus.DIALING, AttemptStatus.ANSWERED)


def farm_env(work: Path, broker_url: str, trunk: str, rtp_base: int, per_process: int,
             **extra: str) -> dict[str, str]:
    """The dialer's environment for a campaign against the SIPp farm at `trunk`: its data
    and prompt cache under `work`, its own broker and RTP ports, `per_process` calls a
    call process; `extra` adds or overrides settings (DIALER_DATABASE_URL, ...)."""
    return dict(os.environ, DIALER_DATA_DIR=str(work / "data"),
                DIALER_PROMPT_CACHE_DIR=str(work / "cache"), DIALER_BROKER_URL=broker_url,
                DIALER_RTP_PORT_BASE=str(rtp_base), DIALER_SIP_TRUNK=trunk,
                DIALER_CALLS_PER_PROCESS=str(per_process), **extra)


def short_script(dst: Path) -> Path:
    """The demo script with a short greeting and a quick no-input end (2 s, one
    reprompt): a silent callee's call lasts about 15 s instead of a minute."""
    dst.mkdir(parents=True, exist_ok=True)
    script = yaml.safe_load((DEMO / "script.yml").read_text(encoding="utf-8"))
    script["settings"].update(no_input_timeout_s=2, max_no_input=1)
    script["nodes"]["greeting"]["say"] = "안녕하세요 {name} 고객님. 행복통신입니다. 잠시 들어 보시겠어요?"
    (dst / "script.yml").write_text(yaml.safe_dump(script, allow_unicode=True),
                                    encoding="utf-8")
    shutil.copy(DEMO / "nlu.yml", dst / "nlu.yml")
    return dst


def contacts_csv(path: Path, n: int, prefix: str = "010-7000") -> Path:
    rows = ["name,phone"] + [f"고객{i},{prefix}-{i:04d}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def create_campaign(env: dict[str, str], name: str, script: Path, csv: Path,
                    concurrent: int, retry_delays: dict[str, int] | None = None) -> int:
    made = subprocess.run(dialer_cmd(
        "campaign", "create", "--name", name, "--script", str(script), "--csv", str(csv),
        "--max-concurrent", str(concurrent), "--max-cps", "10", "--dry-run", "--json"),
        env=env, capture_output=True, text=True, timeout=120, check=True)
    cid = int(json.loads(made.stdout)["campaign_id"])
    if retry_delays:
        db = database(env)
        with db.session() as s:
            c = s.get(Campaign, cid)
            assert c is not None
            c.retry_delays = retry_delays
    return cid


def start_campaign(env: dict[str, str], cid: int) -> None:
    subprocess.run(dialer_cmd("campaign", "start", str(cid)), env=env, check=True,
                   capture_output=True, timeout=60)


def database(env: dict[str, str]) -> Database:
    url = env.get("DIALER_DATABASE_URL") or \
        f"sqlite:///{(Path(env['DIALER_DATA_DIR']) / 'dialer.db').resolve()}"
    return Database(url)


@dataclass
class Worker:
    """`dialer worker` with its dispatcher (beat), in a process group of its own."""

    env: dict[str, str]
    log: Path
    processes: int = 2
    proc: subprocess.Popen[bytes] | None = None
    ready_at: float = 0.0

    def start(self, timeout: float = 120) -> Worker:
        env = {**self.env, "DIALER_SANDBOX": "1"}
        start = self.log.stat().st_size if self.log.exists() else 0
        self.proc = spawn(dialer_cmd("worker", "--processes", str(self.processes)),
                          self.log, env)

        def ready() -> bool:
            with self.log.open("rb") as f:
                f.seek(start)
                return b"ready." in f.read()
        wait_for(ready, timeout, "celery worker", self.proc, self.log)
        self.ready_at = time.monotonic()
        return self

    def kill9(self) -> list[int]:
        """SIGKILL to the whole group at once: the parent, every call child, beat.
        Returns the pids that were in it."""
        assert self.proc is not None
        pids = group_pids(self.proc.pid)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        for pid in pids:  # children are re-parented; wait until each is really gone
            wait_for(lambda p=pid: not _exists(p), 10, f"pid {pid} to die")
        return pids

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            from tests.support.procs import stop
            stop(self.proc, 40)


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except ProcessLookupError:
                continue
    return pids


@dataclass
class Redis:
    """A redis-server on a fixed port of 127.0.0.1 that can be killed -9 and started
    again there, empty (no persistence: the broker's queues and the ACD state go)."""

    workdir: Path
    port: int = field(default_factory=free_udp_tcp_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed (make test installs it)"
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "redis.log"
        self.proc = spawn([exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                           "--appendonly", "no", "--dir", str(self.workdir)], log,
                          dict(os.environ))
        wait_for(self.ping, 20, "redis-server", self.proc, log)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill9()


def restart_postgres(url: str, down_s: float) -> None:
    """Stop the PostgreSQL server behind `url` (fast shutdown: clients are cut off), keep
    it down `down_s` seconds, start it again with the options it ran with."""
    from sqlalchemy import create_engine, text

    from tests.support.postgres import _as_owner, pg_bin

    engine = create_engine(url)
    with engine.connect() as conn:
        data = Path(str(conn.execute(text("SHOW data_directory")).scalar()))
    engine.dispose()
    pg_ctl = pg_bin("pg_ctl")
    assert pg_ctl
    owner = "postgres" if os.geteuid() == 0 else None
    argv = shlex.split((data / "postmaster.opts").read_text(encoding="utf-8"))[1:]
    subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], owner),
                   check=True, capture_output=True, timeout=60)
    time.sleep(down_s)
    subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-l", str(data.parent / "server.log"),
                              "-o", shlex.join(a for a in argv if a != str(data)
                                               and a != "-D"), "-w", "-t", "60", "start"],
                             owner), check=True, capture_output=True, timeout=90)


@dataclass
class Tally:
    """What the database says about a campaign, in the bench's terms."""

    contacts: int
    final: int
    open_attempts: int
    overlapping_dials: int
    lost_turns: int
    dispositions: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"contacts": self.contacts, "final": self.final,
                "open_attempts": self.open_attempts,
                "overlapping_dials": self.overlapping_dials, "lost_turns": self.lost_turns,
                "dispositions": self.dispositions}


def tally(db: Database, cid: int) -> Tally:
    with db.session() as s:
        contacts = s.scalar(select(func.count(Contact.id))
                            .where(Contact.campaign_id == cid)) or 0
        final = s.scalar(select(func.count(Contact.id)).where(
            Contact.campaign_id == cid, Contact.status == ContactStatus.DONE)) or 0
        attempts = s.scalars(select(CallAttempt).where(CallAttempt.campaign_id == cid)).all()
        open_attempts = sum(a.status in OPEN for a in attempts)
        by_contact: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for a in attempts:
            if a.dialed_at is not None:
                by_contact[a.contact_id].append(
                    (_naive(a.dialed_at), _naive(a.ended_at) if a.ended_at else datetime.max))
        overlapping = sum(
            1 for spans in by_contact.values() for i, (s1, e1) in enumerate(sorted(spans))
            for s2, _e2 in sorted(spans)[i + 1:] if s2 < e1)
        seqs = s.execute(select(Turn.attempt_id, func.max(Turn.seq), func.count(Turn.id))
                         .join(CallAttempt, CallAttempt.id == Turn.attempt_id)
                         .where(CallAttempt.campaign_id == cid)
                         .group_by(Turn.attempt_id)).all()
        lost = sum(int(top) - int(n) for _a, top, n in seqs)
        dispositions: dict[str, int] = defaultdict(int)
        for a in attempts:
            dispositions[str(a.disposition or a.status)] += 1
    return Tally(contacts, final, open_attempts, overlapping, lost, dict(dispositions))


def dispatch_rounds(log: Path) -> list[datetime]:
    """When the worker's log shows a dispatcher round succeeding (local time)."""
    rounds = []
    for line in log.read_text(errors="replace").splitlines():
        if "Task dialer.dispatch[" in line and "succeeded" in line:
            stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
            if stamp:
                rounds.append(datetime.strptime(f"{stamp.group(1)}.{stamp.group(2)}000",
                                                "%Y-%m-%d %H:%M:%S.%f"))
    return rounds


def _naive(at: datetime) -> datetime:
    """UTC without tzinfo (SQLite gives naive UTC back, PostgreSQL aware)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def wait_until(predicate: Any, timeout: float, what: str, every: float = 0.25) -> float:
    """Poll until `predicate()` is true; return the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)
    return time.monotonic() - start
