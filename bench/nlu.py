"""Train and evaluate the NLU on a Rasa-format train/test pair; print JSON.

    .venv/bin/python bench/nlu.py                                   # demo data, Korean
    .venv/bin/python bench/nlu.py --train bench/data/en_assistant/train.yml \
        --test bench/data/en_assistant/test.yml [--config '{"embedding_model": "minilm"}']
    .venv/bin/python bench/nlu.py --train a/nlu.yml --test b/test.yml [--config '{...}']
    .venv/bin/python bench/nlu.py --clinc data_full.json    # CLINC150-format benchmark
    .venv/bin/python bench/nlu.py --synthetic 15000 --intents 150   # training at scale

A CLINC150-format file (keys train / test / oos_test, lists of [text, intent]) is trained
on `train` only (no out-of-scope examples) and tested on `test` + `oos_test`. The file is
not shipped (its data is not ours to copy, and no package registry carries it).

Test examples under an `out_of_scope` (or `oos`) intent should fall back; they give the
out-of-scope recall. Reports accuracy, fallback rate, p50/p95 parse ms, train seconds,
calibration (ECE) and the peak memory of this process.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu.evaluation import evaluate
from nlu.model import NluModel
from nlu.training_data import Example, TrainingData, load_training_data


def clinc(path: Path) -> tuple[TrainingData, TrainingData]:
    """(train, test) from a CLINC150-format JSON file."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    missing = {"train", "test", "oos_test"} - set(raw)
    if missing:
        raise SystemExit(f"{path}: not a CLINC150-format file (missing {sorted(missing)})")
    train = TrainingData(examples=[Example(t, i, source=f"{path}:train")
                                   for t, i in raw["train"]])
    test = TrainingData(examples=[Example(t, "out_of_scope" if i == "oos" else i,
                                          source=f"{path}:test")
                                  for t, i in raw["test"] + raw["oos_test"]])
    return train, test


def synthetic(examples: int, intents: int, seed: int = 0) -> tuple[TrainingData, TrainingData]:
    """Made-up English-like data at scale: each intent has its own few key words, mixed
    with filler words every intent shares, so the classifier must find the key words.
    Tests on a fifth as many fresh sentences."""
    import random

    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "de", "vu", "sha", "gen"]

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3)))

    filler = [word() for _ in range(300)]
    keys = {f"intent_{i:03d}": [word() for _ in range(6)] for i in range(intents)}

    def sentence(intent: str) -> str:
        words = rng.sample(filler, rng.randint(2, 6)) + rng.sample(keys[intent], 2)
        rng.shuffle(words)
        return " ".join(words)

    def data(n: int, tag: str) -> TrainingData:
        names = sorted(keys)
        return TrainingData(examples=[Example(sentence(names[i % intents]), names[i % intents],
                                              source=f"synthetic:{tag}") for i in range(n)])

    return data(examples, "train"), data(max(examples // 5, intents), "test")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=Path, nargs="+",
                   default=[ROOT / "campaigns" / "examples" / "demo" / "nlu.yml"])
    p.add_argument("--test", type=Path, nargs="+",
                   default=[ROOT / "tests" / "nlu" / "data" / "ko_calls.yml",
                            ROOT / "bench" / "data" / "ko_outbound" / "out_of_scope.yml"])
    p.add_argument("--clinc", type=Path, help="CLINC150-format JSON instead of --train/--test")
    p.add_argument("--synthetic", type=int, metavar="N",
                   help="N generated training examples instead of files (training at scale)")
    p.add_argument("--intents", type=int, default=150, help="intents of --synthetic data")
    p.add_argument("--config", default="{}", help="JSON overrides of the pipeline config")
    args = p.parse_args()

    if args.synthetic:
        train_data, test_data = synthetic(args.synthetic, args.intents)
        args.train = args.test = [Path(f"synthetic:{args.synthetic}x{args.intents}")]
    elif args.clinc:
        train_data, test_data = clinc(args.clinc)
        args.train = args.test = [args.clinc]
    else:
        train_data = load_training_data(args.train)
        test_data = load_training_data(args.test)
    t = time.perf_counter()
    model = NluModel.train(train_data, json.loads(args.config))
    train_s = time.perf_counter() - t
    report = evaluate(model.parse, test_data.examples)
    summary = {k: report[k] for k in (
        "examples", "accuracy", "in_scope_accuracy", "in_scope_fallback_rate",
        "out_of_scope_examples", "out_of_scope_recall", "fallback_rate", "parse_ms_p50",
        "parse_ms_p95")}
    print(json.dumps({
        "bench": "nlu", "train": [str(x) for x in args.train],
        "test": [str(x) for x in args.test], "train_examples": len(train_data.examples),
        "intents": len(model.intents), "train_s": round(train_s, 3),
        "fallback_threshold": model.config["fallback_threshold"], **summary,
        "calibration_ece": report["calibration"]["ece"],
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "top_confusions": report["confusions"][:10],
    }, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
