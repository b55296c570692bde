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
from typing import Any

import pytest

from campaigns.statuses import RETRYABLE_DISPOSITIONS
from tests.support.procs import DEMO, call_env, dialer_cmd
from tests.support.sipp import SippUas, sipp_uas
from tests.support.sipp_farm import quiet_line
from tests.support.sipp_faults import (
    answers_as_cancelled,
    answers_but_ack_lost,
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
OVERLOADED = "overloaded or down"

# status, text, provisional responses first, extra headers, disposition, retried?, words
# the reason must hold
CASES = [
    (503, "Service Unavailable", (), (), "failed", True, OVERLOADED),
    (488, "Not Acceptable Here", (), (), "failed", True, "configuration problem"),
    (404, "Not Found", (), (), "invalid_number", False, "does not exist"),
    (603, "Decline", (), (), "declined", False, "declined"),
    (503, "Service Unavailable", (TRYING,), (), "failed", True, OVERLOADED),
    (503, "Service Unavailable", (TRYING, RINGING), (), "failed", True, OVERLOADED),
    (503, "Service Unavailable", (), ("Retry-After: 120",), "failed", True,
     "no new call within 120 s (Retry-After)"),
    (486, "Busy Here", (TRYING, RINGING), (), "busy", True, "busy"),
    (480, "Temporarily Unavailable", (RINGING,), (), "no_answer", True, "not reachable now"),
]
CASE_IDS = [f"{c[0]}-" + ("-".join(str(p[0]) for p in c[2]) or "at-once")
            + ("-retry-after" if c[3] else "") for c in CASES]


def completed(uas: SippUas) -> None:
    """SIPp's side of the dialog went as its scenario says: one successful call, no
    unexpected message, no request or response it waited for in vain."""
    assert uas.wait(timeout=15) == 0, uas.messages()[-4000:]
    assert (uas.successful_calls(), uas.failures()) == (1, {}), uas.messages()[-4000:]


def place(env: dict[str, str], target: str) -> dict[str, Any]:
    proc = subprocess.run(dialer_cmd("call", f"sip:+821055550000@{target}", "--script",
                                     str(DEMO), "--field", "name=최지영", "--json"),
                          env=env, capture_output=True, text=True, timeout=90, check=False)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(("code", "text", "first", "headers", "disposition", "retried",
                          "words"), CASES, ids=CASE_IDS)
def test_a_final_response_ends_in_its_own_disposition(
        tmp_path: Path, code: int, text: str, first: tuple[tuple[int, str], ...],
        headers: tuple[str, ...], disposition: str, retried: bool, words: str) -> None:
    env = call_env(tmp_path, 51000 + CASES.index(
        (code, text, first, headers, disposition, retried, words)) * 20)
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=30,
                  scenario_xml=final_response(code, text, first, headers)) as uas:
        outcome = place(env, uas.target)
        completed(uas)  # it got its ACK
    assert (outcome["disposition"], outcome["sip_status"]) == (disposition, code), outcome
    assert outcome["sip_reason"] == text and outcome["answered"] is False
    reason = str(outcome["reason"])
    assert reason.startswith(f"{code} {text}: ") and words in reason, reason
    assert "no SIP response" not in reason and "trunk is up" not in reason, reason
    assert (disposition in RETRYABLE_DISPOSITIONS) is retried


def test_a_trunk_that_says_nothing_is_a_timeout_with_the_hint(tmp_path: Path) -> None:
    env = call_env(tmp_path, 51900)
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=30, scenario_xml=no_response()) as uas:
        outcome = place(env, uas.target)
        # The INVITE did reach the trunk (retransmitted, as UDP wants), and nothing else
        # came: no CANCEL may be sent before a provisional response (RFC 3261 9.1).
        requests = {m.split(" ", 1)[0] for m in uas.received()}
        assert requests == {"INVITE"} and uas.requests("INVITE") >= 2, requests
    assert (outcome["disposition"], outcome["sip_status"]) == ("failed", 408), outcome
    assert outcome["reason"] == (f"no SIP response from {uas.target} within 6s; check that "
                                 "the trunk is up and DIALER_SIP_TRUNK (host:port) is right")
    assert "failed" in RETRYABLE_DISPOSITIONS


@pytest.mark.parametrize(("codec", "steps", "early"), [
    ("PCMA", ("bye",), False),                       # hangs up during the greeting
    ("PCMU", ("hold", "pause", "update", "refresh", "pause", "bye"), False),
    ("PCMA", ("pause", "bye"), True),                # 183 with audio before the 200
], ids=["pcma-bye-during-prompt", "pcmu-hold-update-refresh-bye", "early-media-pcma"])
def test_a_callee_who_answers_in_its_own_way(tmp_path: Path, codec: str,
                                            steps: tuple[str, ...], early: bool) -> None:
    """One codec only (what a G.711 trunk gives), a re-INVITE putting the call on hold,
    an UPDATE and a re-INVITE refreshing the session timer from the callee, early media,
    the callee hanging up while the robot speaks: each call is answered, the robot
    answers every request (SIPp got each 200), and the call ends as the callee's
    hang-up."""
    env = call_env(tmp_path, 51600 + len(steps) * 20 + early * 10)
    line = quiet_line(tmp_path / "silent-line.wav")
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=40,
                  scenario_xml=answers_then(codec, str(line), steps, early)) as uas:
        outcome = place(env, uas.target)
        completed(uas)
    assert outcome["answered"] is True and outcome["sip_status"] == 200, outcome
    assert outcome["disposition"] == "hung_up", outcome
    assert outcome["end_node"] == "greeting", outcome
    answers = [m for m in uas.received() if m.startswith("SIP/2.0 200")]
    if "hold" in steps:  # held by the callee: the robot only listens (RFC 3264 8.4)
        assert "a=recvonly" in answers[0], answers[0]
    for refreshed in answers[1:-1]:  # the timer's refreshes are taken as asked
        assert "Session-Expires: 90;refresher=uas" in refreshed, refreshed


def test_an_answer_whose_ack_is_lost_is_acked_again_and_ends_with_the_callee(
        tmp_path: Path) -> None:
    """The callee's network loses the robot's ACK: their 200 comes again and again
    (SIPp plays three of them), then they give up with a BYE (RFC 3261 13.3.1.4). The
    robot ACKs every copy of the 200 (13.2.2.4) and goes on with the same call (no new
    answer, no restarted greeting); the call ends with their BYE, as the callee's
    hang-up: from the robot's side nothing else can be told apart, and the callee did
    hear it until then. Not retried (hung_up), like any call they ended."""
    env = call_env(tmp_path, 51850)
    line = quiet_line(tmp_path / "silent-line.wav")
    with sipp_uas(tmp_path / "sipp", calls=1, timeout_s=40,
                  scenario_xml=answers_but_ack_lost(str(line)), extra_args=("-nr",)) as uas:
        outcome = place(env, uas.target)
        completed(uas)
        assert uas.requests("ACK") == 4  # one for each copy of the 200
    assert (outcome["answered"], outcome["sip_status"]) == (True, 200), outcome
    assert outcome["disposition"] == "hung_up" and outcome["end_node"] == "greeting", outcome
    assert [t["node"] for t in outcome["turns"] if t["speaker"] == "bot"] == ["greeting"]
    assert "hung_up" not in RETRYABLE_DISPOSITIONS


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
        completed(uas)
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome["disposition"] == "no_answer", outcome
    assert "BYE sip:" in uas.messages()
