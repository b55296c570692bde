"""One-way audio, both ways. A callee that answers but never sends audio (SIPp as the far
end: 200 OK with SDP, no RTP) ends as dead air within the configured time, with a clear
reason, instead of being reprompted until the no-input limit or hanging the worker. A
callee who cannot hear us, and says so, ends as dead air too."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.procs import DEMO, call_env, call_json, dialer_cmd, sim_events, simulator
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


DEAF = """\
personas:
  - name: cannot hear us
    number: "+821066660009"
    ring_s: 0.5
    hears: false                              # our RTP never reaches their ear
    replies:
      - {say: 여보세요 여보세요, after: 2}     # over the greeting: barge-in, cant_hear
      - {say: 여보세요 안 들려, after: 4}      # over "들리세요?": the line is dead
"""


def test_a_callee_who_cannot_hear_us_ends_as_dead_air(tmp_path: Path) -> None:
    """The other one-way audio: their voice reaches us, ours does not reach them. Nothing
    in RTP shows it (pjmedia's receiver reports do not say whether the far end got any
    of our packets), but people say so: "여보세요 여보세요", "안 들려". The robot asks once
    whether they hear it, then ends the call as dead air, to be dialed again."""
    personas = tmp_path / "personas.yml"
    personas.write_text(DEAF, encoding="utf-8")
    env = call_env(tmp_path, 48820)
    with simulator(tmp_path, env, personas) as (port, log):
        env["DIALER_SIP_TRUNK"] = f"127.0.0.1:{port}"
        outcome = call_json(env, "+821066660009")
        said = sim_events(log, "say")
    assert outcome["disposition"] == "dead_air", outcome
    assert outcome["reason"] == "the callee could not hear us (one-way audio)", outcome
    assert outcome["end_node"] == "line_dead"
    customer = [t for t in outcome["turns"] if t["speaker"] == "customer"]
    assert [t["intent"] for t in customer] == ["cant_hear", "cant_hear"], customer
    bots = [t["node"] for t in outcome["turns"] if t["speaker"] == "bot"]
    assert bots == ["greeting", "line_check", "line_dead"], outcome["turns"]
    assert [e["text"] for e in said] == ["여보세요 여보세요", "여보세요 안 들려"]
