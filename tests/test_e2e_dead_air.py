"""A callee that answers but never sends audio (SIPp as the far end: 200 OK with SDP, no
RTP) ends as dead air within the configured time, with a clear reason, instead of
being reprompted until the no-input limit or hanging the worker."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.procs import DEMO, call_env, dialer_cmd
from tests.support.sipp import sipp_uas

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]


def test_answered_call_without_rtp_is_dead_air(tmp_path: Path) -> None:
    env = call_env(tmp_path, 48800)
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=60) as uas:
        started = time.monotonic()
        proc = subprocess.run(dialer_cmd("call", f"sip:+821055550000@{uas.target}", "--script",
                                         str(DEMO), "--field", "name=최지영", "--json"),
                              env=env, capture_output=True, text=True, timeout=90, check=False)
        took = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr[-3000:]
        outcome = json.loads(proc.stdout.strip().splitlines()[-1])
        assert uas.wait(timeout=15) == 0, "SIPp saw the BYE that ends the call"
    assert outcome["disposition"] == "dead_air", outcome
    assert "no audio (RTP) from the callee for 8s" in outcome["reason"]
    assert outcome["answered"] is True and outcome["end_node"] == "greeting"
    # Ended by the 8 s rule, not by reprompting through the no-input limit.
    assert 8 <= outcome["duration_s"] <= 11 and took < 40
    assert [t["speaker"] for t in outcome["turns"]] == ["bot"]
