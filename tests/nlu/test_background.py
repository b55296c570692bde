"""Background remarks (nlu/background.py): off-topic talk that shares words with an
intent falls back; the author's own examples always win; the setting is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.background import LANGUAGES, languages_for, remarks, script_of
from nlu.evaluation import OUT_OF_SCOPE_NAMES
from nlu.featurizers import SentenceEmbeddingFeaturizer
from nlu.model import NluModel, NluModelError
from nlu.training_data import Example, TrainingData, load_training_data, normalize

ROOT = Path(__file__).resolve().parents[2]
DENTAL = ROOT / "bench" / "data" / "en_dental"
INSURANCE = ROOT / "bench" / "data" / "zh_insurance"


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FALLBACK_THRESHOLD", "AMBIGUITY_MARGIN", "OUT_OF_SCOPE_THRESHOLD",
                 "SIMILARITY_THRESHOLD"):
        monkeypatch.delenv(f"DIALER_NLU_{name}", raising=False)


@pytest.fixture(scope="module")
def dental() -> TrainingData:
    return load_training_data(DENTAL / "train.yml")


@pytest.mark.parametrize(("text", "script"), [
    ("네 관심 있어요", "ko"), ("KT 인터넷 이미 있어요", "ko"), ("韓國 사람이에요", "ko"),
    ("我不需要", "zh"), ("OK 我知道了", "zh"), ("call me later", "en"), ("1234 !?", None),
    ("", None)])
def test_the_script_of_a_text(text: str, script: str | None) -> None:
    assert script_of(text) == script


def test_auto_takes_the_languages_the_examples_are_written_in() -> None:
    korean = ["네", "아니요", "얼마예요", "관심 없어요", "누구세요"] * 4
    assert languages_for("auto", korean) == ["ko"]
    # One English brand name among twenty Korean examples is no English campaign...
    assert languages_for("auto", [*korean, "OK"]) == ["ko"]
    # ...a campaign written half in each language is both.
    assert languages_for("auto", [*korean, *["yes please", "no thanks"] * 10]) == ["ko", "en"]
    assert languages_for("auto", []) == []
    assert languages_for(["zh", "en", "zh"], ["네"]) == ["zh", "en"]
    assert languages_for("en", ["네"]) == ["en"]
    offs: list[object] = [False, None, [], "off"]
    for off in offs:
        assert languages_for(off, korean) == []


@pytest.mark.parametrize(("setting", "message"), [
    (["ko", "fr"], "`background_remarks` names 'fr'"), ("klingon", "names 'klingon'"),
    (3, "`background_remarks` is 3"), ([1, 2], r"`background_remarks` is \[1, 2\]")])
def test_a_background_setting_that_makes_no_sense_is_refused(dental: TrainingData,
                                                              setting: object,
                                                              message: str) -> None:
    with pytest.raises(NluModelError, match=message):
        NluModel.train(dental, {"background_remarks": setting})


@pytest.mark.parametrize("overlap", [1.5, -0.1, "high"])
def test_a_background_overlap_out_of_range_is_refused(dental: TrainingData,
                                                      overlap: object) -> None:
    with pytest.raises(NluModelError, match="`background_overlap`"):
        NluModel.train(dental, {"background_overlap": overlap})


def test_the_packaged_remarks_are_many_distinct_and_in_their_language() -> None:
    for language in LANGUAGES:
        lines = remarks(language)
        assert len(lines) >= 100, language
        assert len({normalize(line) for line in lines}) == len(lines), language
        written_in = [script_of(line) for line in lines]
        assert written_in.count(language) >= 0.95 * len(lines), language


@pytest.mark.parametrize(("data", "remark"), [
    # Each shares words with an intent (ask_where, too_expensive) and was answered as it
    # before the background remarks; none of them is in nlu/background/*.txt.
    (DENTAL, "where is the nearest petrol station"),
    (DENTAL, "when is the next bus to the city centre"),
    (INSURANCE, "这双鞋太贵了")])
def test_off_topic_talk_that_shares_an_intents_words_falls_back(data: Path,
                                                                 remark: str) -> None:
    assert all(normalize(remark) != normalize(line) for lang in LANGUAGES
               for line in remarks(lang))
    train = load_training_data(data / "train.yml")
    without = NluModel.train(train, {"background_remarks": False}).parse(remark)
    assert without["intent"]["name"] != "nlu_fallback"
    parsed = NluModel.train(train).parse(remark)
    assert parsed["intent"]["name"] == "nlu_fallback"
    # The ranking still says what it looked like, as Rasa's FallbackClassifier does.
    assert parsed["intent_ranking"][1]["name"] == without["intent"]["name"]


def test_the_authors_example_wins_over_a_background_remark(dental: TrainingData) -> None:
    remark = next(line for line in remarks("en") if "Tokyo" in line)
    assert NluModel.train(dental).parse(remark)["intent"]["name"] == "nlu_fallback"
    taught = TrainingData(examples=[*dental.examples, Example(remark, "ask_when")])
    model = NluModel.train(taught)
    assert model.parse(remark)["intent"]["name"] == "ask_when"
    featurizer = next(c for c in model.components if isinstance(c, SentenceEmbeddingFeaturizer))
    assert featurizer.background is not None
    assert len(featurizer.background) < len(remarks("en"))


@pytest.mark.parametrize("data", [DENTAL, INSURANCE])
def test_background_costs_no_held_out_answer(data: Path) -> None:
    train, test = load_training_data(data / "train.yml"), load_training_data(data / "test.yml")
    replies = [e for e in test.examples if e.intent not in OUT_OF_SCOPE_NAMES]
    off_topic = [e for e in test.examples if e.intent in OUT_OF_SCOPE_NAMES]

    def score(model: NluModel) -> tuple[int, int]:
        right = sum(model.parse(e.text)["intent"]["name"] == e.intent for e in replies)
        caught = sum(model.parse(e.text)["intent"]["name"] == "nlu_fallback"
                     for e in off_topic)
        return right, caught

    right_without, caught_without = score(NluModel.train(train, {"background_remarks": False}))
    right, caught = score(NluModel.train(train))
    assert right >= right_without - 1
    assert caught > caught_without


def test_the_background_is_saved_with_the_model(dental: TrainingData, tmp_path: Path) -> None:
    model = NluModel.train(dental)
    model.save(tmp_path / "model")
    loaded = NluModel.load(tmp_path / "model")
    remark = "when is the next bus to the city centre"
    assert loaded.parse(remark) == model.parse(remark)
    assert loaded.parse(remark)["intent"]["name"] == "nlu_fallback"


def test_without_an_encoder_there_is_no_background(dental: TrainingData) -> None:
    model = NluModel.train(dental, {"embedding_model": None})
    featurizer = next(c for c in model.components if isinstance(c, SentenceEmbeddingFeaturizer))
    assert featurizer.background is None
    example = dental.examples[0]
    assert model.parse(example.text)["intent"]["name"] == example.intent
