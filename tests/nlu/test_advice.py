"""Advice to a campaign author on their NLU examples (nlu/advice.py): too few per intent,
two intents' examples that mean the same, and examples misread when held out."""

from __future__ import annotations

from nlu.advice import MIN_EXAMPLES, advise
from nlu.training_data import Example, TrainingData

GREET = ["hello there", "hi", "good morning", "hey", "hi there", "hello", "good evening",
         "hey there", "morning", "howdy"]
BYE = ["goodbye", "bye", "see you later", "bye bye", "talk to you later", "see you",
       "goodbye for now", "catch you later", "so long", "farewell"]


def data(**intents: list[str]) -> TrainingData:
    return TrainingData(examples=[Example(t, i, source=f"nlu.yml:{n}")
                                  for i, texts in intents.items()
                                  for n, t in enumerate(texts)])


def test_an_intent_with_too_few_examples_is_named() -> None:
    advice = advise(data(greet=GREET, bye=BYE, price=["how much", "what does it cost",
                                                      "the price please"]))
    assert advice.few == [("price", 3)]
    assert (f"intent `price` has 3 examples; write {MIN_EXAMPLES} or more, in the words "
            "callees use") in advice.lines()


def test_two_intents_saying_the_same_are_named() -> None:
    advice = advise(data(greet=GREET, bye=[*BYE[:-1], "well hello there"]))
    (a, b, similarity), *_ = advice.similar
    assert {(a.text, a.intent), (b.text, b.intent)} == {("hello there", "greet"),
                                                        ("well hello there", "bye")}
    assert similarity >= 0.9
    assert any("mean nearly the same" in line and "`well hello there` (bye" in line
               for line in advice.lines())


def test_distinct_intents_get_no_similarity_advice() -> None:
    advice = advise(data(greet=GREET, bye=BYE))
    assert advice.similar == [] and advice.few == []


def test_cross_validation_names_the_examples_misread_when_held_out() -> None:
    # "what's the weather" is no greeting: trained without it, the model cannot place it.
    advice = advise(data(greet=[*GREET, "what's the weather"], bye=BYE))
    missed = {m.text: m for m in advice.misses}
    assert "what's the weather" in missed
    assert missed["what's the weather"].intent == "greet"
    assert missed["what's the weather"].predicted != "greet"
    assert advice.cv_accuracy["greet"] < 1.0
    assert any(line.startswith("`what's the weather` (greet, nlu.yml:10) is read as")
               for line in advice.lines())


def test_progress_is_reported_per_fold() -> None:
    seen: list[tuple[int, int]] = []
    advise(data(greet=GREET, bye=BYE), progress=lambda k, n: seen.append((k, n)))
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_the_data_warnings_come_first() -> None:
    d = data(greet=GREET, bye=BYE)
    d.warnings.append("nlu.yml:3: duplicate example")
    assert advise(d).lines()[0] == "nlu.yml:3: duplicate example"
