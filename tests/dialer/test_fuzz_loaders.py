"""The YAML a campaign author writes, fuzzed: simulator personas, dialogue scripts, NLU
training data and a whole campaign directory (script + NLU) as `load_kit` reads it.

Documents come three ways: any YAML value (nested mappings, lists and scalars), the
demo campaign's own files with a few parts replaced, removed or wrapped, and the demo
files' text with bytes cut, doubled or swapped in. Each loader either loads or raises
its own error type (PersonaError, ScriptError, NluDataError) with a message that
names the file; nothing else (KeyError, TypeError, AttributeError, ...) escapes.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.conversation.kit import load_kit
from dialer.conversation.script import ScriptError
from dialer.conversation.script_loader import load_script
from dialer.sandbox.personas import PersonaError, load_personas
from nlu.training_data import NluDataError, load_training_data

DEMO = Path(__file__).resolve().parents[2] / "campaigns" / "examples" / "demo"
FUZZ = settings(max_examples=300, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
# Training a model for every example would be slow; the kit's own checks come first.
FUZZ_KIT = settings(FUZZ, max_examples=40)

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True), st.text(max_size=12),
                    st.sampled_from(["", " ", "say", "expect", "end", "handoff", "hangup",
                                     "silent", "answer", "agent", "machine", "{callback}",
                                     "intent", "examples", "- 네\n- [3시](time)\n", "~nobody"]),
                    st.dates(min_value=datetime.date(1, 1, 1)))
KEYS = st.one_of(st.text(max_size=8), st.integers(-3, 3), st.booleans(), st.none(),
                 st.sampled_from(["personas", "nodes", "settings", "nlu", "say", "expect",
                                  "replies", "number", "dtmf", "global_intents", "start"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


def demo(name: str) -> Any:
    return yaml.safe_load((DEMO / name).read_text(encoding="utf-8"))


def places(doc: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a document, the document itself first."""
    yield at
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from places(value, (*at, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from places(value, (*at, i))


def mutated(original: Any) -> st.SearchStrategy[Any]:
    """The document with one to three of its parts replaced, removed or wrapped in a
    list, or with a key added: mostly valid, so the loaders' deeper checks are reached."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        doc = copy.deepcopy(original)
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.sampled_from(list(places(doc))))
            how = draw(st.sampled_from(["replace", "remove", "wrap", "add"]))
            if not at:
                doc = draw(VALUES) if how == "replace" else [doc] if how == "wrap" else doc
                continue
            parent = doc
            for step in at[:-1]:
                parent = parent[step]
            last = at[-1]
            if how == "replace":
                parent[last] = draw(VALUES)
            elif how == "remove":
                del parent[last]
            elif how == "wrap":
                parent[last] = [parent[last]]
            elif isinstance(parent[last], dict):
                parent[last][draw(KEYS)] = draw(VALUES)
        return doc

    return build()


def as_yaml(doc: Any) -> bytes:
    # Keys of mixed types cannot be sorted; the loaders see them in written order anyway.
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def text_edits(original: bytes) -> st.SearchStrategy[bytes]:
    """The file's bytes with a stretch cut, doubled, or replaced by other bytes (a
    half-saved file, a paste gone wrong, another encoding)."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = original
        for _ in range(draw(st.integers(1, 3))):
            start = draw(st.integers(0, len(data)))
            end = draw(st.integers(start, min(len(data), start + 40)))
            how = draw(st.sampled_from(["cut", "double", "swap"]))
            middle = {"cut": b"", "double": data[start:end] * 2,
                      "swap": draw(st.binary(max_size=8) | st.sampled_from(
                          [b"\t", b": ", b"- ", b"{", b"[", b"'", b"&a", b"*a", b"\xff",
                           "여보세요".encode("cp949"), b"\x00"]))}[how]
            data = data[:start] + middle + data[end:]
        return data

    return build()


def documents(name: str) -> st.SearchStrategy[bytes]:
    raw = (DEMO / name).read_bytes()
    return st.one_of(VALUES.map(as_yaml), mutated(demo(name)).map(as_yaml), text_edits(raw))


def refuses_clearly(load: Callable[[], object], errors: tuple[type[Exception], ...],
                    path: Path) -> None:
    """Loads, or raises one of `errors` with a message naming the file."""
    try:
        load()
    except errors as exc:
        assert str(path) in str(exc), f"the message does not name {path}: {exc}"


@FUZZ
@given(data=documents("personas.yml"))
def test_personas(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "personas.yml"
    path.write_bytes(data)
    refuses_clearly(lambda: load_personas(path), (PersonaError,), path)


@FUZZ
@given(data=documents("script.yml"))
def test_scripts(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "script.yml").write_bytes(data)
    intents = {"affirm", "deny", "ask_price", "request_human", "opt_out", "ask_identity",
               "call_later", "cant_hear", "too_expensive", "already_have"}
    refuses_clearly(lambda: load_script(tmp_path, known_intents=intents), (ScriptError,),
                    tmp_path / "script.yml")


@FUZZ
@given(data=documents("nlu.yml"))
def test_nlu_training_data(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "nlu.yml"
    path.write_bytes(data)
    refuses_clearly(lambda: load_training_data(path), (NluDataError,), path)


@pytest.mark.parametrize("broken", ["script.yml", "nlu.yml"])
def test_campaign_directories(tmp_path: Path, broken: str) -> None:
    @FUZZ_KIT
    @given(data=documents(broken))
    def check(data: bytes) -> None:
        for name in ("script.yml", "nlu.yml"):
            (tmp_path / name).write_bytes(data if name == broken else (DEMO / name).read_bytes())
        # A broken nlu.yml may show as a script intent the NLU does not know: either
        # file of the directory may be the one named.
        refuses_clearly(lambda: load_kit(tmp_path), (ScriptError, NluDataError), tmp_path)

    check()


# -- what the fuzzing found, kept as examples ---------------------------------------

PERSONA = {"name": "x", "number": "1"}


@pytest.mark.parametrize(("doc", "message"), [
    ({"personas": ["interested"]}, "persona #1 must be a mapping"),
    ({"personas": [{**PERSONA, "answer": ["busy"]}]}, r"answer \['busy'\] must be one of"),
    ({"personas": [{**PERSONA, "replies": 5}]}, "replies must be a list"),
    ({"personas": [{**PERSONA, "ring_s": "soon"}]}, "ring_s 'soon' must be seconds"),
    ({"personas": [PERSONA, {**PERSONA, "name": "y"}]}, "number 1 is also persona 'x'"),
])
def test_persona_mistakes_found_by_fuzzing(tmp_path: Path, doc: Any, message: str) -> None:
    path = tmp_path / "personas.yml"
    path.write_bytes(as_yaml(doc))
    with pytest.raises(PersonaError, match=message) as err:
        load_personas(path)
    assert str(err.value).startswith(f"{path}: ")


def edited_script(change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = demo("script.yml")
    change(doc)
    return as_yaml(doc)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["nodes"]["greeting"].update({1: "x", "tone": "y"}),
     r"unknown key\(s\) \[1, 'tone'\]"),
    (lambda d: d["nodes"]["opt_out_close"].update(end=["opt_out"]), "end disposition"),
    (lambda d: d.update(global_intents=["handoff"]), "'global_intents:' must map"),
    (lambda d: d.update(settings=[{"max_no_input": 2}]), "'settings:' must be a mapping"),
    (lambda d: d["settings"].update({1: 2, "colour": 3}), r"unknown setting\(s\) \[1, 'col"),
    (lambda d: d["settings"].update(fallback_node={}), "goes to unknown node {}"),
    (lambda d: d["nodes"]["greeting"].update(no_match=["price"]), "goes to unknown node"),
    (lambda d: d.update(nlu={"model": "~nosuchuser/model"}), "no such user's home"),
])
def test_script_mistakes_found_by_fuzzing(tmp_path: Path, change: Callable[[Any], None],
                                          message: str) -> None:
    (tmp_path / "script.yml").write_bytes(edited_script(change))
    with pytest.raises(ScriptError, match=message) as err:
        load_script(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'script.yml'}: ")


@pytest.mark.parametrize("name", ["personas.yml", "script.yml"])
def test_a_file_in_another_encoding_is_named(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes((DEMO / name).read_text(encoding="utf-8").encode("cp949"))
    with pytest.raises((PersonaError, ScriptError), match="not UTF-8 text") as err:
        load_personas(path) if name == "personas.yml" else load_script(tmp_path)
    assert str(err.value).startswith(f"{path}: ")
