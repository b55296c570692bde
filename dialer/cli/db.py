"""`dialer db ...`: the database schema (Alembic migrations in campaigns/migrations)."""

from __future__ import annotations

import typer

from dialer.cli.common import console, guarded, open_database

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema (DIALER_DATABASE_URL)."""
    guarded(open_database)
    console.print("schema is up to date")
