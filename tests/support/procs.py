"""Real processes for end-to-end tests: redis-server, the simulator, a Celery worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "campaigns" / "examples" / "demo"
# Where the demo's nlu.yml starts its NLU-only paraphrases (metadata grammar: false).
DEMO_PARAPHRASES = "# Paraphrases that teach the NLU only"


def thin_demo(dest: Path) -> Path:
    """A copy of the demo campaign at `dest` without its NLU-only paraphrases: the
    author's first few examples per intent (call_later has 3), what advice is about."""
    shutil.copytree(DEMO, dest)
    nlu = dest / "nlu.yml"
    text = nlu.read_text(encoding="utf-8")
    assert DEMO_PARAPHRASES in text
    nlu.write_text(text[:text.index(DEMO_PARAPHRASES)], encoding="utf-8")
    return dest


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_tcp_port() -> int:
    for _ in range(50):
        port = free_port(socket.SOCK_STREAM)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None,
             log: Path | None = None) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what}: process exited with {proc.returncode}\n{tail}")
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise TimeoutError(f"{what} not ready after {timeout}s\n{tail}")


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:  # type: ignore[type-arg]
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


def spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:  # type: ignore[type-arg]
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env,
                            cwd=ROOT, start_new_session=True)


def dialer_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dialer.cli", *args]


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    exe = shutil.which("redis-server")
    assert exe, "redis-server is not installed (make test installs it)"
    port = free_udp_tcp_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "redis.log"
    proc = spawn([exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                  "--appendonly", "no", "--dir", str(workdir)], log, dict(os.environ))
    url = f"redis://127.0.0.1:{port}/0"

    def ping() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_for(ping, 20, "redis-server", proc, log)
        yield url
    finally:
        stop(proc)


@contextmanager
def simulator(workdir: Path, env: dict[str, str], personas: Path = DEMO / "personas.yml",
              port: int | None = None) -> Iterator[tuple[int, Path]]:
    port = port or free_udp_tcp_port()
    log = workdir / f"simulator-{port}.log"
    proc = spawn(dialer_cmd("simulate", "--personas", str(personas), "--port", str(port),
                            "--rtp-port", str(46000 + (port % 50) * 40)), log, env)
    try:
        wait_for(lambda: log.exists() and '"event": "ready"' in log.read_text(errors="replace"),
                 90, "simulator", proc, log)
        yield port, log
    finally:
        stop(proc)


@contextmanager
def celery_worker(workdir: Path, env: dict[str, str], processes: int = 2,
                  sandbox: bool = True) -> Iterator[Path]:
    """A worker; a sandbox one (the default: tests call simulators) dials dry-runs only."""
    log = workdir / "worker.log"
    env = {**env, "DIALER_SANDBOX": "1" if sandbox else "0"}
    proc = spawn(dialer_cmd("worker", "--processes", str(processes)), log, env)
    try:
        wait_for(lambda: log.exists() and "ready." in log.read_text(errors="replace"),
                 120, "celery worker", proc, log)
        yield log
    finally:
        stop(proc, 40)


def call_json(env: dict[str, str], number: str, script: Path = DEMO,
              name: str = "최지영", log: Path | None = None) -> dict[str, Any]:
    """Place one call with `dialer call --json` and return its outcome; `log`: keep
    the call's log there (for a failing test to show)."""
    proc = subprocess.run(dialer_cmd("call", number, "--script", str(script), "--field",
                                     f"name={name}", "--ring-timeout", "10", "--json"),
                          env=env, capture_output=True, text=True, timeout=150, check=False)
    if log is not None:
        log.write_text(proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def dry_run_env(tmp_path: Path, rtp_port_base: int) -> dict[str, str]:
    """`call_env` with a production trunk and broker that must never be used: a dry-run
    brings its own."""
    return dict(call_env(tmp_path, rtp_port_base), DIALER_SIP_TRUNK="192.0.2.1:5060",
                DIALER_BROKER_URL="redis://192.0.2.1:6379/0")


def demo_copy(dest: Path, personas: str, script_extra: str = "") -> Path:
    """The demo's script and NLU in `dest` with these personas (and `script_extra`
    appended to script.yml): a campaign to dry-run."""
    dest.mkdir(parents=True)
    (dest / "nlu.yml").write_bytes((DEMO / "nlu.yml").read_bytes())
    (dest / "script.yml").write_text((DEMO / "script.yml").read_text(encoding="utf-8")
                                     + script_extra, encoding="utf-8")
    (dest / "personas.yml").write_text(personas, encoding="utf-8")
    return dest


def create_campaign(env: dict[str, str], name: str, script: Path) -> int:
    """`dialer campaign create` with the demo's call list; the new campaign's id."""
    created = subprocess.run(dialer_cmd("campaign", "create", "--name", name, "--script",
                                        str(script), "--csv", str(DEMO / "contacts.csv"),
                                        "--json"), env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert created.returncode == 0, created.stderr[-2000:]
    return int(json.loads(created.stdout)["campaign_id"])


def call_env(tmp_path: Path, rtp_port_base: int) -> dict[str, str]:
    """Environment for `dialer` commands in a test: its own data, prompt cache and RTP
    ports (tests that run at the same time must not share a range)."""
    return dict(os.environ, DIALER_DATA_DIR=str(tmp_path / "data"),
                DIALER_PROMPT_CACHE_DIR=str(tmp_path / "cache"),
                DIALER_RTP_PORT_BASE=str(rtp_port_base))


def sim_events(log: Path, kind: str) -> list[dict[str, Any]]:
    """The simulator's JSON events of one kind ("latency", "robot quiet", "machine"...)."""
    return [json.loads(ln) for ln in log.read_text(errors="replace").splitlines()
            if ln.startswith("{") and f'"event": "{kind}"' in ln]
