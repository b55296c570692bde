"""The NLU pipeline on Korean call replies: intents, fallback, entities, persistence, speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nlu.model import DEFAULT_CONFIG, NluModel, NluModelError
from nlu.training_data import Example, TrainingData, load_training_data

DATA = Path(__file__).parent / "data" / "ko_calls.yml"
DEMO = Path(__file__).resolve().parents[2] / "campaigns" / "examples" / "demo" / "nlu.yml"
THRESHOLD = 0.5

# Paraphrases that are not in the training file.
HELD_OUT = [
    ("네네 좋아요 말씀하세요", "affirm"),
    ("예 관심 있어요", "affirm"),
    ("아니요 관심 없습니다", "deny"),
    ("필요 없어요", "deny"),
    ("가격이 어떻게 돼요", "ask_price"),
    ("한 달 요금이 얼마에요", "ask_price"),
    ("상담원이랑 통화할 수 있을까요", "request_human"),
    ("사람 연결해 주세요", "request_human"),
    ("어느 회사세요", "ask_identity"),
    ("누구시죠", "ask_identity"),
    ("다시는 전화하지 마세요", "opt_out"),
    ("제 번호 삭제해 주세요", "opt_out"),
    ("지금 운전 중이라 나중에 전화 주세요", "call_later"),
    ("금요일에 다시 전화 주세요", "call_later"),
]
UNRELATED = ["asdf qwer", "ㅋㅋㅋㅋㅋ", "뷁뷁", "오늘 저녁 메뉴는 김치찌개", "the weather is nice today",
             "冰箱坏了", "", "   ", "?!"]


@pytest.fixture(scope="module", autouse=True)
def _no_env_overrides() -> Any:
    # The default threshold is part of what is tested; a developer's DIALER_NLU_* must not
    # change it under the tests.
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DIALER_NLU_FALLBACK_THRESHOLD", raising=False)
        mp.delenv("DIALER_NLU_AMBIGUITY_MARGIN", raising=False)
        mp.delenv("DIALER_NLU_OUT_OF_SCOPE_THRESHOLD", raising=False)
        yield


@pytest.fixture(scope="module")
def model() -> NluModel:
    return NluModel.train(load_training_data(DATA))


@pytest.mark.parametrize(("text", "intent"), HELD_OUT)
def test_held_out_paraphrases(model: NluModel, text: str, intent: str) -> None:
    result = model.parse(text)
    assert result["intent"]["name"] == intent
    assert result["intent"]["confidence"] >= 0.6
    assert result["intent_ranking"][0] == result["intent"]


@pytest.mark.parametrize("text", UNRELATED)
def test_unrelated_text_falls_back(model: NluModel, text: str) -> None:
    result = model.parse(text)
    assert result["intent"] == {"name": "nlu_fallback", "confidence": THRESHOLD}
    # As Rasa's FallbackClassifier does: nlu_fallback first, the classifier's ranking after.
    ranking = result["intent_ranking"]
    assert ranking[0] == {"name": "nlu_fallback", "confidence": THRESHOLD}
    assert sum(r["confidence"] for r in ranking[1:]) == pytest.approx(1.0)
    assert {r["name"] for r in ranking[1:]} == set(load_training_data(DATA).intents())


def test_output_shape_is_exactly_rasas(model: NluModel) -> None:
    result = model.parse("내일 3시에 다시 전화 주세요")
    assert list(result) == ["text", "intent", "intent_ranking", "entities"]
    assert result["text"] == "내일 3시에 다시 전화 주세요"
    assert set(result["intent"]) == {"name", "confidence"}
    assert result["intent"]["name"] == "call_later"
    assert type(result["intent"]["confidence"]) is float
    ranking = result["intent_ranking"]
    assert len(ranking) == 7  # every intent, as fewer than ranking_length (10) exist
    assert all(set(r) == {"name", "confidence"} and type(r["confidence"]) is float
               for r in ranking)
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert result["entities"] == [
        {"entity": "day", "start": 0, "end": 2, "confidence": 1.0, "value": "내일",
         "extractor": "RegexEntityExtractor"},
        {"entity": "time", "start": 3, "end": 5, "confidence": 1.0, "value": "3시",
         "extractor": "RegexEntityExtractor"},
    ]
    json.dumps(result)  # plain JSON types only, ready for an HTTP answer


def test_ranking_is_cut_at_ranking_length() -> None:
    data = TrainingData(examples=[Example(f"intent number {i} word{i}", f"i{i:02}")
                                  for i in range(12)])
    ranking = NluModel.train(data).parse("intent number 3 word3")["intent_ranking"]
    assert len(ranking) == 10
    assert ranking[0]["name"] == "i03"


def test_regex_entities_have_exact_offsets(model: NluModel) -> None:
    text = "낼모레 오후 3시 반에 010-9876-5432로 전화 주세요"
    entities = model.parse(text)["entities"]
    assert [(e["entity"], e["value"], e["start"], e["end"]) for e in entities] == [
        ("day", "모레", 0, 3), ("time", "오후 3시 반", 4, 11), ("phone", "010-9876-5432", 13, 26)]
    assert text[13:26] == "010-9876-5432" and text[4:11] == "오후 3시 반"
    assert all(e["extractor"] == "RegexEntityExtractor" for e in entities)


def test_synonyms_map_values_and_say_so(model: NluModel) -> None:
    first = model.parse("내일모레 전화 주세요")["entities"]
    assert first == [{"entity": "day", "start": 0, "end": 4, "confidence": 1.0, "value": "모레",
                      "extractor": "RegexEntityExtractor", "processors": ["EntitySynonymMapper"]}]
    # A value that is already canonical is left alone and gets no processors.
    assert model.parse("모레 전화 주세요")["entities"][0] == {
        "entity": "day", "start": 0, "end": 2, "confidence": 1.0, "value": "모레",
        "extractor": "RegexEntityExtractor"}


def test_lookups_respect_latin_word_edges_but_not_korean_particles() -> None:
    data = TrainingData(examples=[Example("hello", "greet"), Example("bye", "bye")],
                        lookups={"city": ["Seoul", "서울", "서울특별시"]},
                        synonyms={"seoul": "서울", "서울특별시": "서울"})
    model = NluModel.train(data)
    entities = model.parse("SEOUL, Seoulite, 서울에서 서울특별시로")["entities"]
    assert [(e["value"], e["start"], e["end"]) for e in entities] == [
        ("서울", 0, 5), ("서울", 17, 19), ("서울", 22, 27)]


def test_ambiguity_margin_falls_back_even_when_confident(model: NluModel) -> None:
    data = load_training_data(DATA)
    strict = NluModel.train(data, {"fallback_threshold": 0.0, "ambiguity_margin": 1.0})
    result = strict.parse("네 관심 있어요")
    assert result["intent"] == {"name": "nlu_fallback", "confidence": 0.0}
    assert result["intent_ranking"][1]["name"] == "affirm"
    lenient = NluModel.train(data, {"fallback_threshold": 0.0, "ambiguity_margin": 0.0,
                                    "out_of_scope_threshold": 0.0,
                                    "similarity_threshold": 0.0})
    assert lenient.parse("asdf")["intent"]["name"] != "nlu_fallback"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_NLU_FALLBACK_THRESHOLD", "1.0")
    model = NluModel.train(load_training_data(DATA))
    assert model.config["fallback_threshold"] == 1.0
    assert model.parse("네 관심 있어요")["intent"] == {"name": "nlu_fallback",
                                                    "confidence": 1.0}
    # An explicit config wins over the environment.
    model = NluModel.train(load_training_data(DATA), {"fallback_threshold": 0.3})
    assert model.parse("네 관심 있어요")["intent"]["name"] == "affirm"


def test_bad_config_is_reported() -> None:
    data = load_training_data(DATA)
    with pytest.raises(NluModelError, match=r"^NLU config: unknown key `treshold`; known keys"):
        NluModel.train(data, {"treshold": 0.5})
    with pytest.raises(NluModelError, match=r"`fallback_threshold` is 1.5; use a number"):
        NluModel.train(data, {"fallback_threshold": 1.5})
    assert set(DEFAULT_CONFIG) >= {"C", "class_weight", "ranking_length", "fallback_threshold",
                                   "ambiguity_margin", "char_ngram_range"}


def test_tiny_intents_train_and_classify() -> None:
    data = TrainingData(examples=[Example("네 좋아요", "affirm"), Example("아니요", "deny"),
                                  Example("싫어요", "deny"), Example("얼마에요", "ask_price")])
    model = NluModel.train(data)
    assert model.parse("네 좋아요")["intent"]["name"] == "affirm"
    assert model.parse("얼마에요")["intent"]["name"] == "ask_price"
    two = NluModel.train(TrainingData(examples=[Example("yes", "affirm"), Example("no", "deny")]))
    assert two.parse("yes")["intent"]["name"] == "affirm"
    assert [r["name"] for r in two.parse("no")["intent_ranking"]] == ["deny", "affirm"]


def test_single_intent_scores_similarity_to_its_examples() -> None:
    data = TrainingData(examples=[Example("네 좋아요", "affirm"), Example("좋습니다", "affirm")])
    model = NluModel.train(data)
    same = model.parse("네 좋아요")["intent"]
    assert same["name"] == "affirm" and same["confidence"] == pytest.approx(1.0)
    near = model.parse("좋아요")["intent"]
    assert near["name"] == "affirm" and 0.6 < near["confidence"] < 1.0
    assert model.parse("가격이 얼마에요")["intent"]["name"] == "nlu_fallback"
    assert model.parse("")["intent"]["name"] == "nlu_fallback"


def test_english_and_chinese() -> None:
    data = TrainingData(examples=[
        Example(t, i) for i, ts in {
            "affirm": ["yes please", "sure, sounds good", "是的", "好的 可以", "네 좋아요"],
            "deny": ["no thanks", "not interested", "不用了", "不需要", "아니요 됐어요"],
            "ask_price": ["how much is it", "what does it cost", "多少钱", "价格是多少", "얼마에요"],
        }.items() for t in ts])
    model = NluModel.train(data)
    for text, intent in [("Yes, sounds good!", "affirm"), ("No, I'm not interested", "deny"),
                         ("How much does it cost?", "ask_price"), ("这个多少钱", "ask_price"),
                         ("不用了 谢谢", "deny"), ("好的", "affirm")]:
        assert model.parse(text)["intent"]["name"] == intent, text


def test_repeated_examples_count_once_and_conflicts_stay_ambiguous() -> None:
    # "네" is twice under affirm and once under deny; counted once, the two intents are
    # mirror images, so "네" is a tie and falls back instead of tipping to affirm.
    data = TrainingData(examples=[Example("네", "affirm"), Example("네", "affirm"),
                                  Example("좋아요", "affirm"), Example("네", "deny"),
                                  Example("아니요", "deny")])
    result = NluModel.train(data).parse("네")
    assert result["intent"]["name"] == "nlu_fallback"
    assert result["intent_ranking"][1]["confidence"] == pytest.approx(0.5, abs=0.01)
    assert {r["name"] for r in result["intent_ranking"]} == {"nlu_fallback", "affirm", "deny"}


def test_save_and_load_give_identical_answers(model: NluModel, tmp_path: Path) -> None:
    model.save(tmp_path / "model")
    metadata = json.loads((tmp_path / "model" / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["intents"] == load_training_data(DATA).intents()
    assert metadata["config"] == model.config and metadata["format_version"] == 2
    loaded = NluModel.load(tmp_path / "model")
    texts = [t for t, _ in HELD_OUT] + UNRELATED + ["낼모레 오후 3시 반에 010-9876-5432로"]
    for text in texts:
        assert loaded.parse(text) == model.parse(text)


def test_loading_a_missing_or_damaged_model_says_what_to_do(model: NluModel,
                                                           tmp_path: Path) -> None:
    with pytest.raises(NluModelError, match=r"nowhere: no saved NLU model here \(metadata\.json "
                                            r"is missing\); train one"):
        NluModel.load(tmp_path / "nowhere")
    target = tmp_path / "m"
    model.save(target)
    (target / "LogisticIntentClassifier.joblib").write_bytes(b"not a pickle")
    with pytest.raises(NluModelError, match=r"LogisticIntentClassifier\.joblib: cannot be read"):
        NluModel.load(target)
    model.save(target)
    (target / "TfidfFeaturizer.joblib").unlink()
    with pytest.raises(NluModelError, match=r"TfidfFeaturizer\.joblib: missing; save"):
        NluModel.load(target)
    model.save(target)
    meta = target / "metadata.json"
    meta.write_text("{not json", encoding="utf-8")
    with pytest.raises(NluModelError, match=r"metadata\.json: is corrupt"):
        NluModel.load(target)
    model.save(target)
    saved = json.loads(meta.read_text(encoding="utf-8"))
    meta.write_text(json.dumps({**saved, "sklearn_version": "0.1"}), encoding="utf-8")
    with pytest.raises(NluModelError, match=r"saved with scikit-learn 0\.1.*; retrain"):
        NluModel.load(target)


def test_demo_campaign_understands_the_typical_replies() -> None:
    model = NluModel.train(load_training_data(DEMO))
    for text, intent in [("네 관심 있어요", "affirm"), ("가격이 얼마인가요", "ask_price"),
                         ("관심 없어요", "deny"), ("상담원 연결해 주세요", "request_human")]:
        assert model.parse(text)["intent"]["name"] == intent, text
