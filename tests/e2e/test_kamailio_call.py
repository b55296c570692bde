"""End to end through a real trunk: the robot's own call path (`dialer call`, the same
CallRuntime a Celery child uses) registers at Kamailio with digest auth, its INVITE is
challenged (407) and relayed to the customer simulator, and the conversation is
recognised by vosk from the RTP audio that crossed the proxy's dialog."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.kamailio import kamailio_trunk
from tests.support.procs import DEMO, call_env, dialer_cmd, simulator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio is not installed"),
]

HUMAN = "+821011110004"  # persona "asks for a human": identity question, then a person


def _call(env: dict[str, str], number: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(dialer_cmd("call", number, "--script", str(DEMO), "--field",
                                     "name=최지영", "--ring-timeout", "10", "--json"),
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_robot_registers_and_calls_through_kamailio_trunk(tmp_path: Path) -> None:
    env = call_env(tmp_path, 48200)
    with simulator(tmp_path, env) as (sim_port, sim_log), \
            kamailio_trunk(tmp_path / "kamailio", target=f"127.0.0.1:{sim_port}") as trunk:
        env.update(DIALER_SIP_TRUNK=f"{trunk.host}:{trunk.port}",
                   DIALER_SIP_REGISTRAR=trunk.uri, DIALER_SIP_USERNAME=trunk.username,
                   DIALER_SIP_PASSWORD=trunk.password, DIALER_SIP_CALLER_ID=trunk.username)
        proc = _call(env, HUMAN)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outcome = json.loads(proc.stdout.strip().splitlines()[-1])

        # The conversation crossed the trunk both ways and was understood.
        assert outcome["disposition"] == "handoff" and outcome["handoff"] is True, outcome
        assert outcome["sip_status"] == 200
        customer = [t for t in outcome["turns"] if t["speaker"] == "customer"]
        assert [t["intent"] for t in customer] == ["ask_identity", "request_human"], customer
        assert all(t["asr_confidence"] > 0.5 for t in customer)

        # What the trunk saw: REGISTER challenged then accepted, INVITE challenged (407)
        # then relayed to the simulator, the dialog ended by BYE through the proxy.
        assert {ln.split()[2] for ln in trunk.trunk_lines("REGISTER-CHALLENGE")} == {"401"}
        assert any("aor=sip:robot@" in ln for ln in trunk.trunk_lines("REGISTER-OK"))
        assert [ln.split()[2] for ln in trunk.trunk_lines("INVITE-CHALLENGE")] == ["407"]
        relay = trunk.wait_for_log("TRUNK INVITE-RELAY")
        assert f"ruri=sip:{HUMAN}@127.0.0.1:{sim_port}" in relay
        assert trunk.trunk_lines("INVITE-FORBIDDEN") == []
        assert "IN-DIALOG BYE" in " ".join(trunk.trunk_lines("IN-DIALOG"))
        assert '"event": "ringing"' in sim_log.read_text()

        # Wrong credentials: a clear error naming the setting, non-zero exit, no call.
        env["DIALER_SIP_PASSWORD"] = "wrong"
        rings = sim_log.read_text().count('"event": "ringing"')
        bad = _call(env, HUMAN)
        assert bad.returncode != 0
        assert "DIALER_SIP_PASSWORD" in bad.stderr and "403" in bad.stderr, bad.stderr[-2000:]
        assert sim_log.read_text().count('"event": "ringing"') == rings
