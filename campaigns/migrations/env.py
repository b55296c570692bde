"""Alembic environment: runs migrations against the URL the caller configured."""

from __future__ import annotations

from alembic import context

from campaigns.db import make_engine
from campaigns.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration copies a table and drops the old one. With foreign keys
            # on, SQLite refuses to drop a table that rows of another point at, so an
            # existing database with data could not be upgraded. Off for the migration
            # (it only takes effect outside a transaction), checked, then on again.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            # A batch step that failed half-way (SQLite DDL is not transactional here)
            # leaves its copy behind; the original table is intact, the copy is garbage.
            for (name,) in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE "
                    "'\\_alembic\\_tmp\\_%' ESCAPE '\\'").fetchall():
                connection.exec_driver_sql(f'DROP TABLE "{name}"')
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
            if broken:
                raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
