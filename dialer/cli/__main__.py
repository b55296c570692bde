"""`python -m dialer.cli`: the `dialer` command."""

from dialer.cli.main import app

app()
