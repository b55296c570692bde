"""`dialer trunk ...`: the admins' list of SIP trunks campaigns may pick (campaigns/trunks.py)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

trunk_app = typer.Typer(help="SIP trunks campaigns may dial through (admins keep the list).",
                        no_args_is_help=True)


@trunk_app.command("set")
def trunk_set(
    name: str,
    host: Annotated[str, typer.Option(help="host[:port] calls go to: sip:<number>@host.")],
    caller_id: Annotated[list[str] | None, typer.Option(
        help="A caller ID the carrier allows on it (+ and digits); repeat for more.")] = None,
    registrar: Annotated[str | None, typer.Option(help="REGISTER here, e.g. sip:host.")] = None,
    outbound_proxy: Annotated[str | None, typer.Option(help="e.g. sip:proxy;lr")] = None,
    username: Annotated[str | None, typer.Option(help="Digest user name.")] = None,
    realm: Annotated[str | None, typer.Option(
        help="The digest realm the credentials answer (required with them; never *).")] = None,
    transport: Annotated[str, typer.Option(help="udp or tcp.")] = "udp",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the digest password from standard input.")] = False,
) -> None:
    """Add the trunk NAME or replace its settings (the password only with --password-stdin)."""
    from campaigns import trunks
    from dialer.cli.common import console, fail, open_database

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        trunks.save_trunk(open_database(), name, {
            "host": host, "caller_ids": caller_id or [], "registrar": registrar,
            "outbound_proxy": outbound_proxy, "username": username, "realm": realm,
            "transport": transport}, by="cli", password=password)
    except trunks.TrunkError as exc:
        fail(str(exc))
    console.print(f"trunk {name} saved")


@trunk_app.command("list")
def trunk_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The trunks (passwords are never shown)."""
    from campaigns import trunks
    from dialer.cli.common import console, open_database

    rows = trunks.list_trunks(open_database())
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    for t in rows:
        console.print(f"{t['name']}: {t['host']} ({t['transport']}) caller IDs "
                      f"{', '.join(t['caller_ids']) or '-'}"
                      f"{'; credentials for realm ' + t['realm'] if t['username'] else ''}",
                      highlight=False)


@trunk_app.command("remove")
def trunk_remove(name: str) -> None:
    """Remove a trunk no live campaign uses."""
    from campaigns import trunks
    from dialer.cli.common import console, fail, open_database

    try:
        trunks.delete_trunk(open_database(), name)
    except trunks.TrunkError as exc:
        fail(str(exc))
    console.print(f"trunk {name} removed")
