"""Simulator personas are checked on load: a mistake names the file and the persona."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.sandbox.personas import Expectation, PersonaError, Reply, load_personas

DEMO = Path(__file__).resolve().parents[3] / "campaigns" / "examples" / "demo"


def personas(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "personas.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_personas_load() -> None:
    loaded = load_personas(DEMO / "personas.yml")
    assert loaded["+821011110001"].replies[0] == Reply("say", "네 좋아요")
    assert all(p.hears for p in loaded.values())
    # Each keeps its own name (reports and dry-runs show it).
    assert len({p.name for p in loaded.values()}) == len(loaded)


def test_a_deaf_persona_speaks_on_a_timer(tmp_path: Path) -> None:
    loaded = load_personas(personas(tmp_path, """\
personas:
  - name: cannot hear
    number: "1"
    hears: false
    replies: [{say: 여보세요, after: 2}, {dtmf: "0", after: 1.5}]
"""))
    p = loaded["1"]
    assert not p.hears and p.name == "cannot hear"
    assert p.replies == (Reply("say", "여보세요", None, 2.0), Reply("dtmf", "0", None, 1.5))


@pytest.mark.parametrize(("body", "message"), [
    ("hears: false\n    replies: [{say: 네}]", "every reply must be {say: ..., after:"),
    ("hears: false\n    replies: [hangup]", "cannot wait for the robot's prompts"),
    ("hears: maybe\n    replies: []", "hears 'maybe' must be true or false"),
    ("replies: [{say: 네, after: -1}]", "after must be seconds >= 0"),
    ("replies: [{say: 네, after: true}]", "after must be seconds >= 0"),
    ("replies: [{say: 네, over: 1, after: 1}]", "exclude each other"),
    ("replies: [{say: 네, when: 1}]", "must be {say: text}"),
    ("answer: agent", "answer: agent needs 'greeting:'"),
    ("expcet: {disposition: busy}", "unknown key 'expcet'; a persona has"),
    ("expect: {disposition: happy}", "expect.disposition 'happy' is no disposition; one of"),
    ("expect: {disposition: [busy]}", "expect.disposition ['busy'] is no disposition"),
    ("expect: {outcome: interested}", "must be {disposition: ..., node: ...}"),
    ("expect: interested", "must be {disposition: ..., node: ...}"),
    ("expect: {}", "must be {disposition: ..., node: ...}"),
    ("expect: {node: 3}", "expect.node 3 must be the name of a node"),
    ("expect: {node: ' '}", "expect.node ' ' must be the name of a node"),
    ("voice: 'ko; rm -rf /'", "must be an espeak-ng voice such as ko+f3"),
    ("voice: {name: ko, speed: 2}", "must be an espeak-ng voice"),
    ("voice: {name: ko, rate: 9000}", "voice.rate 9000 must be a whole number from 80 to 450"),
    ("voice: {name: ko, pitch: -1}", "voice.pitch -1 must be a whole number from 0 to 99"),
    ("pause_ms: 50", "pause_ms 50 must be a whole number from 100 to 5000"),
])
def test_persona_mistakes_are_named(tmp_path: Path, body: str, message: str) -> None:
    path = personas(tmp_path, f'personas:\n  - name: x\n    number: "1"\n    {body}\n')
    with pytest.raises(PersonaError) as err:
        load_personas(path)
    assert str(err.value).startswith(f"{path}: persona 'x'") and message in str(err.value)


def test_the_demo_personas_say_how_their_calls_should_end() -> None:
    loaded = load_personas(DEMO / "personas.yml")
    customers = [p for p in loaded.values() if p.answer != "agent"]
    assert customers and all(p.expect is not None for p in customers)
    assert loaded["+821011110001"].expect == Expectation("interested", "close_interested")
    assert loaded["+821011110006"].expect == Expectation("busy", None)


def test_an_expectation_says_what_differs() -> None:
    both = Expectation("interested", "close_interested")
    assert both.check("interested", "close_interested") is None
    assert both.check("not_interested", "close_not_interested") == (
        "ended not_interested, expected interested; ended at node close_not_interested, "
        "expected close_interested")
    assert both.check(None, None) == ("ended with no disposition, expected interested; "
                                      "ended at node none, expected close_interested")
    # Only what is given is checked.
    assert Expectation("busy").check("busy", None) is None
    assert Expectation(node="handoff").check("hung_up", "handoff") is None
