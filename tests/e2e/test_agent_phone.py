"""The simulated agent's phone: `dialer simulate` registers at Kamailio as an agent,
a call to that agent is routed by the registrar to where the phone registered, the phone
answers on its own, greets, and both sides hear each other."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.kamailio import kamailio_trunk
from tests.support.procs import DEMO, call_env, dialer_cmd, free_udp_tcp_port, spawn, stop, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(240),
    pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio is not installed"),
]

AGENTS = """\
personas:
  - name: 상담원 김지수
    number: agent1
    answer: agent
    ring_s: 0.3
    greeting: 네 상담원 김지수입니다 무엇을 도와드릴까요
"""


def test_an_agent_phone_registers_answers_and_hears_the_caller(tmp_path: Path) -> None:
    env = call_env(tmp_path, 48600)
    agents = tmp_path / "agents.yml"
    agents.write_text(AGENTS, encoding="utf-8")
    with kamailio_trunk(tmp_path / "kamailio", target="127.0.0.1:9",
                        agents=("agent1",)) as trunk:
        log = tmp_path / "agent-phone.log"
        phone = spawn(dialer_cmd("simulate", "--personas", str(agents), "--port",
                                 str(free_udp_tcp_port()), "--rtp-port", "47800",
                                 "--registrar", f"{trunk.host}:{trunk.port}",
                                 "--username", "agent1", "--password", trunk.password),
                      log, env)
        try:
            wait_for(lambda: '"event": "ready"' in log.read_text(errors="replace"), 90,
                     "agent phone", phone, log)
            assert "aor=sip:agent1@" in trunk.wait_for_log("TRUNK REGISTER-OK aor=sip:agent1")
            env.update(DIALER_SIP_TRUNK=f"{trunk.host}:{trunk.port}",
                       DIALER_SIP_REGISTRAR=trunk.uri, DIALER_SIP_USERNAME=trunk.username,
                       DIALER_SIP_PASSWORD=trunk.password, DIALER_SIP_CALLER_ID=trunk.username)
            call = subprocess.run(dialer_cmd("call", "agent1", "--script", str(DEMO), "--field",
                                             "name=최지영", "--ring-timeout", "10", "--json"),
                                  env=env, capture_output=True, text=True, timeout=150,
                                  check=False)
            assert call.returncode == 0, call.stderr[-3000:]
            outcome = json.loads(call.stdout.strip().splitlines()[-1])
            wait_for(lambda: '"event": "agent heard"' in log.read_text(errors="replace"), 30,
                     "the agent phone's report", phone, log)
        finally:
            stop(phone)
        events = [json.loads(ln) for ln in log.read_text(errors="replace").splitlines()
                  if ln.startswith("{")]
    # Kamailio sent the INVITE to the phone's registered contact, not to the trunk target.
    assert trunk.trunk_lines("INVITE-AGENT"), trunk.log_text()[-2000:]
    kinds = [e["event"] for e in events]
    assert kinds.index("ringing") < kinds.index("agent answered") < kinds.index("agent heard")
    heard = next(e for e in events if e["event"] == "agent heard")
    assert heard["heard_ms"] > 1000, heard  # the robot's greeting reached the agent
    assert outcome["sip_status"] == 200
    # ...and the agent's greeting reached the robot: it heard the other side speak.
    customer = [t for t in outcome["turns"] if t["speaker"] == "customer"]
    assert customer and customer[0]["text"], outcome["turns"]
