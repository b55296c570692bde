"""Trunks that do not answer the happy way, played by SIPp: each final status ends in its
own disposition, with the status, the peer's words and a sentence saying what it means,
and the campaign's retry rule follows from the disposition. SIPp's side of each dialog
completes (it got its ACK).

Measured before: a 503 or a 488 sent at once, without a 100 Trying first (allowed, and
common from trunks), was reported as 408 "no SIP response from ... within 6s": the
wrong status, the wrong retry rule and a hint to check a trunk that had answered."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from campaigns.models import RETRYABLE_DISPOSITIONS
from tests.support.procs import DEMO, call_env, dialer_cmd
from tests.support.sipp import sipp_uas
from tests.support.sipp_farm import quiet_line
from tests.support.sipp_faults import (
    answers_as_cancelled,
    answers_then,
    final_response,
    no_response,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed"),
]
TRYING, RINGING = (100, "Trying"), (180, "Ringing")

# status, text, provisional responses first, disposition, retried?, words in the reason
CASES = [
    (503, "Service Unavailable", (), "failed", True, "overloaded or down"),
    (488, "Not Acceptable Here", (), "failed", True, "no codec in common"),
    (404, "Not Found", (), "invalid_number", False, "does not exist"),
    (603, "Decline", (), "declined", False, "declined"),
    (503, "Service Unavailable", (TRYING,), "failed", True, "overloaded or down"),
    (486, "Busy Here", (TRYING, RINGING), "busy", True, "busy"),
    (480, "Temporarily Unavailable", (RINGING,), "no_answer", True, "not reachable now"),
]


def place(env: dict[str, str], target: str) -> dict[str, object]:
    proc = subprocess.run(dialer_cmd("call", f"sip:+821055550000@{target}", "--script",
                                     str(DEMO), "--field", "name=최지영", "--json"),
                          env=env, capture_output=True, text=True, timeout=90, check=False)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(("code", "text", "first", "disposition", "retried", "words"), CASES,
                         ids=[f"{c[0]}-{'at-once' if not c[2] else 'after-' + str(c[2][-1][0])}"
                              for c in CASES])
def test_a_final_response_ends_in_its_own_disposition(
        tmp_path: Path, code: int, text: str, first: tuple[tuple[int, str], ...],
        disposition: str, retried: bool, words: str) -> None:
    env = call_env(tmp_path, 51000 + code % 100 * 10 + len(first) * 2)
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=30,
                  scenario_xml=final_response(code, text, first)) as uas:
        outcome = place(env, uas.target)
        assert uas.wait(timeout=15) == 0, uas.messages()[-3000:]  # got its ACK
    assert (outcome["disposition"], outcome["sip_status"]) == (disposition, code), outcome
    assert outcome["sip_reason"] == text and outcome["answered"] is False
    reason = str(outcome["reason"])
    assert words in reason and "no SIP response" not in reason, reason
    assert (disposition in RETRYABLE_DISPOSITIONS) is retried


def test_a_trunk_that_says_nothing_is_a_timeout_with_the_hint(tmp_path: Path) -> None:
    env = call_env(tmp_path, 51900)
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=30, scenario_xml=no_response()) as uas:
        outcome = place(env, uas.target)
    assert (outcome["disposition"], outcome["sip_status"]) == ("failed", 408), outcome
    assert "no SIP response from 127.0.0.1" in str(outcome["reason"])


@pytest.mark.parametrize(("codec", "steps", "early"), [
    ("PCMA", ("bye",), False),                       # hangs up during the greeting
    ("PCMU", ("hold", "pause", "update", "pause", "bye"), False),
    ("PCMA", ("pause", "bye"), True),                # 183 with audio before the 200
], ids=["pcma-bye-during-prompt", "pcmu-hold-update-bye", "early-media-pcma"])
def test_a_callee_who_answers_in_its_own_way(tmp_path: Path, codec: str,
                                            steps: tuple[str, ...], early: bool) -> None:
    """One codec only (what a G.711 trunk gives), a re-INVITE putting the call on hold
    and an UPDATE refreshing the session timer from the callee, early media, the callee
    hanging up while the robot speaks: each call is answered, the robot answers every
    request (SIPp got each 200), and the call ends as the callee's hang-up."""
    env = call_env(tmp_path, 51600 + len(steps) * 20 + early * 10)
    line = quiet_line(tmp_path / "silent-line.wav")
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=40,
                  scenario_xml=answers_then(codec, str(line), steps, early)) as uas:
        outcome = place(env, uas.target)
        assert uas.wait(timeout=15) == 0, uas.messages()[-4000:]
    assert outcome["answered"] is True and outcome["sip_status"] == 200, outcome
    assert outcome["disposition"] == "hung_up", outcome
    assert outcome["end_node"] == "greeting", outcome


def test_an_answer_crossing_the_ring_timeout_is_hung_up_cleanly(tmp_path: Path) -> None:
    """The robot gives up ringing (its CANCEL) just as the callee picks up (their 200):
    the two cross on the wire. The callee is not left on an open line: their 200 is
    ACKed and the call hung up with a BYE at once, and the attempt is a no-answer."""
    env = call_env(tmp_path, 51800)
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=30,
                  scenario_xml=answers_as_cancelled()) as uas:
        proc = subprocess.run(dialer_cmd("call", f"sip:+821055550000@{uas.target}",
                                         "--script", str(DEMO), "--field", "name=최지영",
                                         "--ring-timeout", "3", "--json"),
                              env=env, capture_output=True, text=True, timeout=90,
                              check=False)
        assert uas.wait(timeout=15) == 0, uas.messages()[-4000:]
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome["disposition"] == "no_answer", outcome
    assert "BYE sip:" in uas.messages()
