"""`dialer` command line: campaigns, one-off calls, the simulator, the worker, the web app.

This module only assembles the command tree (the entry point `dialer.cli.main:app`, also
run by `python -m dialer.cli`); each group of commands has its own module:

    dialer campaign ...                   dialer/cli/campaigns.py
    dialer dnc ...                        dialer/cli/dnc.py
    dialer script check, call, simulate   dialer/cli/calls.py
    dialer worker, serve, demo            dialer/cli/services.py
    dialer user ...                       dialer/cli/users.py
    dialer db ...                         dialer/cli/db.py
    dialer trunk ...                      dialer/cli/trunks.py
    dialer imports ...                    dialer/cli/imports.py

What they share (the consoles, failing with a sentence, opening the database) is in
dialer/cli/common.py.
"""

from __future__ import annotations

import typer

from dialer.cli.calls import call, script_app, simulate
from dialer.cli.campaigns import campaign_app
from dialer.cli.db import db_app
from dialer.cli.dnc import dnc_app
from dialer.cli.imports import imports_app
from dialer.cli.services import demo, serve, worker
from dialer.cli.trunks import trunk_app
from dialer.cli.users import user_app

app = typer.Typer(help="Offline AI outbound voice robot.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
# `dialer --help` lists the commands, then the groups, each in the order added here.
app.command("call")(call)
app.command("simulate")(simulate)
app.command("worker")(worker)
app.command("serve")(serve)
app.command("demo")(demo)
app.add_typer(campaign_app, name="campaign")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(trunk_app, name="trunk")
app.add_typer(imports_app, name="imports")
app.add_typer(dnc_app, name="dnc")
app.add_typer(script_app, name="script")


if __name__ == "__main__":
    app()
