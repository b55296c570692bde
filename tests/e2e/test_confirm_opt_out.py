"""Opt-outs over real SIP, as a dry-run: callees answer the demo script in their own words
(espeak-ng -> RTP -> vosk with the node's grammar). The script's bar for an opt-out is 1
(always ask), so the question and its answer are exercised over the wire whatever the
recogniser makes of a reply: someone who only wants a person, someone merely not
interested, and someone who asks to be removed but then says no all stay off the
do-not-call list; a callee who opts out and says yes, and one who presses 9, are on it.
(Which readings are weak is unit-tested in tests/dialer/conversation/test_confirm.py.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.db import Database
from campaigns.models import DncEntry
from tests.support.procs import DEMO, call_env, dialer_cmd

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Written as people say it, not as the campaign's NLU data has it. The two who ask to be
# removed say "제 번호 지워 주세요", which the recogniser read as an opt-out on each of
# four renderings off line and over the wire (this test is about the question that
# follows): "이제 연락하지 마세요" was read as "연결 가격이 마세요" (ask_price) on one
# rendering in four, and on CI as "있어요 연결 가격이 마세요", so no question came.
PERSONAS = """\
personas:
  - name: wants a person
    number: "+821099990001"
    ring_s: 0.5
    replies:
      - say: 사람하고 직접 얘기하고 싶어요
      - say: 아니요                       # to "수신 거부로 처리해 드릴까요?", if asked
      - say: 사람하고 직접 얘기하고 싶어요
      - say: 아니요
  - name: not interested
    number: "+821099990002"
    ring_s: 0.5
    replies:
      - say: 그런 거 필요 없어요
      - say: 아니요
      - say: 별로 관심 없어요
      - say: 아니요
      - say: 아니요
  - name: changes mind
    number: "+821099990005"
    ring_s: 0.5
    replies:
      - say: 제 번호 지워 주세요
      - say: 아니요                       # no, do not remove me
      - say: 아니요
      - say: 아니요
  - name: opts out
    number: "+821099990003"
    ring_s: 0.5
    replies:
      - say: 제 번호 지워 주세요
      - say: 네                            # yes, remove me (if asked)
  - name: presses 9
    number: "+821099990004"
    ring_s: 0.5
    replies:
      - dtmf: "9"
"""


def customer_turns(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in call["turns"] if t["speaker"] == "customer"]


def answers_to_questions(call: dict[str, Any]) -> list[str | None]:
    """For each customer turn the robot asked to confirm, how the next one answered."""
    turns = customer_turns(call)
    return [turns[i + 1].get("confirmation") if i + 1 < len(turns) else None
            for i, t in enumerate(turns) if t.get("confirmation") == "asked"]


def test_irreversible_opt_out_is_confirmed_on_a_weak_reading(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.mkdir()
    (script / "nlu.yml").write_bytes((DEMO / "nlu.yml").read_bytes())
    demo_script = (DEMO / "script.yml").read_text(encoding="utf-8")
    assert "confirm_below: {opt_out: 0.9}" in demo_script
    (script / "script.yml").write_text(demo_script.replace(
        "confirm_below: {opt_out: 0.9}", "confirm_below: {opt_out: 1}"), encoding="utf-8")
    (script / "personas.yml").write_text(PERSONAS, encoding="utf-8")
    env = call_env(tmp_path, 49600)
    env.update(DIALER_SIP_TRUNK="192.0.2.1:5060", DIALER_BROKER_URL="redis://192.0.2.1:6379/0")
    created = subprocess.run(dialer_cmd("campaign", "create", "--name", "confirm", "--script",
                                        str(script), "--csv", str(DEMO / "contacts.csv"),
                                        "--json"), env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert created.returncode == 0, created.stderr[-2000:]
    cid = str(json.loads(created.stdout)["campaign_id"])
    run = subprocess.run(dialer_cmd("campaign", "dry-run", cid, "--json", "--timeout", "420"),
                         env=env, capture_output=True, text=True, timeout=540, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    calls = {c["persona"]: c for c in report["calls"]}
    assert set(calls) == {"wants a person", "not interested", "changes mind", "opts out",
                          "presses 9"}
    summary = {name: (c["disposition"], [(t["text"], t["intent"], t["asr_confidence"],
                                          t.get("confirmation"), t.get("commits"))
                                         for t in customer_turns(c)])
               for name, c in calls.items()}
    print(json.dumps(summary, ensure_ascii=False))  # what each was heard as

    db = Database(f"sqlite:///{(tmp_path / 'data' / 'dialer.db').resolve()}")
    with db.session() as s:
        dnc = {e.phone: e for e in s.scalars(select(DncEntry))}
        dnc_sources = {p: (e.source, e.reason) for p, e in dnc.items()}

    # Never asked them: whatever they were heard as, no opt-out without a yes.
    for name in ("wants a person", "not interested", "changes mind"):
        call = calls[name]
        assert call["disposition"] != "opt_out", (
            f"{name!r} ended opt_out without confirming it: {summary[name]}")
        assert call["phone"] not in dnc, f"{name!r} put on the DNC list: {dnc_sources}"
        assert not [t for t in customer_turns(call) if t.get("commits")], summary[name]
        assert all(a in ("no", "unclear") for a in answers_to_questions(call)), summary[name]
    # Asked to be removed, then said no when asked: the question went over the wire.
    assert answers_to_questions(calls["changes mind"])[:1] == ["no"], summary["changes mind"]

    # The real opt-out: asked (the bar is 1), said yes, on the list from that turn.
    opted = calls["opts out"]
    assert opted["disposition"] == "opt_out", summary["opts out"]
    committed = [t for t in customer_turns(opted) if t.get("commits") == "opt_out"]
    assert len(committed) == 1, summary["opts out"]
    assert answers_to_questions(opted) == ["yes"], summary["opts out"]
    assert committed[0]["confirmation"] == "yes", summary["opts out"]
    assert dnc[opted["phone"]].source == "opt_out", dnc_sources

    # A key press is sure: taken at once, no question.
    keyed = calls["presses 9"]
    assert keyed["disposition"] == "opt_out", summary["presses 9"]
    turns = customer_turns(keyed)
    assert [(t["text"], t.get("confirmation"), t.get("commits")) for t in turns] == [
        ("DTMF 9", None, "opt_out")], summary["presses 9"]
    assert dnc[keyed["phone"]].source == "dtmf", dnc_sources

    # The dry-run report says where the robot asked and how it was answered.
    flags = [f for c in report["calls"] for t in c["turns"] for f in t["flags"]]
    assert any(f.startswith("asked to confirm opt_out: answered no") for f in flags), flags
