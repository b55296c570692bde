"""Reading Rasa-format nlu.yml: every item kind, annotations, merging, errors, warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nlu.training_data import Entity, NluDataError, load_training_data, parse_annotations

DATA = Path(__file__).parent / "data" / "ko_calls.yml"


def write(tmp_path: Path, text: str, name: str = "nlu.yml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


ALL_KINDS = """\
version: "3.1"
nlu:
- intent: call_later
  examples: |
    - 나중에 전화 주세요

    - [내일](day) [3시](time)에 전화 주세요
    - [낼모레](day:모레) 연락 주세요
    - call me [tomorrow]{"entity": "day", "value": "내일"} please
    - [Seoul]{"entity": "city", "role": "home"} office
- synonym: 모레
  examples: |
    - 내일모레
- regex: time
  examples: |
    - \\d{1,2}\\s?시
- lookup: day
  examples: |
    - 내일
    - 모레
- intent: bye
  examples:
  - 안녕히 계세요
  - text: |
      끊을게요
    metadata:
      sentiment: neutral
"""


def test_every_item_kind_with_real_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, ALL_KINDS)
    data = load_training_data(path)
    assert [(e.text, e.intent, e.source) for e in data.examples] == [
        ("나중에 전화 주세요", "call_later", f"{path}:5"),
        ("내일 3시에 전화 주세요", "call_later", f"{path}:7"),
        ("낼모레 연락 주세요", "call_later", f"{path}:8"),
        ("call me tomorrow please", "call_later", f"{path}:9"),
        ("Seoul office", "call_later", f"{path}:10"),
        ("안녕히 계세요", "bye", f"{path}:23"),
        ("끊을게요", "bye", f"{path}:25"),
    ]
    assert data.intents() == ["bye", "call_later"]
    assert data.examples_for("bye") == ["안녕히 계세요", "끊을게요"]
    assert data.regexes == {"time": [r"\d{1,2}\s?시"]}
    assert data.lookups == {"day": ["내일", "모레"]}
    # Inline values become synonyms, next to the `synonym:` item.
    assert data.synonyms == {"낼모레": "모레", "tomorrow": "내일", "내일모레": "모레"}
    assert data.warnings == []


def test_entity_offsets_index_the_stripped_text(tmp_path: Path) -> None:
    data = load_training_data(write(tmp_path, ALL_KINDS))
    by_text = {e.text: e.entities for e in data.examples}
    assert by_text["내일 3시에 전화 주세요"] == (Entity("day", "내일", 0, 2),
                                          Entity("time", "3시", 3, 5))
    assert by_text["낼모레 연락 주세요"] == (Entity("day", "모레", 0, 3),)
    assert by_text["call me tomorrow please"] == (Entity("day", "내일", 8, 16),)
    assert by_text["Seoul office"] == (Entity("city", "Seoul", 0, 5, role="home"),)
    for ex in data.examples:
        for en in ex.entities:
            assert ex.text[en.start:en.end] in {en.value, "낼모레", "tomorrow"}


def test_several_entities_on_one_span_and_plain_text() -> None:
    text, entities = parse_annotations('[부산]{"entity": "city"} 에서 [서울][{"entity": "city", '
                                       '"role": "to"}, {"entity": "place"}] 까지 (급행)')
    assert text == "부산 에서 서울 까지 (급행)"
    assert entities == (Entity("city", "부산", 0, 2), Entity("city", "서울", 6, 8, role="to"),
                        Entity("place", "서울", 6, 8))


def test_files_and_directories_merge(tmp_path: Path) -> None:
    first = write(tmp_path, 'version: "3.1"\nnlu:\n- intent: affirm\n  examples: |\n    - 네\n'
                  "- regex: time\n  examples: |\n    - \\d시\n", "data/a.yml")
    write(tmp_path, "nlu:\n- intent: affirm\n  examples: |\n    - 좋아요\n"
          "- intent: deny\n  examples: |\n    - 아니요\n"
          "- regex: time\n  examples: |\n    - \\d분\n", "data/sub/b.yaml")
    # A campaign directory also holds script.yml; it has no `nlu:` and is skipped.
    script = write(tmp_path, "start: greeting\nnodes: {}\n", "data/script.yml")
    data = load_training_data(tmp_path / "data")
    assert [(e.text, e.intent) for e in data.examples] == [
        ("네", "affirm"), ("좋아요", "affirm"), ("아니요", "deny")]
    assert data.regexes == {"time": [r"\d시", r"\d분"]}
    assert data.warnings == [f"{script}: no `nlu:` section; file skipped"]
    extra = write(tmp_path, "nlu:\n- intent: bye\n  examples: |\n    - 안녕히\n", "extra.yml")
    both = load_training_data([first, extra])
    assert both.intents() == ["affirm", "bye"]
    assert both.examples[-1].source == f"{extra}:4"


def test_other_rasa_sections_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "version: '3.1'\nnlu:\n- intent: affirm\n  examples: |\n    - 네\n"
                 "stories:\n- story: s\n  steps: []\n")
    assert load_training_data(path).examples_for("affirm") == ["네"]


def test_demo_campaign_loads_cleanly() -> None:
    data = load_training_data(DATA)
    assert data.warnings == []
    assert len(data.intents()) == 7
    assert all(len(data.examples_for(i)) == 8 for i in data.intents())


def test_duplicates_and_conflicts_warn(tmp_path: Path) -> None:
    a = write(tmp_path, "nlu:\n- intent: affirm\n  examples: |\n    - 네 좋아요\n    - 괜찮아요\n"
              "    - 네  좋아요\n", "a.yml")
    b = write(tmp_path, "nlu:\n- intent: deny\n  examples: |\n    - 괜찮아요\n"
              "- synonym: 모레\n  examples: |\n    - 낼모레\n"
              "- synonym: 내일\n  examples: |\n    - 낼모레\n", "b.yml")
    data = load_training_data([a, b])
    assert len(data.examples) == 4  # warnings never drop data
    assert data.warnings == [
        f"{b}:10: synonym `낼모레` maps to `내일` but already to `모레`; `내일` is used, keep one",
        f"{a}:6: duplicate example `네  좋아요` in intent `affirm` (first at {a}:4); delete one",
        (f"{b}:4: example `괜찮아요` is under intents `affirm` ({a}:5) and `deny`; the model "
         "cannot tell them apart, keep it under one intent"),
    ]
    assert data.synonyms == {"낼모레": "내일"}


ITEM = "version: '3.1'\nnlu:\n- intent: affirm\n  examples: |\n    - 네\n"
ERRORS = [
    # (file text, line, words the message must contain)
    (ITEM + "- intent: deny\n  exmaples: |\n    - 아니요\n", 7, "unknown key `exmaples`"),
    (ITEM + "- intent: deny\n", 6, "intent `deny` has no `examples:`"),
    (ITEM + "    - \n", 6, "empty example in intent `affirm`"),
    (ITEM + "    아니요\n", 6, "does not start with `- `"),
    (ITEM + '    - [3시]{"entity": time}\n', 6, "is not valid JSON"),
    (ITEM + '    - [3시]{"value": "x"}\n', 6, 'has no "entity" name'),
    (ITEM + "    - [3시]()\n", 6, "names no entity"),
    (ITEM + "- regex: time\n  examples: |\n    - (\\d+시\n", 8, "regex `time` does not compile"),
    ("version: 3.1\nnlu: []\n", 1, "`version` must be a string"),
    ("nlu:\n- intent: a\n\texamples: x\n", 3, "invalid YAML"),
    ("nul:\n- intent: a\n", 1, "no `nlu:` section"),
    (ITEM + "nul: []\n", 6, "unknown top-level key `nul`"),
    ("nlu:\n- intent: a\n  examples: >\n    - 네\n    - 예\n", 3, "use `>`"),
    ("nlu:\n- intent: nlu_fallback\n  examples: |\n    - 네\n", 2, "is reserved"),
    ("nlu:\n- intent: a\n  intent: b\n  examples: |\n    - 네\n", 3, "appears twice"),
    ("nlu:\n- intent: a\n  synonym: b\n  examples: |\n    - 네\n", 2, "both `intent` and"),
    ("nlu:\n- examples: |\n    - 네\n", 2, "none of intent, synonym, regex, lookup"),
    ("nlu:\n- intent: a\n  examples: |\n", 3, "intent `a` has no examples"),
    ("nlu:\n- intent: a\n  examples:\n    x: 1\n", 4, "is a mapping"),
    ("nlu:\n- 네\n", 2, "must be a mapping"),
    ("nlu:\n  intent: a\n", 2, "must be a list of items"),
]


@pytest.mark.parametrize(("text", "line", "words"), ERRORS)
def test_malformed_files_name_file_and_line(tmp_path: Path, text: str, line: int,
                                            words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(NluDataError) as info:
        load_training_data(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message
    assert "\n" not in message and re.search(r"; \S", message), message  # says the fix too
    assert (info.value.file, info.value.line) == (str(path), line)


def test_paths_that_hold_no_data(tmp_path: Path) -> None:
    with pytest.raises(NluDataError, match=r"missing\.yml: no such file or directory; check"):
        load_training_data(tmp_path / "missing.yml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NluDataError, match=r"empty: directory holds no \*\.yml"):
        load_training_data(tmp_path / "empty")
    with pytest.raises(NluDataError, match="no intent examples found"):
        load_training_data(write(tmp_path, "nlu:\n- lookup: day\n  examples: |\n    - 내일\n"))
    bad = tmp_path / "latin1.yml"
    bad.write_bytes("nlu:\n- intent: a\n  examples: |\n    - caf\xe9\n".encode("latin-1"))
    with pytest.raises(NluDataError, match="not UTF-8 text"):
        load_training_data(bad)


RASA_STYLE_EN = """\
version: "3.1"
nlu:
- intent: greet
  metadata:
    language: en
  examples: |
    - hey
    - hello there
    - good morning
