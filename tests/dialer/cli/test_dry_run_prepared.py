"""Issue 19: `dialer campaign dry-run --prepared ID` is repeatable (the web app's matrix:
one prepared rehearsal per line, paired in order, called in turn by one process). A count
that does not match the lines is refused in one clear line; a line that fails ends the
dry-run, and the rehearsals after it are stopped, not left waiting."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaigns.db import Database
from campaigns.lifecycle import CampaignError, progress
from campaigns.list_imports import create_campaign
from dialer.cli.main import app
from dialer.sandbox import rehearsal
from dialer.sandbox.phone_lines import parse_line
from tests.support.procs import DEMO, dialer_cmd

LINES = ["pcmu", "g722+street@15", "pcma+babble@10+loss@2"]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DIALER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DIALER_DATABASE_URL", raising=False)
    return tmp_path / "data"


def database(data: Path) -> Database:
    db = Database(f"sqlite:///{(data / 'dialer.db').resolve()}")
    db.migrate()
    return db


def campaign_with_rehearsals(data: Path, name: str) -> tuple[Database, int, list[int]]:
    """A demo campaign and a rehearsal of it prepared on each of LINES."""
    db = database(data)
    cid = create_campaign(db, name=name, script_dir=DEMO, csv_path=DEMO / "contacts.csv",
                          uploads_dir=data / "uploads").campaign_id
    return db, cid, [rehearsal.prepare_rehearsal(db, cid, line=parse_line(line))
                     for line in LINES]


def test_a_prepared_count_that_does_not_match_the_lines_is_one_clear_error(
        data: Path) -> None:
    _, cid, ids = campaign_with_rehearsals(data, "mismatch")
    env = dict(os.environ, DIALER_DATA_DIR=str(data))
    env.pop("DIALER_DATABASE_URL", None)
    for lines, prepared, said in (
            (LINES[:2], ids[:1], ("--prepared was given 1 time(s) for 2 line(s) (pcmu, "
                                  "g722+street@15); give one prepared rehearsal per line, "
                                  "in the lines' order")),
            ([], ids[:2], "--prepared was given 2 time(s) for 1 line(s) (clean)")):
        args = [a for line in lines for a in ("--line", line)]
        args += [a for rid in prepared for a in ("--prepared", str(rid))]
        proc = subprocess.run(dialer_cmd("campaign", "dry-run", str(cid), *args), env=env,
                              capture_output=True, text=True, timeout=90, check=False)
        assert proc.returncode == 2, proc.stderr
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and said in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr
    # Refused before anything ran: the rehearsals are as the web app left them.
    db = database(data)
    assert [progress(db, rid)["status"] for rid in ids] == ["draft"] * 3


def run(cid: int, lines: list[str], prepared: list[int]) -> Any:
    args = ["campaign", "dry-run", str(cid), "--json"]
    for line, rid in zip(lines, prepared, strict=True):
        args += ["--line", line, "--prepared", str(rid)]
    return CliRunner().invoke(app, args)


def test_each_prepared_rehearsal_is_called_on_its_line_and_a_failure_stops_the_rest(
        data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, cid, ids = campaign_with_rehearsals(data, "in turn")
    called: list[tuple[int, str]] = []

    def fake_run(db: Any, settings: Any, rid: int, personas: Any, timeout: float,
                 line: Any = None, **_: Any) -> None:
        called.append((rid, line.name))
        if len(called) == 2:
            raise CampaignError("the dry-run's worker stopped; see worker.log")

    monkeypatch.setattr(rehearsal, "run_rehearsal", fake_run)
    result = run(cid, LINES, ids)
    assert result.exit_code == 2, result.output
    assert called == [(ids[0], "pcmu"), (ids[1], "g722+street@15")]
    # The third line never started: stopped, so its page does not show it waiting.
    assert progress(db, ids[2])["status"] == "stopped"


def test_a_rehearsal_of_another_campaign_is_refused(data: Path) -> None:
    _, _, ids = campaign_with_rehearsals(data, "mine")
    _, other, _ = campaign_with_rehearsals(data, "theirs")
    result = run(other, LINES, ids)
    assert result.exit_code == 2
    assert f"--prepared {ids[0]} is no rehearsal of campaign {other}" in result.output
