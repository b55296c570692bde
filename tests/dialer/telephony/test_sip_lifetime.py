"""pjsua2 call objects must never be able to touch a newer call that reuses their slot
(see dialer.telephony.call.SipCall), and audio ports are pooled rather than destroyed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import ROOT, simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PERSONAS = """\
personas:
  - {name: stays on the line, number: "+821099990002", ring_s: 0.1}
"""


def test_dropping_old_call_objects_leaves_a_newer_call_in_their_slot_alone(
        tmp_path: Path) -> None:
    personas = tmp_path / "personas.yml"
    personas.write_text(PERSONAS, encoding="utf-8")
    env = dict(os.environ, DIALER_DATA_DIR=str(tmp_path / "data"),
               DIALER_PROMPT_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    with simulator(tmp_path, env, personas=personas) as (port, _log):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "support" / "sip_lifetime_probe.py"),
             f"127.0.0.1:{port}", "+821099990002", "42600"],
            env=env, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])

    assert result["live_slot"] in result["slots"], "the probe must reuse a slot"
    assert result["answered"]
    assert result["live_state_after_drop"] == "CONFIRMED", result
    assert not result["live_disconnected"]
    # One port served six sequential calls; the registry holds only live calls.
    assert result["audio_ports"] == 1
    assert result["live_calls_tracked"] == 1 and result["live_calls_after_end"] == 0
