"""A dry-run on several lines (the persona × line matrix): the simulator answers on each
line's codec with its noise and loss, the robot is none the wiser, and every line gets
its own verdict."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.procs import DEMO, call_env, create_campaign, demo_copy, dialer_cmd, sim_events

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PERSONAS = """\
personas:
  - name: opts out by key
    number: "+821077790001"
    ring_s: 0.3
    replies:
      - {dtmf: "9"}
    expect: {disposition: opt_out}
  - name: busy line
    number: "+821077790002"
    answer: busy
    expect: {disposition: busy}
"""


def test_a_dry_run_runs_each_line_and_the_simulator_answers_on_its_codec(
        tmp_path: Path) -> None:
    env = call_env(tmp_path, 49400)
    cid = create_campaign(env, "lines", demo_copy(tmp_path / "script", PERSONAS))
    # Mild noise: what noise does to the robot is bench/lines.py's to measure; here the
    # key press must get through whatever the line.
    lines = ["pcmu+street@25", "pcma+loss@2"]
    run = subprocess.run(dialer_cmd("campaign", "dry-run", str(cid), "--json", "--timeout",
                                    "240", "--line", lines[0], "--line", lines[1]),
                         env=env, capture_output=True, text=True, timeout=560, check=False)
    assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-3000:])
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["ok"] is True and [r["line"] for r in report["lines"]] == lines
    for r in report["lines"]:
        assert r["expectations"] == {"checked": 2, "passed": 2, "failed": 0,
                                     "unchecked": 0, "ok": True}, r["line"]
        assert "·" in r["rehearsal"]["name"] and r["line"] in r["rehearsal"]["name"]
    # Each line's simulator answered on that line's codec (the robot offers G.722 first).
    logs = tmp_path / "data" / "logs" / f"dry-run-{cid}"
    for r, codec in zip(report["lines"], ("PCMU/8000", "PCMA/8000"), strict=True):
        log = logs / f"rehearsal-{r['rehearsal']['id']}" / "simulator.log"
        ready = sim_events(log, "ready")
        assert ready and ready[0]["line"] == r["line"]
        ended = [e for e in sim_events(log, "ended") if e["sim"] == "opts out by key"]
        assert ended and ended[0]["codec"] == codec, ended
        # ... and the robot stored it with the call, for the call page and the CDRs
        # (the busy line never carried audio: no codec).
        assert stored_codecs(tmp_path, r["rehearsal"]["id"]) == {
            "+821077790001": codec, "+821077790002": None}


def stored_codecs(tmp_path: Path, campaign_id: int) -> dict[str, str | None]:
    """The codec each number's call of the campaign was stored with."""
    from sqlalchemy import select

    from campaigns.db import Database
    from campaigns.models import CallAttempt, Contact

    db = Database(f"sqlite:///{(tmp_path / 'data' / 'dialer.db').resolve()}")
    with db.session() as s:
        rows = s.execute(select(Contact.phone, CallAttempt.codec)
                         .join(Contact, Contact.id == CallAttempt.contact_id)
                         .where(CallAttempt.campaign_id == campaign_id)).all()
    db.engine.dispose()
    return {phone: codec for phone, codec in rows}


def test_a_line_that_makes_no_sense_is_refused_before_anything_starts(tmp_path: Path) -> None:
    env = call_env(tmp_path, 49450)
    cid = create_campaign(env, "x", DEMO)
    run = subprocess.run(dialer_cmd("campaign", "dry-run", str(cid), "--line", "pcmu+rain@5"),
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "--line: 'rain@5' in 'pcmu+rain@5' is neither a codec" in " ".join(run.stderr.split())