- intent: chitchat/ask_name
  examples: |
    - what's your name
    - who am i talking to
- intent: book_flight
  examples: |
    - fly me from [Berlin]{"entity": "city", "role": "departure"} to [NYC]{"entity": "city", "role": "destination", "value": "New York"}
    - i need a flight to [new york city](city:New York) on [monday](weekday)
    - book a ticket to [Paris](city) for [2]{"entity": "seats", "group": "1"} people
- synonym: New York
  examples: |
    - NY
    - the big apple
- regex: account_number
  examples: |
    - \\b\\d{10,12}\\b
- lookup: city
  examples: |
    - Berlin
    - Paris
    - New York
    - NY
    - the big apple
"""


def test_a_rasa_docs_style_file_trains_and_extracts(tmp_path: Path) -> None:
    from nlu.model import NluModel

    data = load_training_data(write(tmp_path, RASA_STYLE_EN))
    assert data.intents() == ["book_flight", "chitchat/ask_name", "greet"]
    first = next(e for e in data.examples if e.text.startswith("fly me"))
    assert [(x.entity, x.value, x.role) for x in first.entities] == [
        ("city", "Berlin", "departure"), ("city", "New York", "destination")]
    assert data.synonyms["NYC"] == "New York" and data.synonyms["the big apple"] == "New York"
    parsed = NluModel.train(data).parse("fly me to the big apple, account 0123456789")
    assert [(e["entity"], e["value"], e["start"], e["end"]) for e in parsed["entities"]] == [
        ("city", "New York", 10, 23), ("account_number", "0123456789", 33, 43)]


@pytest.mark.parametrize(("example", "text"), [
    ("I live in [country]", "I live in [country]"),  # bare, as Rasa reads it: plain text
    ("[3시(time)에 전화", "[3시(time)에 전화"),
    ("3시](time)에", "3시](time)에"),
    ("[3시](time 에 [전화](kind)", "[3시](time 에 전화"),
])
def test_brackets_that_are_no_annotation_are_text_as_in_rasa(tmp_path: Path, example: str,
                                                             text: str) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text(ITEM + f"    - {example}\n", encoding="utf-8")
    data = load_training_data(path)
    assert [e.text for e in data.examples] == ["네", text]
    assert data.warnings == [(f"{path}:6: example `{example}` has a bracket that annotates no "
                             "entity; it is kept as text (as Rasa reads it). Annotate entities "
                             "as [text](entity)")]


GRAMMAR_METADATA = """\
version: "3.1"
nlu:
- intent: request_human
  examples: |
    - 상담원 연결해 주세요
