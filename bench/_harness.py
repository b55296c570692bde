"""Plumbing the call benchmarks share: the customer simulator on loopback, and call
processes forked the way the Celery worker forks them, each reporting one JSON value."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Simulator:
    proc: subprocess.Popen[bytes]
    log: Path
    port: int

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while '"event": "ready"' not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"simulator did not start; see {self.log}")
            time.sleep(0.2)


def _start(personas: Path, rtp_port: int, log: Path) -> Simulator:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dialer.cli", "simulate", "--personas",
                             str(personas), "--port", str(port), "--rtp-port", str(rtp_port)],
                            cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return Simulator(proc, log, port)


def _stop(sims: list[Simulator]) -> None:
    for sim in sims:
        with suppress(ProcessLookupError):  # one that died is reported by its log
            os.killpg(sim.proc.pid, signal.SIGTERM)
    for sim in sims:
        sim.proc.wait(20)


def _use(work: Path) -> None:
    """Point this process's settings (and its forked children's) at `work`."""
    os.environ.update(DIALER_DATA_DIR=str(work), DIALER_PROMPT_CACHE_DIR=str(work / "cache"),
                      DIALER_RTP_PORT_BASE="44000")


@contextmanager
def simulator(work: Path, personas: Path, rtp_port: int) -> Iterator[Simulator]:
    """Start `dialer simulate` in the background and point this process's settings (and
    those of the children it forks, DIALER_SIP_TRUNK included) at it and at `work`; stop
    it at the end. Call `wait_ready()` once the bench has done its own start-up work."""
    _use(work)
    sim = _start(personas, rtp_port, work / "simulator.log")
    os.environ["DIALER_SIP_TRUNK"] = f"127.0.0.1:{sim.port}"
    try:
        yield sim
    finally:
        _stop([sim])


@contextmanager
def simulators(work: Path, personas: Path, count: int,
               rtp_base: int = 30000) -> Iterator[list[Simulator]]:
    """`count` simulators, each on its own SIP port and RTP range (a pjsua2 process holds
    at most 4 calls, so N concurrent calls need N/4 of them); calls dial their URIs."""
    _use(work)
    work.mkdir(parents=True, exist_ok=True)
    sims: list[Simulator] = []
    try:
        for i in range(count):
            sims.append(_start(personas, rtp_base + i * 100, work / f"simulator-{i}.log"))
        yield sims
    finally:
        _stop(sims)


def smaps(pid: int | str = "self") -> dict[str, float]:
    """A process's memory figures in MB from /proc/<pid>/smaps_rollup (Rss, Pss, ...)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        out[name] = int(value.split()[0]) / 1024
    return out


def fork_each(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in forked children at once (as Celery prefork children, after
    the parent's preload); return their JSON results in order, or an {"error": ...} for
    a child that died without one."""
    children = []
    for index in range(count):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                try:
                    result = work(index)
                except BaseException as exc:  # noqa: BLE001 - reported, not lost
                    import traceback

                    result = {"error": f"{type(exc).__name__}: {exc}",
                              "traceback": traceback.format_exc()[-2000:]}
                os.write(w, json.dumps(result).encode())
            finally:
                os._exit(0)
        os.close(w)
        children.append((pid, r))
    results = []
    for pid, r in children:
        with os.fdopen(r, "rb") as f:
            data = f.read()
        _, status = os.waitpid(pid, 0)
        results.append(json.loads(data) if data
                       else {"error": f"call process died (wait status {status})"})
    return results
