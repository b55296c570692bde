"""Script validation and the dialogue policy, walked through without audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.conversation.policy import DialoguePolicy, Understanding
from dialer.conversation.script import ScriptError
from dialer.conversation.script_loader import load_script

DEMO = Path(__file__).resolve().parents[3] / "campaigns" / "examples" / "demo"
DEMO_INTENTS = {"affirm", "deny", "ask_price", "too_expensive", "already_have", "call_later",
                "request_human", "ask_identity", "opt_out", "cant_hear"}


def said(intent: str, text: str = "x", conf: float = 0.9, asr: float = 0.95) -> Understanding:
    return Understanding(text=text, intent=intent, confidence=conf, asr_confidence=asr)


@pytest.fixture
def demo_policy() -> DialoguePolicy:
    script = load_script(DEMO, known_intents=DEMO_INTENTS)
    return DialoguePolicy(script, {"name": "김민수"})


def test_greeting_names_the_contact_and_the_caller(demo_policy: DialoguePolicy) -> None:
    first = demo_policy.start()
    assert first.node == "greeting"
    assert "김민수 고객님" in first.text
    assert "행복통신" in first.text and "인공지능" in first.text  # who is calling, AI voice
    assert "수신 거부" in first.text  # the opt-out is offered
    assert first.end is None


def test_interested_path_ends_interested(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    assert demo_policy.on_reply(said("affirm")).node == "pitch"
    assert demo_policy.on_reply(said("ask_price")).node == "price"
    assert demo_policy.on_reply(said("affirm")).node == "offer"
    end = demo_policy.on_reply(said("affirm"))
    assert (end.node, end.end, end.handoff) == ("close_interested", "interested", False)


def test_two_refusals_close_politely_with_the_reason(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    assert demo_policy.on_reply(said("deny")).node == "objection"
    end = demo_policy.on_reply(said("too_expensive"))
    assert end.end == "not_interested"
    assert end.reason == "too_expensive"  # the customer's own last reason is recorded


def test_request_for_a_person_hands_off_from_any_node(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    demo_policy.on_reply(said("affirm"))
    end = demo_policy.on_reply(said("request_human"))
    assert (end.node, end.end, end.handoff) == ("handoff", "handoff", True)
    assert end.reason == "customer intent request_human"


def test_identity_question_is_answered_then_flow_continues(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    assert demo_policy.on_reply(said("ask_identity")).node == "identify"
    assert demo_policy.on_reply(said("affirm")).node == "pitch"


def test_repeated_fallback_hands_off_as_unsure(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    first = demo_policy.on_reply(said("nlu_fallback", conf=0.2))
    assert first.kind == "fallback" and first.end is None and first.node == "greeting"
    assert "다시" in first.text  # apology + the question again
    end = demo_policy.on_reply(said("affirm", asr=0.1))  # low ASR confidence is unsure too
    assert end.handoff and end.end == "handoff"
    assert "2 misunderstood replies" in (end.reason or "")


def test_fallback_counter_resets_after_an_understood_reply(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    demo_policy.on_reply(said("nlu_fallback"))
    assert demo_policy.on_reply(said("affirm")).node == "pitch"
    assert demo_policy.on_reply(said("nlu_fallback")).kind == "fallback"  # not a handoff yet


def test_unexpected_intent_reprompts(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    demo_policy.on_reply(said("affirm"))
    demo_policy.on_reply(said("affirm"))  # offer
    again = demo_policy.on_reply(said("ask_price"))  # offer does not expect ask_price
    assert again.kind == "no_match" and again.node == "offer"


def test_silence_reprompts_then_ends_no_input(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    assert demo_policy.on_no_input().kind == "no_input"
    assert demo_policy.on_no_input().end is None
    end = demo_policy.on_no_input()
    assert end.end == "no_input" and end.text == ""


def test_opt_out_is_honoured_anywhere(demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    end = demo_policy.on_reply(said("opt_out"))
    assert end.end == "opt_out"


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "script.yml").write_text(text, encoding="utf-8")
    return tmp_path


def test_unknown_intent_is_refused_with_file_and_fix(tmp_path: Path) -> None:
    d = _write(tmp_path, "nodes:\n  a:\n    say: hi\n    expect: {affirm: b, wish: b}\n"
                         "  b:\n    say: bye\n    end: interested\n"
                         "  handoff:\n    say: wait\n    end: handoff\n")
    with pytest.raises(ScriptError) as e:
        load_script(d, known_intents={"affirm"})
    msg = str(e.value)
    assert "script.yml" in msg and "'wish'" in msg and "nlu.yml" in msg


def test_unknown_target_node_is_refused(tmp_path: Path) -> None:
    d = _write(tmp_path, "nodes:\n  a:\n    say: hi\n    expect: {affirm: nowhere}\n"
                         "  handoff:\n    say: wait\n    end: handoff\n")
    with pytest.raises(ScriptError, match="unknown node 'nowhere'"):
        load_script(d)


def test_bad_disposition_and_dead_end_are_refused(tmp_path: Path) -> None:
    d = _write(tmp_path, "nodes:\n  a:\n    say: hi\n    end: happy\n")
    with pytest.raises(ScriptError, match="end disposition 'happy'"):
        load_script(d)
    d = _write(tmp_path, "nodes:\n  a:\n    say: hi\n")
    with pytest.raises(ScriptError, match="either 'expect:'"):
        load_script(d)


def test_missing_script_file(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="no script.yml"):
        load_script(tmp_path)


def test_missing_contact_field_renders_blank(tmp_path: Path) -> None:
    script = load_script(DEMO, known_intents=DEMO_INTENTS)
    text = script.render("greeting", {})
    assert text.startswith("안녕하세요 고객님")


def test_unreachable_node_is_refused_with_its_line(tmp_path: Path) -> None:
    d = _write(tmp_path, "nodes:\n  a:\n    say: hi\n    expect: {affirm: b}\n"
                         "  b:\n    say: bye\n    end: interested\n"
                         "  orphan:\n    say: never heard\n    end: interested\n"
                         "  handoff:\n    say: wait\n    end: handoff\n")
    with pytest.raises(ScriptError) as e:
        load_script(d)
    assert str(e.value).startswith(f"{d / 'script.yml'}:8: node 'orphan' cannot be reached "
                                   "from the start node 'a'")
    assert "expect:, no_match: or global_intents:" in str(e.value)


def test_prompt_fields_must_be_columns_of_the_call_list(tmp_path: Path) -> None:
    d = _write(tmp_path, "settings: {no_input_prompt: '{name} 고객님?'}\nnodes:\n"
                         "  a:\n    say: '{name}님 {plan} 요금제'\n    expect: {affirm: b}\n"
                         "  b:\n    say: bye\n    end: interested\n"
                         "  handoff:\n    say: wait\n    end: handoff\n")
    script = load_script(d)
    assert script.fields_used() == {"name": ["node 'a'", "settings.no_input_prompt"],
                                    "plan": ["node 'a'"]}
    script.check_fields(["phone", "name", "plan"], "list.csv")
    with pytest.raises(ScriptError, match=r"node 'a' says \{plan\}, but list.csv has no "
                                          r"column 'plan' \(columns: name, phone\)"):
        script.check_fields(["phone", "name"], "list.csv")


def test_script_check_command(tmp_path: Path) -> None:
    import subprocess

    from tests.support.procs import dialer_cmd, thin_demo

    thin = thin_demo(tmp_path / "thin")
    ok = subprocess.run(dialer_cmd("script", "check", str(thin), "--csv",
                                   str(DEMO / "contacts.csv")),
                        capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0 and "14 nodes from 'greeting'" in ok.stdout, ok.stderr
    # Advice on the NLU examples (nlu/advice.py); it never fails the check.
    assert "advice intent `call_later` has 3 examples" in ok.stdout
    assert "held-out accuracy per intent: affirm" in ok.stdout
    quiet = subprocess.run(dialer_cmd("script", "check", str(DEMO), "--no-advice"),
                           capture_output=True, text=True, timeout=60, check=False)
    assert quiet.returncode == 0 and "advice" not in quiet.stdout, quiet.stderr
    csv = tmp_path / "list.csv"
    csv.write_text("phone,city\n010-1111-0001,서울\n", encoding="utf-8")
    bad = subprocess.run(dialer_cmd("script", "check", str(DEMO), "--csv", str(csv)),
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "has no column 'name'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_dtmf_keys_are_checked(tmp_path: Path) -> None:
    base = ("nodes:\n  a:\n    say: hi\n    expect: {affirm: b}\n{dtmf}"
            "  b:\n    say: bye\n    end: interested\n"
            "  handoff:\n    say: wait\n    end: handoff\n")
    script = load_script(_write(tmp_path, base.replace("{dtmf}", "    dtmf: {'1': affirm}\n")))
    assert script.dtmf_intent("a", "1") == "affirm" and script.dtmf_intent("a", "2") is None
    with pytest.raises(ScriptError, match="dtmf key 'x' is not a phone key"):
        load_script(_write(tmp_path, base.replace("{dtmf}", "    dtmf: {x: affirm}\n")))
    with pytest.raises(ScriptError, match="dtmf key '2' means intent 'deny', which leads "
                                          "nowhere there"):
        load_script(_write(tmp_path, base.replace("{dtmf}", "    dtmf: {'2': deny}\n")))


def test_a_callee_who_cannot_hear_us_is_asked_once_then_the_line_is_dead_air(
        demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    check = demo_policy.on_reply(said("cant_hear", "여보세요 여보세요"))
    assert check.node == "line_check" and check.end is None and "들리세요" in check.text
    dead = demo_policy.on_reply(said("cant_hear", "안 들려"))
    assert dead.node == "line_dead" and dead.end == "dead_air"
    assert "could not hear us" in (dead.reason or "")
    # ... and one who hears us after all goes on with the offer.
    demo_policy.start()
    demo_policy.on_reply(said("cant_hear"))
    assert demo_policy.on_reply(said("affirm", "네")).node == "pitch"


# -- escalation to a person ----------------------------------------------------------

def test_angry_words_hand_off_at_once_with_the_word_as_reason(
        demo_policy: DialoguePolicy) -> None:
    demo_policy.start()
    # Understood as a plain refusal, but said in anger: a person takes it from here.
    end = demo_policy.on_reply(said("deny", text="아 진짜 짜증나네 됐어요"))
    assert (end.node, end.end, end.handoff) == ("handoff", "handoff", True)
    assert end.reason == "negative wording: '짜증'"
    calm = DialoguePolicy(demo_policy.script, {"name": "김민수"})
    calm.start()
    assert calm.on_reply(said("deny", text="아니요 됐어요")).node == "objection"


def test_low_combined_confidence_counts_as_not_understood(tmp_path: Path) -> None:
    d = _write(tmp_path, "settings: {min_confidence: 0.5, max_fallbacks_in_row: 2}\n"
                         "nodes:\n  a:\n    say: hi\n    expect: {affirm: b}\n"
                         "  b:\n    say: bye\n    end: interested\n"
                         "  handoff:\n    say: wait\n    end: handoff\n    handoff: true\n")
    policy = DialoguePolicy(load_script(d, known_intents={"affirm"}), {})
    policy.start()
    # 0.9 heard x 0.5 understood = 0.45 < 0.5: asked again, not taken as a yes.
    assert policy.on_reply(said("affirm", conf=0.5, asr=0.9)).kind == "fallback"
    end = policy.on_reply(said("affirm", conf=0.6, asr=0.7))
    assert end.handoff and end.reason == ("robot unsure: 2 misunderstood replies in a row "
                                          "(last: ASR x NLU confidence 0.42 < 0.50)")
    sure = DialoguePolicy(policy.script, {})
    sure.start()
    assert sure.on_reply(said("affirm", conf=0.8, asr=0.9)).node == "b"


def test_negative_words_are_configurable_and_checked(tmp_path: Path) -> None:
    body = ("nodes:\n  a:\n    say: hi\n    expect: {affirm: b}\n"
            "  b:\n    say: bye\n    end: interested\n"
            "  boss:\n    say: my manager\n    end: handoff\n    handoff: true\n"
            "  handoff:\n    say: wait\n    end: handoff\n    handoff: true\n")
    d = _write(tmp_path, "settings: {negative_words: [terrible], negative_node: boss}\n" + body)
    policy = DialoguePolicy(load_script(d, known_intents={"affirm"}), {})
    policy.start()
    end = policy.on_reply(said("affirm", text="Yes, this is TERRIBLE"))
    assert (end.node, end.reason) == ("boss", "negative wording: 'terrible'")
    off = _write(tmp_path, "settings: {negative_words: [], negative_node: boss}\n" + body)
    quiet = DialoguePolicy(load_script(off, known_intents={"affirm"}), {})
    quiet.start()
    assert quiet.on_reply(said("affirm", text="짜증나요 네")).node == "b"
    for setting, words in (("min_confidence: 1.5", "min_confidence"),
                           ("negative_words: angry", "negative_words must be a list"),
                           ("negative_node: nowhere", "unknown node 'nowhere'")):
        bad = _write(tmp_path, f"settings: {{{setting}}}\n" + body)
        with pytest.raises(ScriptError, match=words):
            load_script(bad, known_intents={"affirm"})