- intent: request_human
  metadata:
    grammar: false
    author: mina
  examples: |
    - 기계 말고 사람이랑 얘기하고 싶어요
    - 로봇은 됐고요 직원 바꿔 주세요
- intent: opt_out
  metadata: {grammar: false}
  examples:
  - text: 전화 그만 하세요
    metadata: {grammar: true}
  - text: 번호 지워 주세요
  - 다시는 연락하지 마세요
"""


def test_grammar_false_examples_teach_the_nlu_but_are_no_phrases(tmp_path: Path) -> None:
    data = load_training_data(write(tmp_path, GRAMMAR_METADATA))
    # Every example is training data; an intent may come in several blocks (as in Rasa).
    assert data.examples_for("request_human") == [
        "상담원 연결해 주세요", "기계 말고 사람이랑 얘기하고 싶어요", "로봇은 됐고요 직원 바꿔 주세요"]
    assert len(data.examples_for("opt_out")) == 3
    # The recogniser listens only for the others; an example's own metadata wins.
    assert data.phrases_for("request_human") == ["상담원 연결해 주세요"]
    assert data.phrases_for("opt_out") == ["전화 그만 하세요"]
    assert not data.warnings


@pytest.mark.parametrize(("metadata", "line", "problem"), [
    ("  metadata: {grammar: no-thanks}", 4, "metadata `grammar` must be true or false"),
    ("  metadata: \"grammar false\"", 4, "`metadata:` must be a mapping"),
    ("  metadata: {grammar: 0}", 4, "metadata `grammar` must be true or false"),
])
def test_a_grammar_flag_that_is_no_boolean_is_refused(tmp_path: Path, metadata: str, line: int,
                                                       problem: str) -> None:
    text = f'version: "3.1"\nnlu:\n- intent: affirm\n{metadata}\n  examples: |\n    - 네\n'
    with pytest.raises(NluDataError) as err:
        load_training_data(write(tmp_path, text))
    assert err.value.line == line and problem in err.value.problem
