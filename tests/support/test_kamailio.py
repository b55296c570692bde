"""The Kamailio test trunk (tests/support/kamailio.py) against real peers on 127.0.0.1:
pjsua2 registering and calling through it, SIPp answering as the customer UAS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.kamailio import KamailioTrunk, kamailio_trunk, sip_options_ping
from tests.support.pjsua_agent import RESULT_PREFIX
from tests.support.sipp import sipp_uas

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio is not installed"),
]

AGENT = Path(__file__).resolve().parent / "pjsua_agent.py"
NUMBER = "+821012345678"


def agent_cmd(trunk: KamailioTrunk, workdir: Path, *extra: str,
              password: str | None = None) -> list[str]:
    return [sys.executable, str(AGENT), "--registrar", f"{trunk.host}:{trunk.port}",
            "--user", trunk.username, "--password", password or trunk.password,
            "--timeout", "8", "--log", str(workdir / "pjsua.log"), *extra]


def parse_result(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    raise AssertionError(f"no result from the pjsua agent:\n{stdout[-3000:]}")


def run_agent(trunk: KamailioTrunk, workdir: Path, *extra: str,
              password: str | None = None) -> dict[str, Any]:
    proc = subprocess.run(agent_cmd(trunk, workdir, *extra, password=password),
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, f"agent failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return parse_result(proc.stdout)


def assert_gone(pid: int) -> None:
    """Neither the process nor anything left in its process group is alive."""
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_trunk_answers_options_and_stops_cleanly(tmp_path: Path) -> None:
    with kamailio_trunk(tmp_path, target="127.0.0.1:5070") as trunk:
        assert sip_options_ping(trunk.host, trunk.port) == 200
        assert trunk.registered_contacts() == []
        assert trunk.pid is not None
        pid = trunk.pid
        cfg = (tmp_path / "kamailio.cfg").read_text()
        assert f"listen=udp:127.0.0.1:{trunk.port}" in cfg
    assert_gone(pid)
    assert sip_options_ping(trunk.host, trunk.port, timeout=0.3) is None


def test_pjsua2_registers_with_digest_auth(tmp_path: Path) -> None:
    with kamailio_trunk(tmp_path, "127.0.0.1:5070") as trunk:
        release = tmp_path / "release"
        with (tmp_path / "agent.err").open("w") as err_file:
            proc = subprocess.Popen(agent_cmd(trunk, tmp_path, "--wait-file", str(release)),
                                    stdout=subprocess.PIPE, stderr=err_file, text=True)
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + 20
            for line in proc.stdout:  # the agent prints REGISTERED while it stays registered
                if line.strip() == "REGISTERED" or time.monotonic() > deadline:
                    break
            contacts = trunk.registered_contacts()
            release.touch()
            out, _ = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        result = parse_result(out)
        assert result["registration"]["code"] == 200, result
        port = result["local_port"]
        assert [c for c in contacts if c.startswith(f"sip:robot@127.0.0.1:{port}")], contacts

        challenge = trunk.wait_for_log("TRUNK REGISTER-CHALLENGE 401")
        assert f"src=127.0.0.1:{port}" in challenge
        ok = trunk.wait_for_log("TRUNK REGISTER-OK")
        assert "aor=sip:robot@127.0.0.1" in ok and f"127.0.0.1:{port}" in ok
        # libDestroy unregisters: the location table is empty again.
        trunk.wait_for_log("expires=0")
        assert trunk.registered_contacts() == []


def test_pjsua2_wrong_password_is_refused(tmp_path: Path) -> None:
    with kamailio_trunk(tmp_path, "127.0.0.1:5070") as trunk:
        result = run_agent(trunk, tmp_path, password="not-the-password")
        code = result["registration"]["code"]
        assert code is not None and not 200 <= code < 300, result
        assert code == 403
        trunk.wait_for_log("TRUNK REGISTER-FORBIDDEN 403 rc=-2")
        assert trunk.trunk_lines("REGISTER-OK") == []
        assert trunk.registered_contacts() == []


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed")
def test_invite_is_proxy_authenticated_and_relayed_to_uas(tmp_path: Path) -> None:
    started = time.monotonic()
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=25) as uas, \
            kamailio_trunk(tmp_path / "kamailio", uas.target) as trunk:
        uri = f"sip:{NUMBER}@127.0.0.1:{trunk.port}"
        result = run_agent(trunk, tmp_path, "--call", uri, "--hold", "0.3")
        sipp_rc = uas.wait(timeout=15)

        assert result["registration"]["code"] == 200, result
        call = result["call"]
        assert call is not None, result
        states = [s["name"] for s in call["states"]]
        assert call["confirmed"] and call["connect_code"] == 200, states
        assert call["disconnected"] and states[-1] == "DISCONNECTED", states

        # SIPp: exactly one call, answered and ended by BYE, no failures.
        assert sipp_rc == 0, uas.log_path.read_text(errors="replace")[-3000:]
        assert uas.successful_calls() == 1
        assert uas.failed_calls() == 0
        msgs = uas.messages()
        assert f"INVITE sip:{NUMBER}@{uas.target} SIP/2.0" in msgs
        assert "Proxy-Authorization" not in msgs  # the trunk consumed the credentials
        assert f"Record-Route: <sip:127.0.0.1:{trunk.port};lr" in msgs
        assert "BYE sip:" in msgs

        challenge = trunk.wait_for_log("TRUNK INVITE-CHALLENGE 407")
        assert f"ruri={uri}" in challenge
        relay = trunk.wait_for_log("TRUNK INVITE-RELAY")
        assert f"ruri=sip:{NUMBER}@{uas.target}" in relay
        assert "from=sip:robot@127.0.0.1" in relay
        assert trunk.trunk_lines("INVITE-FORBIDDEN") == []
        # The 200 came back through the trunk, and ACK and BYE followed the record-route.
        assert any(" 200 OK " in ln and " INVITE " in ln for ln in trunk.trunk_lines("REPLY"))
        in_dialog = " ".join(trunk.trunk_lines("IN-DIALOG"))
        assert "IN-DIALOG ACK" in in_dialog and "IN-DIALOG BYE" in in_dialog
        sipp_pid, kam_pid = uas.proc.pid, trunk.pid
    assert kam_pid is not None
    assert_gone(kam_pid)
    assert_gone(sipp_pid)
    assert time.monotonic() - started < 30
