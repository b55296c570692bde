"""The evaluation report (nlu.evaluation) on scripted answers, so every figure is known."""

from __future__ import annotations

from typing import Any

import pytest

from nlu.evaluation import calibration, evaluate
from nlu.training_data import Example

ANSWERS = {  # text -> (predicted intent, confidence)
    "yes": ("affirm", 0.95), "sure": ("affirm", 0.85), "no": ("deny", 0.9),
    "nope": ("affirm", 0.55), "price?": ("nlu_fallback", 0.3),
    "weather?": ("nlu_fallback", 0.2), "pizza?": ("deny", 0.6),
}


def parse(text: str) -> dict[str, Any]:
    name, conf = ANSWERS[text]
    return {"text": text, "intent": {"name": name, "confidence": conf}}


EXAMPLES = [Example("yes", "affirm"), Example("sure", "affirm"), Example("no", "deny"),
            Example("nope", "deny"), Example("price?", "ask_price"),
            Example("weather?", "out_of_scope"), Example("pizza?", "oos")]


def test_report_counts_in_scope_and_out_of_scope_separately() -> None:
    r = evaluate(parse, EXAMPLES)
    assert r["examples"] == 7 and r["in_scope_examples"] == 5 and r["out_of_scope_examples"] == 2
    assert r["in_scope_accuracy"] == 0.6  # yes, sure, no
    assert r["in_scope_fallback_rate"] == 0.2  # price?
    assert r["out_of_scope_recall"] == 0.5  # weather? fell back, pizza? did not
    assert r["accuracy"] == round(4 / 7, 4)
    assert r["fallback_rate"] == round(2 / 7, 4)
    assert r["per_intent"]["affirm"] == {"precision": round(2 / 3, 4), "recall": 1.0,
                                         "f1": 0.8, "support": 2}
    assert r["per_intent"]["deny"]["recall"] == 0.5
    pairs = {(c["expected"], c["predicted"]): c["count"] for c in r["confusions"]}
    assert pairs == {("deny", "affirm"): 1, ("ask_price", "nlu_fallback"): 1,
                     ("nlu_fallback", "deny"): 1}
    assert r["parse_ms_p50"] >= 0 and r["parse_ms_p95"] >= r["parse_ms_p50"]


def test_calibration_compares_confidence_with_accuracy_per_bin() -> None:
    rows = [("a", "a", 0.95)] * 9 + [("a", "b", 0.95)] + [("a", "a", 0.55), ("a", "b", 0.55)]
    rows += [("a", "nlu_fallback", 0.3)]  # fallbacks are not answers
    c = calibration(rows)
    assert c["answered"] == 12
    bins = {(b["from"], b["to"]): b for b in c["bins"]}
    assert bins[(0.9, 1.0)] == {"from": 0.9, "to": 1.0, "count": 10, "mean_confidence": 0.95,
                                "accuracy": 0.9}
    assert bins[(0.5, 0.6)]["accuracy"] == 0.5
    assert c["ece"] == pytest.approx((10 * 0.05 + 2 * 0.05) / 12, abs=1e-4)


def test_nothing_to_evaluate_is_an_error() -> None:
    with pytest.raises(ValueError):
        evaluate(parse, [])
