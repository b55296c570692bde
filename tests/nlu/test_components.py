"""Every pipeline component on its own: create -> train -> persist -> load -> process gives
what the trained one gives, and the default config documents every key."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import numpy as np
import pytest

from nlu.component import Component, Message
from nlu.model import DEFAULT_CONFIG, PIPELINE, _training_messages
from nlu.training_data import load_training_data

DATA = Path(__file__).parent / "data" / "ko_calls.yml"
TEXTS = ["네 관심 있어요", "아니요 됐어요", "서울에서 010-1234-5678로 전화 주세요", "내일모레 오후 3시에 다시", "asdf", "",
         "I'd like to cancel", "冰箱坏了"]
# The embedding featurizer is on here so that it, too, carries state across the round trip.
CONFIG = {**DEFAULT_CONFIG, "embedding_model": "minilm"}


def _snapshot(m: Message) -> dict[str, object]:
    return {"tokens": m.tokens,
            "features": None if m.features is None else m.features.toarray().round(6).tolist(),
            "embedding": None if m.embedding is None else m.embedding.round(6).tolist(),
            "ranking": [(n, round(c, 9)) for n, c in m.intent_ranking],
            "in_scope": round(m.in_scope_score, 9), "intent": m.intent,
            "entities": copy.deepcopy(m.entities)}


@pytest.mark.parametrize("index", range(len(PIPELINE)), ids=[c.name for c in PIPELINE])
def test_round_trip(index: int, tmp_path: Path) -> None:
    data = load_training_data(DATA)
    messages = _training_messages(data)
    before = [c.create(CONFIG) for c in PIPELINE[:index]]
    for c in before:
        c.train(data, messages)
        c.process_batch(messages)
    component = PIPELINE[index].create(CONFIG)
    component.train(data, messages)
    component.persist(tmp_path)
    loaded = PIPELINE[index].load(CONFIG, tmp_path)
    assert loaded.config == component.config
    changed = 0
    for text in TEXTS:
        trained, reloaded = Message(text=text), Message(text=text)
        for c in before:
            c.process(trained)
            c.process(reloaded)
        untouched = _snapshot(trained)
        component.process(trained)
        loaded.process(reloaded)
        assert _snapshot(reloaded) == _snapshot(trained), text
        changed += _snapshot(trained) != untouched
    assert changed, f"{component.name} changed no message; the test exercised nothing"


def test_stateful_components_write_their_state_and_refuse_a_missing_file(
        tmp_path: Path) -> None:
    stateful = [c for c in PIPELINE if c.stateful]
    assert {c.name for c in stateful} >= {"TfidfFeaturizer", "LogisticIntentClassifier",
                                          "RegexEntityExtractor", "EntitySynonymMapper"}
    for cls in stateful:
        with pytest.raises(ValueError, match=rf"{cls.name}.joblib: missing; save the model"):
            cls.load(CONFIG, tmp_path)


def test_every_config_key_is_commented_where_it_is_defined() -> None:
    for cls in PIPELINE:
        source = inspect.getsource(cls)
        for key in cls.DEFAULT_CONFIG:
            line = next(i for i, l in enumerate(source.splitlines()) if f'"{key}":' in l)
            above = source.splitlines()[line - 1].strip()
            assert above.startswith("#"), f"{cls.name}.{key} has no comment above it"
    assert set(DEFAULT_CONFIG) == {k for c in PIPELINE for k in c.DEFAULT_CONFIG}


def test_a_new_component_needs_only_the_contract() -> None:
    class Shout(Component):
        name = "Shout"

        def process(self, message: Message) -> None:
            message.tokens = [t.upper() for t in message.tokens]

    m = Message(text="hi", tokens=["hi"])
    Shout.create({}).process_batch([m])
    assert m.tokens == ["HI"] and not Shout.stateful
    assert np.isclose(Message(text="").in_scope_score, 1.0)


def test_a_model_saved_before_the_components_moved_still_finds_its_preprocessor() -> None:
    import pickle

    from nlu.featurizers import _without_spaces

    # Such a model's TfidfFeaturizer.joblib names the function by its old home.
    assert pickle.loads(b"cnlu.components\n_without_spaces\n.") is _without_spaces
