"""The robot never hears itself, over real SIP: a line that sends the robot's voice back
(120 ms later, half as loud) neither interrupts the robot nor puts its own words into
the transcript, and a customer who talks over the echo still interrupts it. With the
echo guard off, the same line makes the robot interrupt itself (the control)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.procs import call_env, call_json, sim_events, simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PERSONAS = """\
personas:
  - name: echoing line
    number: "+821055550001"
    ring_s: 0.5
    echo: {ms: 120, gain: 0.5}
    replies:
      - say: 아니요 됐어요                    # greeting -> objection
      - say: 너무 비싼 데요                   # objection -> close_not_interested
  - name: echoing line, talks over the robot
    number: "+821055550002"
    ring_s: 0.5
    echo: {ms: 120, gain: 0.5}
    replies:
      - {say: "가격이 얼마에요", over: 1.2}   # over the greeting (and its echo) -> price
      - say: 아니요 됐어요                    # price -> objection
      - say: 너무 비싼 데요                   # objection -> close_not_interested
"""


def guard_log(log: Path) -> list[str]:
    """What the echo guard said about the call (its paths, frames muted), for a failure."""
    return [ln[ln.find("echo guard"):] for ln in log.read_text(encoding="utf-8").splitlines()
            if "echo guard" in ln]


def test_an_echoing_line_does_not_make_the_robot_hear_itself(tmp_path: Path) -> None:
    personas = tmp_path / "personas.yml"
    personas.write_text(PERSONAS, encoding="utf-8")
    env = call_env(tmp_path, 48800)
    with simulator(tmp_path, env, personas) as (port, log):
        env["DIALER_SIP_TRUNK"] = f"127.0.0.1:{port}"
        echoed = call_json(env, "+821055550001", log=tmp_path / "echoed.log")
        over = call_json(env, "+821055550002", log=tmp_path / "over.log")
        control = call_json(dict(env, DIALER_ECHO_GUARD="false"), "+821055550001")

    bots = [t for t in echoed["turns"] if t["speaker"] == "bot"]
    customer = [t for t in echoed["turns"] if t["speaker"] == "customer"]
    why = guard_log(tmp_path / "echoed.log"), [
        (t["speaker"], t["node"], t["text"][:10], t.get("interrupted"), t["offset_ms"])
        for t in echoed["turns"]]
    assert not any(t["interrupted"] for t in bots), why
    assert [(t["node"], t["intent"]) for t in customer] == [
        ("greeting", "deny"), ("objection", "too_expensive")], why
    assert echoed["disposition"] == "not_interested"

    # Talking over the echo is still talking: the robot stops and hears the question.
    turns = over["turns"]
    assert turns[0]["node"] == "greeting" and turns[0]["interrupted"] is True, turns
    assert next((t["node"], t["intent"]) for t in turns if t["speaker"] == "customer") == (
        "greeting", "ask_price"), turns
    assert over["disposition"] == "not_interested", guard_log(tmp_path / "over.log")
    quiet = sim_events(log, "robot quiet")
    assert quiet and quiet[0]["ms"] is not None and quiet[0]["ms"] <= 400 + 60 + 200, quiet

    # The control: without the guard the same line makes the robot interrupt itself.
    bots = [t for t in control["turns"] if t["speaker"] == "bot"]
    assert any(t["interrupted"] for t in bots), control["turns"]
