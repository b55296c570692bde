"""A private PostgreSQL server for the tests: its own cluster in a temporary directory, on
a free port of 127.0.0.1, started and stopped by the tests themselves (the server from
Debian's `postgresql` package, which `make test` installs). PostgreSQL refuses to run as
root, so under root the cluster belongs to the `postgres` user."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.procs import free_udp_tcp_port


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available() -> bool:
    return pg_bin("initdb") is not None and pg_bin("pg_ctl") is not None


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL of a fresh server's `postgres` database (user postgres, trust auth
    on loopback only)."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    assert initdb and pg_ctl, "PostgreSQL is not installed (make test installs it)"
    owner = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="dialer-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if owner:
        uid, gid = pwd.getpwnam(owner).pw_uid, pwd.getpwnam(owner).pw_gid
        for p in (base, sock):
            os.chown(p, uid, gid)
    port = free_udp_tcp_port()
    log = base / "server.log"
    subprocess.run(_as_owner([initdb, "-D", str(data), "-U", "postgres", "-A", "trust",
                              "-E", "UTF8", "--no-sync"], owner),
                   check=True, capture_output=True, timeout=120)
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories={sock} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200")
    subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w",
                              "-t", "60", "start"], owner), check=True, capture_output=True,
                   timeout=90)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "stop"], owner),
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """Create an empty database on the server; return its URL."""
    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    for attempt in range(20):
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            break
        except Exception:
            if attempt == 19:
                raise
            time.sleep(0.25)
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
