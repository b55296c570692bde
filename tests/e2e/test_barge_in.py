"""Barge-in over real SIP: a customer who talks over the robot stops it and is heard from
the first syllable; a customer who only says "네" while it talks does not stop it; a
customer who presses 9 (RFC 4733) during the greeting is opted out at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.procs import call_env, call_json, sim_events, simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PERSONAS = """\
personas:
  - name: interrupter
    number: "+821099990001"
    ring_s: 0.5
    replies:
      - {say: "가격이 얼마에요", over: 1.2}   # over the greeting -> price
      - say: 아니요 됐어요                    # price -> objection
      - say: 너무 비싼 데요                   # objection -> close_not_interested
  - name: backchanneler
    number: "+821099990002"
    ring_s: 0.5
    replies:
      - {say: "네", over: 1.0}               # a backchannel: the robot talks on
      - say: 아니요 됐어요                    # greeting -> objection
      - say: 너무 비싼 데요                   # objection -> close_not_interested
  - name: presses nine
    number: "+821099990003"
    ring_s: 0.5
    replies:
      - {dtmf: "9", over: 1.5}              # "press 9 to opt out", during the greeting
"""


def test_talking_over_the_robot_interrupts_it_but_a_backchannel_does_not(
        tmp_path: Path) -> None:
    personas = tmp_path / "personas.yml"
    personas.write_text(PERSONAS, encoding="utf-8")
    env = call_env(tmp_path, 48600)
    with simulator(tmp_path, env, personas) as (port, log):
        env["DIALER_SIP_TRUNK"] = f"127.0.0.1:{port}"
        interrupted = call_json(env, "+821099990001")
        backchannel = call_json(env, "+821099990002")
        pressed = call_json(env, "+821099990003")

    # Interrupted: the greeting is marked so, the question asked over it was understood
    # whole and answered, and the call went on to its end.
    turns = interrupted["turns"]
    assert turns[0]["speaker"] == "bot" and turns[0]["node"] == "greeting"
    assert turns[0]["interrupted"] is True, turns
    customer = [t for t in turns if t["speaker"] == "customer"]
    assert [(t["node"], t["intent"]) for t in customer] == [
        ("greeting", "ask_price"), ("price", "deny"), ("objection", "too_expensive")], customer
    assert interrupted["disposition"] == "not_interested"
    # As the caller heard it: the robot fell silent soon after they started talking
    # (barge-in threshold 400 ms + the 60 ms the VAD needs to see speech + <= 200 ms).
    quiet = sim_events(log, "robot quiet")
    assert quiet[0]["ms"] is not None and quiet[0]["ms"] <= 400 + 60 + 200, quiet

    # Backchannel: the greeting played to the end and "네" was not taken as an answer.
    turns = backchannel["turns"]
    assert turns[0]["interrupted"] is False and turns[1]["speaker"] == "customer"
    assert turns[1]["intent"] == "deny" and turns[1]["node"] == "greeting", turns
    assert backchannel["disposition"] == "not_interested"
    # Every answer was timed from the caller's side.
    assert len(sim_events(log, "latency")) >= 4

    # DTMF: the key stopped the greeting and was taken as the opt-out it means there.
    turns = pressed["turns"]
    assert pressed["disposition"] == "opt_out", pressed
    assert turns[0]["interrupted"] is True
    assert (turns[1]["speaker"], turns[1]["text"], turns[1]["intent"]) == (
        "customer", "DTMF 9", "opt_out")
    assert turns[2]["node"] == "opt_out_close"
