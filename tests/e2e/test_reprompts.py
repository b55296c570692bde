"""Reprompt limits and a spoken opt-out over real SIP: a customer who never says a word
is asked twice more and the call ends as no_input; one who is not understood twice in
a row is handed to a person; "전화 하지 마세요" closes the call as an opt-out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.procs import call_env, call_json, simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PERSONAS = """\
personas:
  - name: never speaks
    number: "+821066660001"
    ring_s: 0.5
    replies: [silent, silent, silent, silent]
  - name: not understood
    number: "+821066660002"
    ring_s: 0.5
    replies:
      - say: 오늘 날씨가 좋네요               # greeting -> fallback: sorry + again
      - say: 오늘 날씨가 좋네요               # second in a row -> handoff
  - name: opts out
    number: "+821066660003"
    ring_s: 0.5
    replies:
      - say: 전화 하지 마세요                 # global opt_out -> opt_out_close
      - say: 네                               # "수신 거부로 처리해 드릴까요?" when the
      - say: 네                               # reading was weak (asked up to twice)
"""


def test_reprompt_limits_and_a_spoken_opt_out(tmp_path: Path) -> None:
    personas = tmp_path / "personas.yml"
    personas.write_text(PERSONAS, encoding="utf-8")
    env = call_env(tmp_path, 48400)
    with simulator(tmp_path, env, personas) as (port, _log):
        env["DIALER_SIP_TRUNK"] = f"127.0.0.1:{port}"
        silent = call_json(env, "+821066660001")
        unclear = call_json(env, "+821066660002")
        opted = call_json(env, "+821066660003")

    # No input: the greeting, then the no-input prompt twice (max_no_input: 2), then the
    # call ends with its own disposition; nothing was heard from the customer.
    assert silent["disposition"] == "no_input", silent
    bots = [t for t in silent["turns"] if t["speaker"] == "bot"]
    assert [t["node"] for t in bots] == ["greeting"] * 3, silent["turns"]
    assert all("들리세요" in t["text"] for t in bots[1:])
    assert not [t for t in silent["turns"] if t["speaker"] == "customer"]
    assert "no reply after 2 reprompts" in silent["reason"]

    # No match twice in a row (max_fallbacks_in_row: 2): an apology and the question
    # again, then a person.
    customer = [t for t in unclear["turns"] if t["speaker"] == "customer"]
    assert [t["intent"] for t in customer] == ["nlu_fallback", "nlu_fallback"], [
        (t["node"], t["text"], t["intent"]) for t in customer]
    assert unclear["disposition"] == "handoff" and unclear["handoff"] is True, unclear
    assert "2 misunderstood replies" in unclear["reason"]
    bots = [t["node"] for t in unclear["turns"] if t["speaker"] == "bot"]
    assert bots == ["greeting", "greeting", "handoff"], unclear["turns"]

    # A spoken opt-out is acted on whatever node the call is at: at once on a clear
    # reading, after the customer's "네" when the line made the reading weak (it is an
    # irreversible action, so the robot asks first).
    assert opted["disposition"] == "opt_out", [
        (t["speaker"], t["node"], t["text"][-30:], t.get("intent")) for t in opted["turns"]]
    said = [t for t in opted["turns"] if t["speaker"] == "customer"]
    assert said[0]["intent"] == "opt_out", said
    if said[0].get("confirmation") == "asked":
        assert said[-1].get("confirmation") == "yes", said
    else:
        assert len(said) == 1, said
    assert [t["node"] for t in opted["turns"] if t["speaker"] == "bot"][-1] == "opt_out_close"
