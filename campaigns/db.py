"""Engine, sessions and schema migration for the campaign database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger("dialer.db")
T = TypeVar("T")


def is_outage(exc: BaseException) -> bool:
    """The database is away (restarting, unreachable, a dropped connection), as opposed
    to a statement it refused: worth waiting for. Takes SQLAlchemy's errors and the
    driver's own (psycopg's, when code calls it directly)."""
    if isinstance(exc, OperationalError | InterfaceError) or (
            isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)):
        return True
    try:
        import psycopg
    except ImportError:  # an SQLite-only install
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def retry_outage(fn: Callable[..., T], *args: Any, deadline_s: float, what: str,
                 **kwargs: Any) -> T:
    """Run `fn`, waiting out a database outage for up to `deadline_s` seconds (backing
    off from 0.2 s to 2 s); anything else, and the outage past the deadline, is raised.
    For writes that must not be lost and are safe to repeat (upserts, compare-and-set)."""
    start, wait, warned = time.monotonic(), 0.2, False
    while True:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if not is_outage(exc) or time.monotonic() - start + wait > deadline_s:
                raise
            if not warned:
                cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
                log.warning("%s waits for the database (%s); retrying for up to %.0fs",
                            what, (str(cause).splitlines() or [""])[0][:200], deadline_s)
                warned = True
            time.sleep(wait)
            wait = min(wait * 2, 2.0)
            continue
        if warned:
            log.info("%s stored after %.1fs without the database", what,
                     time.monotonic() - start)
        return result


# How long opening a PostgreSQL connection may take (libpq's connect_timeout) unless the
# URL says otherwise: without it a server that does not answer (its host gone from the
# network, a stopped VM, a hung postmaster) holds a request, a dispatcher round or a call's
# storage for the kernel's two minutes of SYN retries, or for good once TCP connected.
CONNECT_TIMEOUT_S = 10


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a connection the server dropped (it restarted) is replaced before use
        # instead of failing the first request after the restart.
        libpq = parsed.get_backend_name() == "postgresql" and \
            parsed.get_driver_name() in ("psycopg", "psycopg2")
        args = {"connect_timeout": CONNECT_TIMEOUT_S} \
            if libpq and "connect_timeout" not in parsed.query else {}
        return create_engine(url, pool_pre_ping=True, connect_args=args)
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # Several worker processes share one SQLite file: WAL lets readers run beside the
    # writer, and the busy timeout turns lock contention into a short wait, not an error.
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    import logging

    # Alembic narrates every plugin (at import) and step at INFO; operators need problems.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)


class SchemaError(RuntimeError):
    retryable = False


class Database:
    """One engine and session factory, made by a composition root and passed down."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        upgrade(self.url)
        self.require_schema()

    def schema_problems(self) -> list[str]:
        """Tables and columns the models need that the database lacks."""
        from sqlalchemy import inspect

        from campaigns.models import Base

        have = inspect(self.engine)
        tables = set(have.get_table_names())
        problems = []
        for table in Base.metadata.sorted_tables:
            if table.name not in tables:
                problems.append(f"table {table.name}")
                continue
            columns = {c["name"] for c in have.get_columns(table.name)}
            problems += [f"{table.name}.{c.name}" for c in table.columns if c.name not in columns]
        return problems

    def require_schema(self) -> None:
        """Refuse to run on a database whose schema is not what the code expects (e.g.
        stamped with a revision whose migration was changed after it ran), with the fix,
        instead of failing every call on a missing column."""
        problems = self.schema_problems()
        if problems:
            raise SchemaError(
                f"database {self.engine.url.render_as_string(hide_password=True)} lacks "
                f"{', '.join(problems)} although Alembic says it is up to date; back it up, "
                "then recreate it (dialer db upgrade on an empty database) or add the "
                "columns by hand")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise
