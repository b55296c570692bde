"""The sandbox's processes, started and stopped for a demo or a dry-run: a local Redis
when none answers, the customer simulator and a worker as child processes (waited for
by a line in their log), and simulated agents put ready in the ACD.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import redis


def simulated_agents(acd_url: str | None, personas: Path, sim_port: int) -> list[str]:
    """Log the personas with `answer: agent` in at the ACD as ready agents on auto-accept,
    their phone the simulator's: a handoff in the demo or a dry-run reaches a "person"."""
    from dialer.handoff.acd import Acd
    from dialer.sandbox.personas import load_personas

    if acd_url is None:
        return []
    acd, ids = Acd.from_url(acd_url), []
    for p in load_personas(personas).values():
        if p.answer == "agent":
            agent = f"sim-{p.number}"
            acd.login(agent, name=p.name, sip_uri=f"sip:{p.number}@127.0.0.1:{sim_port}",
                      auto_accept=True)
            acd.ready(agent)
            ids.append(agent)
    return ids


def log_out_agents(acd_url: str | None, agents: list[str]) -> None:
    from contextlib import suppress

    from dialer.handoff.acd import Acd, AcdError

    if acd_url is None or not agents:
        return
    acd = Acd.from_url(acd_url)
    for agent in agents:
        with suppress(AcdError, redis.RedisError):
            if acd.agent(agent)["state"] == "offered":
                continue
            if acd.agent(agent)["state"] == "on_call":
                acd.hang_up(agent)
            acd.logout(agent)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def start_redis(url: str, workdir: Path) -> subprocess.Popen[bytes] | None:
    """Start a private redis-server for a local broker URL if nothing answers there."""
    if redis_answers(url):
        return None
    u = urlparse(url)
    if u.hostname not in ("127.0.0.1", "localhost"):
        raise RuntimeError(f"broker {url} does not answer; start it or set DIALER_BROKER_URL")
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server) and "
                           f"no broker answers at {url}")
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([exe, "--bind", "127.0.0.1", "--port", str(u.port or 6379),
                             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    for _ in range(100):
        if redis_answers(url):
            return proc
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"redis-server did not start on {url}")


def spawn(args: list[str], log: Path,
           env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("ab")
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    # Our children lead their own process group (start_new_session), so the whole group
    # goes: a Celery worker's pool children and beat with it.
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    _signal(proc, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal(proc, signal.SIGKILL)
        proc.wait(10)


def wait_for_line(log: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if log.exists() and needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited ({proc.returncode}); see {log}")
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {needle!r} in {log}")
