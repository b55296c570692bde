"""`dialer user ...`: the web app's users (campaigns/users.py); the first admin is made
here."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from dialer.cli.common import console, guarded, open_database

user_app = typer.Typer(help="Users of the web app (the first admin is made here).",
                       no_args_is_help=True)


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(
        help="admin | marketing | agent | analyst | supervisor")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (scripts).")] = False,
    sip_uri: Annotated[str | None, typer.Option(
        help="Agents: the phone handed-off calls ring, e.g. sip:agent1@pbx.example.com")] = None,
    skills: Annotated[str | None, typer.Option(
        help="Agents: comma-separated skills routing matches, e.g. billing,korean")] = None,
) -> None:
    """Create a user; asks for the password twice unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    from campaigns.users import create_user

    db = guarded(open_database)
    user_id = guarded(create_user, db, username, password, role, sip_uri, skills)
    console.print(f"user {username} ({role.strip().lower()}) created, id {user_id}")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The users, their roles and whether they can log in."""
    from campaigns.users import list_users

    users = list_users(guarded(open_database))
    if as_json:
        print(json.dumps(users))
        return
    table = Table("id", "user", "role", "active", "last login")
    for u in users:
        table.add_row(str(u["id"]), str(u["username"]), str(u["role"]),
                      "yes" if u["active"] else "no", str(u["last_login_at"] or "never"))
    console.print(table)
