"""`python -m nlu` through real subprocesses: train, parse, evaluate, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_NLU = ROOT / "campaigns" / "examples" / "demo" / "nlu.yml"
HELD_OUT = ROOT / "tests" / "nlu" / "data" / "ko_calls.yml"


def nlu(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "nlu", *args], input=stdin, cwd=ROOT,
                          capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nlu") / "demo-model"
    proc = nlu("train", "--data", str(DEMO_NLU), "--out", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    assert summary["intents"] == 10 and summary["fallback_threshold"] == 0.5
    return out


def test_parse_answers_one_rasa_json_per_line(model: Path) -> None:
    proc = nlu("parse", "--model", str(model),
               stdin="네 관심 있어요\n담당자 연결 해 주세요\n오늘 날씨 어때요\n".encode())
    assert proc.returncode == 0, proc.stderr.decode()
    answers = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [a["intent"]["name"] for a in answers] == ["affirm", "request_human", "nlu_fallback"]
    for a in answers:
        assert set(a) == {"text", "intent", "intent_ranking", "entities"}
    # A fallback keeps the real ranking underneath it.
    assert answers[2]["intent_ranking"][1]["name"] != "nlu_fallback"


def test_evaluate_reports_the_documented_figures(model: Path) -> None:
    proc = nlu("evaluate", "--model", str(model), "--data", str(HELD_OUT), "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    r = json.loads(proc.stdout)
    for key in ("accuracy", "per_intent", "confusions", "fallback_rate", "calibration",
                "parse_ms_p95", "out_of_scope_recall"):
        assert key in r
    assert r["examples"] == 56 and r["accuracy"] > 0.7
    assert r["per_intent"]["request_human"]["f1"] > 0.8


def test_user_mistakes_are_one_line_errors(model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text('version: "3.1"\nnlu:\n- intent: affirm\n  examples: |\n    - 네\n'
                      "- intent: [oops\n", encoding="utf-8")
    empty_dir = tmp_path / "empty-model"
    empty_dir.mkdir()
    cases = [
        (nlu("train", "--data", str(broken), "--out", str(tmp_path / "m")), "broken.yml"),
        (nlu("parse", "--model", str(empty_dir)), "metadata.json"),
        (nlu("parse", "--model", str(model), stdin="네\n".encode() + "아니요\n".encode("cp949")),
         "line 2"),
        (nlu("train", "--data", str(DEMO_NLU), "--out", str(tmp_path / "m"), "--config",
             '{"fallback_treshold": 0.5}'), "fallback_treshold"),
    ]
    for proc, words in cases:
        err = proc.stderr.decode()
        assert proc.returncode == 2, err
        assert err.startswith("error: ") and words in err and "Traceback" not in err, err
