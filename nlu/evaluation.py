"""How good a model is on held-out data: accuracy, per-intent precision/recall/F1, the
confusions, how often it falls back, out-of-scope recall, and whether its confidence
means what it says (calibration).

Test examples whose intent is one of OUT_OF_SCOPE_NAMES are out-of-scope: the right
answer for them is `nlu_fallback`. Every other example is in scope, and a fallback on
it counts as a miss (the robot asked again instead of understanding).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from nlu.training_data import FALLBACK_INTENT, Example

OUT_OF_SCOPE_NAMES = frozenset({"out_of_scope", "oos", FALLBACK_INTENT})
CALIBRATION_BINS = 10
CONFIDENT = 0.8  # a wrong answer this sure is acted on without a second thought


def evaluate(parse: Callable[[str], dict[str, Any]], examples: Sequence[Example],
             top_confusions: int = 20) -> dict[str, Any]:
    """Parse every example and report; `parse` answers in Rasa's /model/parse shape."""
    if not examples:
        raise ValueError("no test examples to evaluate")
    rows: list[tuple[str, str, float]] = []  # (expected, predicted, confidence)
    parse_ms: list[float] = []
    for ex in examples:
        t = time.perf_counter()
        result = parse(ex.text)
        parse_ms.append((time.perf_counter() - t) * 1000)
        expected = FALLBACK_INTENT if ex.intent in OUT_OF_SCOPE_NAMES else ex.intent
        rows.append((expected, str(result["intent"]["name"]),
                     float(result["intent"]["confidence"])))
    in_scope = [r for r in rows if r[0] != FALLBACK_INTENT]
    oos = [r for r in rows if r[0] == FALLBACK_INTENT]
    correct = sum(e == p for e, p, _ in rows)
    report: dict[str, Any] = {
        "examples": len(rows),
        "accuracy": _ratio(correct, len(rows)),
        "in_scope_examples": len(in_scope),
        "in_scope_accuracy": _ratio(sum(e == p for e, p, _ in in_scope), len(in_scope)),
        "in_scope_fallback_rate": _ratio(sum(p == FALLBACK_INTENT for _, p, _ in in_scope),
                                         len(in_scope)),
        "out_of_scope_examples": len(oos),
        "out_of_scope_recall": _ratio(sum(p == FALLBACK_INTENT for _, p, _ in oos), len(oos)),
        "fallback_rate": _ratio(sum(p == FALLBACK_INTENT for _, p, _ in rows), len(rows)),
        "parse_ms_p50": _percentile(parse_ms, 0.50),
        "parse_ms_p95": _percentile(parse_ms, 0.95),
        "per_intent": _per_intent(rows),
        "confusions": [{"expected": e, "predicted": p, "count": n} for (e, p), n in
                       Counter((e, p) for e, p, _ in rows if e != p).most_common(top_confusions)],
        "calibration": calibration(in_scope),
        # How sure the model is when it is wrong: the worst case and how often a wrong
        # intent (out-of-scope text included) comes with confidence >= CONFIDENT.
        "out_of_scope_max_confidence": max((c for _, p, c in oos if p != FALLBACK_INTENT),
                                           default=None),
        "wrong_confident_rate": _ratio(sum(p not in (e, FALLBACK_INTENT) and c >= CONFIDENT
                                           for e, p, c in rows), len(rows)),
    }
    return report


def calibration(rows: Sequence[tuple[str, str, float]],
                bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Confidence against accuracy on in-scope answers that were not fallbacks: for a
    calibrated model, answers given with confidence 0.8 are right about 80 % of the time.
    ECE is the count-weighted mean gap between the two over the bins."""
    answered = [(e == p, c) for e, p, c in rows if p != FALLBACK_INTENT]
    table = []
    gap_sum = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(ok, c) for ok, c in answered if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if not inside:
            continue
        acc = sum(ok for ok, _ in inside) / len(inside)
        conf = sum(c for _, c in inside) / len(inside)
        gap_sum += len(inside) * abs(acc - conf)
        table.append({"from": round(lo, 2), "to": round(hi, 2), "count": len(inside),
                      "mean_confidence": round(conf, 3), "accuracy": round(acc, 3)})
    return {"answered": len(answered),
            "ece": round(gap_sum / len(answered), 4) if answered else None, "bins": table}


def _per_intent(rows: Sequence[tuple[str, str, float]]) -> dict[str, dict[str, Any]]:
    names = sorted({e for e, _, _ in rows} | {p for _, p, _ in rows})
    out = {}
    for name in names:
        tp = sum(e == p == name for e, p, _ in rows)
        predicted = sum(p == name for _, p, _ in rows)
        support = sum(e == name for e, _, _ in rows)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[name] = {"precision": round(precision, 4), "recall": round(recall, 4),
                     "f1": round(f1, 4), "support": support}
    return out


def _ratio(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)
