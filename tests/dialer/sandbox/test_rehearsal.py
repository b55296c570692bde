"""What a dry-run checks before and after it calls: personas' expectations against the
script, and the pass/fail tally of a report (the calls themselves: tests/e2e/test_dry_run.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from campaigns.lifecycle import CampaignError
from dialer.sandbox.personas import Expectation
from dialer.sandbox.rehearsal import _tally, _verdict, personas_for

DEMO = Path(__file__).resolve().parents[3] / "campaigns" / "examples" / "demo"


def test_the_demo_personas_expect_nodes_of_its_script() -> None:
    path, cast = personas_for(DEMO)
    assert path == DEMO / "personas.yml" and len(cast) == 7


def test_an_expected_node_the_script_does_not_have_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "script"
    shutil.copytree(DEMO, script)
    (script / "personas.yml").write_text(
        'personas:\n  - name: keen\n    number: "1"\n    replies: [{say: 네}]\n'
        "    expect: {disposition: interested, node: close_happy}\n", encoding="utf-8")
    with pytest.raises(CampaignError) as err:
        personas_for(script)
    assert str(err.value).startswith(f"{script / 'personas.yml'}: persona 'keen': "
                                     "expect.node 'close_happy' is no node of the script")
    assert "close_interested" in str(err.value)  # the nodes it could have named


def test_verdicts_and_their_tally() -> None:
    calls = [
        {"persona": "keen", **_verdict(Expectation("interested"), "interested", "close")},
        {"persona": "off", **_verdict(Expectation("opt_out"), "no_input", "greeting")},
        {"persona": "never", **_verdict(Expectation("busy"), None, None, "no call was made")},
        {"persona": "free", **_verdict(None, "hung_up", None)},
    ]
    assert [c["passed"] for c in calls] == [True, False, False, None]
    assert calls[1]["why"] == "ended no_input, expected opt_out"
    assert calls[2]["why"] == "no call was made"
    assert calls[0]["expected"] == {"disposition": "interested", "node": None}
    assert _tally(calls) == {"checked": 3, "passed": 1, "failed": 2, "unchecked": 1,
                             "ok": False}
    assert _tally(calls[:1] + calls[3:])["ok"] is True
    assert _tally([])["ok"] is True  # nothing expected, nothing failed
