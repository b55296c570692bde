"""A dry-run over real SIP: the campaign is rehearsed with simulated customers through a
private broker, simulator and worker; the report shows each persona's transcript and
disposition and flags the turn where the robot did not understand; personas that say how
their call should end (`expect:`) pass or fail, and one failure makes the CLI exit 1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.procs import create_campaign, demo_copy, dialer_cmd, dry_run_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

PERSONAS = """\
personas:
  - name: keen
    number: "+821077770001"
    ring_s: 0.5
    replies:
      - say: 네 좋아요
      - say: 가격이 얼마에요
      - say: 네 관심 있어요
      - say: 좋아요
    expect: {disposition: interested, node: close_interested}
  - name: off topic
    number: "+821077770002"
    ring_s: 0.5
    replies:
      - say: 우리 강아지가 아파요          # not in the script: the robot falls back
      - say: 아니요 됐어요
      - say: 너무 비싼 데요
    # Wrong on purpose: this customer never asks to be taken off the list.
    expect: {disposition: opt_out}
  - name: busy line
    number: "+821077770003"
    answer: busy
    expect: {disposition: busy}
"""


def test_dry_run_shows_transcripts_dispositions_and_flags(tmp_path: Path) -> None:
    env = dry_run_env(tmp_path, 49200)  # production's trunk and broker: never used
    cid = str(create_campaign(env, "autumn", demo_copy(tmp_path / "script", PERSONAS)))
    run = subprocess.run(dialer_cmd("campaign", "dry-run", cid, "--json", "--timeout", "300"),
                         env=env, capture_output=True, text=True, timeout=400, check=False)
    # One persona's expectation is not met: the dry-run fails, and says which and why.
    assert run.returncode == 1, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    calls = {c["persona"]: c for c in report["calls"]}
    assert set(calls) == {"keen", "off topic", "busy line"}
    assert report["expectations"] == {"checked": 3, "passed": 2, "failed": 1,
                                      "unchecked": 0, "ok": False}
    assert calls["keen"]["passed"] is True and calls["busy line"]["passed"] is True
    off = calls["off topic"]
    assert off["passed"] is False
    assert off["why"] == f"ended {off['disposition']}, expected opt_out"
    assert calls["keen"]["disposition"] == "interested" and calls["keen"]["flags"] == 0
    assert calls["busy line"]["disposition"] == "busy"
    flagged = [t for t in off["turns"] if t["flags"]]
    assert flagged and flagged[0]["speaker"] == "customer"
    assert flagged[0]["flags"][0].startswith(("fell back", "misunderstood")), flagged
    assert flagged[0]["said"] == "우리 강아지가 아파요"  # the truth beside what was heard
    assert report["flagged_turns"] >= 1 and report["campaign_id"] == int(cid)
    # The original campaign was not touched: still a draft, nobody called.
    listed = subprocess.run(dialer_cmd("campaign", "list", "--json"), env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    campaigns = {c["id"]: c for c in json.loads(listed.stdout)}
    assert campaigns[int(cid)]["status"] == "draft"
