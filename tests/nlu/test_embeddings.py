"""The optional sentence-embedding featurizer, and calibration / out-of-scope detection on
held-out English data of our own (bench/data/en_assistant)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nlu.embeddings import resolve_model_dir, shared_encoder
from nlu.evaluation import evaluate
from nlu.model import NluModel, NluModelError
from nlu.training_data import load_training_data

ROOT = Path(__file__).resolve().parents[2]
EN = ROOT / "bench" / "data" / "en_assistant"

# The first six dimensions of all-MiniLM-L6-v2 embeddings as sentence-transformers 6.2.0
# (PyTorch 2.13.0, CPU) computes them from the same model files, with cosine similarity
# to the first sentence. Different lengths in one batch check the padding mask.
REFERENCE = [
    ("what is my balance",
     [-0.024661, 0.000527, -0.065941, -0.015147, -0.002605, -0.054036], 1.0),
    ("I would like to move my dentist appointment to next Tuesday afternoon, if that works",
     [-0.048288, -0.065126, 0.008967, -0.035447, -0.054079, -0.069107], 0.029902),
    ("네 관심 있어요", [-0.042774, 0.059335, 0.015644, -0.002246, 0.009965, -0.023104], 0.121463),
    ("你好", [0.004037, 0.015092, 0.08048, 0.001148, 0.015043, -0.004086], 0.210804),
]


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FALLBACK_THRESHOLD", "AMBIGUITY_MARGIN", "OUT_OF_SCOPE_THRESHOLD"):
        monkeypatch.delenv(f"DIALER_NLU_{name}", raising=False)


def test_numpy_encoder_matches_sentence_transformers() -> None:
    encoder = shared_encoder("minilm")
    vectors = encoder.encode([text for text, _, _ in REFERENCE])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for row, (text, head, cosine) in zip(vectors, REFERENCE, strict=True):
        assert np.allclose(row[:6], head, atol=2e-6), text
        assert float(row @ vectors[0]) == pytest.approx(cosine, abs=2e-6)
    # Alone or in a batch, a text gets the same vector.
    assert np.allclose(encoder.encode([REFERENCE[0][0]])[0], vectors[0], atol=1e-6)
    assert encoder.encode([]).shape == (0, 384)


def test_weights_are_memory_mapped_so_forked_workers_share_them() -> None:
    weights = shared_encoder("minilm").weights
    assert all(isinstance(w, np.memmap) for w in weights.values())
    assert shared_encoder("minilm") is shared_encoder(str(resolve_model_dir("minilm")))


def test_unusable_model_settings_are_clear_errors(tmp_path: Path) -> None:
    data = load_training_data(EN / "train.yml")
    with pytest.raises(NluModelError, match=r"embedding_model: nope: is neither a known "
                                            r"model name \(use-multilingual, minilm\) nor a directory"):
        NluModel.train(data, {"embedding_model": "nope"})
    with pytest.raises(NluModelError, match=r"is not a usable sentence-transformers model"):
        NluModel.train(data, {"embedding_model": str(tmp_path)})


@pytest.fixture(scope="module")
def en_models() -> dict[str, NluModel]:
    data = load_training_data(EN / "train.yml")
    return {"tfidf": NluModel.train(data, {"embedding_model": None}),
            "use-multilingual": NluModel.train(data),  # the default
            "embeddings": NluModel.train(data, {"embedding_model": "minilm"})}


@pytest.fixture(scope="module")
def en_reports(en_models: dict[str, NluModel]) -> dict[str, dict[str, Any]]:
    test = load_training_data(EN / "test.yml").examples
    return {name: evaluate(m.parse, test) for name, m in en_models.items()}


def test_confidence_is_calibrated_on_held_out_data(en_reports: dict[str, Any]) -> None:
    # Trained on 800 examples, tested on 400 fresh in-scope ones: answers given with
    # confidence c are right about c of the time (before calibration, ECE was 0.20).
    # With a sentence embedding, replies unlike their nearest example are capped below
    # full confidence (FallbackClassifier, similarity_full): a little under-confident on
    # in-scope paraphrases, never sure on text like nothing trained.
    bound = {"tfidf": 0.05, "use-multilingual": 0.1, "embeddings": 0.1}
    for name, report in en_reports.items():
        calibration = report["calibration"]
        assert calibration["answered"] >= 250, name
        assert calibration["ece"] <= bound[name], (name, calibration)
        over = [b for b in calibration["bins"] if b["count"] >= 20
                and b["mean_confidence"] > b["accuracy"] + 0.05]
        assert not over, ("over-confident", name, over)


def test_out_of_scope_remarks_are_never_answered_surely(en_reports: dict[str, Any]) -> None:
    for name in ("use-multilingual", "embeddings"):
        worst = en_reports[name]["out_of_scope_max_confidence"]
        assert worst is None or worst < 0.95, (name, worst)


def test_out_of_scope_is_caught_without_training_on_any(en_reports: dict[str, Any]) -> None:
    for name, report in en_reports.items():
        assert report["out_of_scope_examples"] == 200
        assert report["out_of_scope_recall"] >= 0.8, (name, report["out_of_scope_recall"])
    # What the embeddings buy: paraphrases sharing few words with the training examples.
    assert en_reports["tfidf"]["in_scope_accuracy"] >= 0.7
    for name in ("use-multilingual", "embeddings"):
        assert en_reports[name]["in_scope_accuracy"] >= 0.88, name
        assert (en_reports[name]["in_scope_accuracy"]
                >= en_reports["tfidf"]["in_scope_accuracy"] + 0.1), name


def test_paraphrase_without_shared_words(en_models: dict[str, NluModel]) -> None:
    text = "what do i owe you folks this month"
    assert en_models["embeddings"].parse(text)["intent"]["name"] == "bill_amount"


def test_saved_model_with_embeddings_loads_and_refuses_another_encoder(
        en_models: dict[str, NluModel], tmp_path: Path) -> None:
    model = en_models["embeddings"]
    model.save(tmp_path / "m")
    loaded = NluModel.load(tmp_path / "m")
    for text in ["cancel my flight", "sing me a song", "uh who is this"]:
        assert loaded.parse(text) == model.parse(text)
    metadata = (tmp_path / "m" / "metadata.json").read_text(encoding="utf-8")
    (tmp_path / "m" / "metadata.json").write_text(
        metadata.replace('"embedding_model": "minilm"', '"embedding_model": "/nonexistent"'),
        encoding="utf-8")
    with pytest.raises(NluModelError, match="embedding_model: /nonexistent"):
        NluModel.load(tmp_path / "m")


def test_training_encodes_each_example_once(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = shared_encoder("use-multilingual")
    seen: list[str] = []
    real = encoder.encode

    def counting(texts: list[str]) -> Any:
        seen.extend(texts)
        return real(texts)

    monkeypatch.setattr(encoder, "encode", counting)
    data = load_training_data(ROOT / "bench" / "data" / "en_dental" / "train.yml")
    model = NluModel.train(data)
    # Every training text once: the author's examples and the background remarks.
    assert len(seen) == len(set(seen))
    assert {e.text for e in data.examples} <= set(seen)
    # ...and the saved similarity table is the training examples' own: each is its own
    # nearest example.
    for example in data.examples[:5]:
        parsed = model.parse(example.text)
        assert parsed["intent"]["name"] == example.intent
