"""`python -m nlu ...`; see nlu/cli.py."""

from nlu.cli import main

main()
