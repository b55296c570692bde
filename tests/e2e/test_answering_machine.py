"""Answering machines over real SIP: the robot never talks over a machine's greeting,
leaves its message after the beep and records the call as `machine`; a person who
answers "여보세요" gets the normal conversation."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.procs import DEMO, call_env, call_json, sim_events, simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PERSONAS = """\
personas:
  - name: voicemail
    number: "+821077770001"
    ring_s: 0.5
    answer: machine
    greeting: 안녕하세요. 지금은 전화를 받을 수 없습니다. 삐 소리가 나면 메시지를 남겨 주세요.
  - name: short greeting, no beep
    number: "+821077770003"
    ring_s: 0.5
    answer: machine
    beep: false
    greeting: 메시지를 남겨 주세요.
  - name: says hello first
    number: "+821077770002"
    ring_s: 0.5
    hello: 여보세요
    replies:
      - say: 아니요 됐어요                    # greeting -> objection
      - say: 너무 비싼 데요                   # objection -> close_not_interested
"""


def test_machine_gets_a_message_after_the_beep_and_a_person_the_conversation(
        tmp_path: Path) -> None:
    script = tmp_path / "campaign"
    shutil.copytree(DEMO, script)
    with (script / "script.yml").open("a", encoding="utf-8") as f:
        f.write("answering_machine:\n  on_machine: voicemail\n"
                "  voicemail: '{name} 고객님, 행복통신입니다. 새 요금제 안내로 다시 연락드리겠습니다.'\n")
    personas = tmp_path / "personas.yml"
    personas.write_text(PERSONAS, encoding="utf-8")
    env = call_env(tmp_path, 49000)
    with simulator(tmp_path, env, personas) as (port, log):
        env["DIALER_SIP_TRUNK"] = f"127.0.0.1:{port}"
        machine = call_json(env, "+821077770001", script)
        person = call_json(env, "+821077770002", script)
        short = call_json(env, "+821077770003", script)
        seen = sim_events(log, "machine")

    assert machine["disposition"] == "machine", machine
    # Its greeting gives it away by its length, its words, its beep or its playing as
    # soon as the call is answered, whichever comes first.
    assert re.fullmatch(r"answering machine \((\d+\.\ds of speech without a pause "
                        r"\(more than \d+\.\ds\)|a beep|it said '.+'|"
                        r"speaking as the call was answered)\); message left",
                        machine["reason"]), machine
    robot = [t for t in machine["turns"] if t["speaker"] == "bot"]
    assert [t["node"] for t in robot] == ["voicemail"], machine["turns"]
    assert robot[0]["text"].startswith("최지영 고객님, 행복통신입니다.")
    # The machine's greeting is in the transcript, and was never answered.
    assert any(t["speaker"] == "customer" for t in machine["turns"])
    # What the machine recorded: nothing over its greeting, the whole message after the
    # beep, starting promptly.
    assert seen and seen[0]["robot_over_greeting_ms"] == 0, seen
    assert seen[0]["message_ms"] >= 2000
    assert 300 <= seen[0]["message_after_beep_ms"] <= 1500, seen

    # A greeting too short to give the machine away by its length, without a beep: its
    # words do, or (when the line lost its first syllable and they were not read) its
    # playing as soon as the call is answered; the message is left once it has gone
    # quiet.
    assert short["disposition"] == "machine", short
    assert short["reason"] in (
        "answering machine (it said '메시지를 남겨'); message left",
        "answering machine (speaking as the call was answered); message left"), short
    assert seen[1]["robot_over_greeting_ms"] == 0 and seen[1]["message_ms"] >= 2000, seen

    turns = person["turns"]
    assert person["disposition"] == "not_interested", person
    # "여보세요" is in the transcript, before the greeting it made the robot start.
    assert turns[0]["speaker"] == "customer" and turns[1]["node"] == "greeting"
    assert turns[1]["speaker"] == "bot"
    assert [(t["node"], t["intent"]) for t in turns[2:] if t["speaker"] == "customer"] == [
        ("greeting", "deny"), ("objection", "too_expensive")], turns
