"""Rasa-format NLU training data (`nlu.yml`), read with the line of every example kept.

The YAML is composed into nodes rather than loaded into plain Python values, because only
nodes remember where they came from; every error and every `Example.source` then names
the real line a campaign author has to open.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nlu.phrase import Phrase
from nlu.yaml_nodes import NluDataError, grammar_flag
from nlu.yaml_nodes import line_of as _line
from nlu.yaml_nodes import mapping as _mapping
from nlu.yaml_nodes import scalar as _scalar

FALLBACK_INTENT = "nlu_fallback"
_STR_TAG = "tag:yaml.org,2002:str"
_ITEM_KINDS = ("intent", "synonym", "regex", "lookup")
_ITEM_KEYS = {"intent": {"intent", "examples", "metadata"}, "synonym": {"synonym", "examples"},
              "regex": {"regex", "examples"}, "lookup": {"lookup", "examples"}}
# Other sections a Rasa project keeps in the same files; they are not NLU, so they are
# skipped instead of being reported as typos.
_OTHER_RASA_KEYS = {"stories", "rules", "responses", "intents", "entities", "slots", "forms",
                    "actions", "session_config", "e2e_actions", "config"}
_ENTITY_JSON_KEYS = {"entity", "value", "role", "group"}
# [text](entity), [text](entity:value), [text]{"entity": ...} and [text][{...}, {...}]
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\[\]]+)\]"
    r"(?:\((?P<short>[^()]*)\)|(?P<json>\{[^{}]*\})|(?P<list>\[\s*\{.*?\}\s*\]))")


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int  # offsets into Example.text, the text with annotations stripped
    end: int
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Example:
    text: str  # annotations stripped, e.g. "[3시](time)에 전화" -> "3시에 전화"
    intent: str
    entities: tuple[Entity, ...] = ()
    source: str = ""  # "file:line"
    # False: teaches the NLU only, never put in the recogniser's phrase list (metadata
    # `grammar: false` on the example or its intent block; see nlu/metadata.py).
    grammar: bool = True


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # variant (as written) -> canonical
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def examples_for(self, intent: str) -> list[str]:
        return [e.text for e in self.examples if e.intent == intent]

    def phrases_for(self, intent: str) -> list[str]:
        """The examples of `intent` the recogniser may hear as whole phrases."""
        return [e.text for e in self.examples if e.intent == intent and e.grammar]

    def entity_names(self) -> list[str]:
        return sorted({en.entity for e in self.examples for en in e.entities})


def normalize(text: str) -> str:
    """The form two texts are compared in: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def load_training_data(paths: Path | str | Sequence[Path | str]) -> TrainingData:
    """Read and merge Rasa NLU YAML files; a directory contributes every *.yml/*.yaml in it."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    data = TrainingData()
    if not paths:
        raise NluDataError("<none>", None, "no NLU training files given",
                           "pass an nlu.yml file or a directory holding one")
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.suffix in (".yml", ".yaml")
                           and p.is_file())
            if not found:
                raise NluDataError(given, None, "directory holds no *.yml or *.yaml files",
                                   "put the NLU training data (e.g. nlu.yml) in it")
            for path in found:
                _load_file(path, data, explicit=False)
        elif given.is_file():
            _load_file(given, data, explicit=True)
        else:
            raise NluDataError(given, None, "no such file or directory",
                               "check the path to the NLU training data")
    if not data.examples:
        raise NluDataError(Path(paths[0]), None, "no intent examples found",
                           "add `- intent: <name>` items with `examples: |` under `nlu:`")
    _check_examples(data)
    return data


def _load_file(path: Path, data: TrainingData, explicit: bool) -> None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise NluDataError(path, None, f"not UTF-8 text ({e.reason})",
                           "save the file as UTF-8") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise NluDataError(path, mark.line + 1 if mark else None,
                           f"invalid YAML: {e.problem or e.context}",
                           "fix the YAML syntax (indent with spaces, quote text holding ': ')"
                           ) from None
    except yaml.YAMLError as e:
        raise NluDataError(path, None, f"invalid YAML: {e}", "fix the YAML syntax") from None
    if root is None or (isinstance(root, ScalarNode) and not root.value):
        root = MappingNode("tag:yaml.org,2002:map", [])
    if not isinstance(root, MappingNode):
        raise NluDataError(path, _line(root), "the file is not a YAML mapping",
                           "start it with `version: \"3.1\"` and `nlu:`")
    top = _mapping(path, root)
    if "nlu" not in top:
        if explicit:
            raise NluDataError(path, 1, "no `nlu:` section",
                               "add `nlu:` followed by `- intent: <name>` items")
        data.warnings.append(Phrase("{path}: no `nlu:` section; file skipped", path=str(path)))
        return
    for key, (knode, _) in top.items():
        if key not in ("version", "nlu") and key not in _OTHER_RASA_KEYS:
            raise NluDataError(path, _line(knode), f"unknown top-level key `{key}`",
                               "an NLU file has `version:` and `nlu:`; fix the spelling")
    if "version" in top:
        vnode = top["version"][1]
        if not (isinstance(vnode, ScalarNode) and vnode.tag == _STR_TAG):
            raise NluDataError(path, _line(vnode), "`version` must be a string",
                               'quote it, e.g. version: "3.1"')
    items = top["nlu"][1]
    if isinstance(items, ScalarNode) and items.value == "":
        return  # `nlu:` with nothing under it yet
    if not isinstance(items, SequenceNode):
        raise NluDataError(path, _line(items), "`nlu:` must be a list of items",
                           "write each item as `- intent: <name>` with `examples: |` under it")
    for item in items.value:
        _load_item(path, item, data)


def _load_item(path: Path, node: Node, data: TrainingData) -> None:
    if not isinstance(node, MappingNode):
        raise NluDataError(path, _line(node), "an `nlu:` item must be a mapping",
                           "write it as `- intent: <name>` with `examples: |` under it")
    keys = _mapping(path, node)
    kinds = [k for k in _ITEM_KINDS if k in keys]
    if len(kinds) != 1:
        problem = ("item has none of intent, synonym, regex, lookup" if not kinds
                   else f"item has both `{kinds[0]}` and `{kinds[1]}`")
        raise NluDataError(path, _line(node), problem,
                           "start each item with exactly one of `- intent:`, `- synonym:`, "
                           "`- regex:` or `- lookup:`")
    kind = kinds[0]
    for key, (knode, _) in keys.items():
        if key not in _ITEM_KEYS[kind]:
            allowed = ", ".join(sorted(_ITEM_KEYS[kind]))
            raise NluDataError(path, _line(knode), f"unknown key `{key}` in a {kind} item",
                               f"allowed keys are {allowed}; fix the spelling")
    name_node = keys[kind][1]
    name = _scalar(path, name_node, f"the {kind} name")
    if not name:
        raise NluDataError(path, _line(name_node), f"empty {kind} name",
                           f"give the item a name, e.g. `- {kind}: <name>`")
    if kind == "intent" and name == FALLBACK_INTENT:
        raise NluDataError(path, _line(name_node), f"intent `{name}` is reserved",
                           "the NLU answers it when unsure; rename the intent")
    if "examples" not in keys:
        raise NluDataError(path, _line(node), f"{kind} `{name}` has no `examples:`",
                           "add `examples: |` followed by lines like `- an example`")
    lines = list(_example_lines(path, keys["examples"][1], kind, name))
    if not lines:
        raise NluDataError(path, _line(keys["examples"][1]), f"{kind} `{name}` has no examples",
                           "add lines like `- an example` under `examples: |`")
    if kind == "intent":
        block = grammar_flag(path, keys["metadata"][1] if "metadata" in keys else None)
        for raw, line, meta in lines:
            text, entities = parse_annotations(raw, path, line)
            if _has_stray_bracket(raw):
                data.warnings.append(Phrase(
                    "{where}: example `{raw}` has a bracket that annotates no entity; it is "
                    "kept as text (as Rasa reads it). Annotate entities as [text](entity)",
                    where=f"{path}:{line}", raw=raw))
            own = grammar_flag(path, meta)
            data.examples.append(Example(text, name, entities, f"{path}:{line}",
                                         grammar=(block if own is None else own) is not False))
            for en in entities:
                if en.value != text[en.start:en.end]:
                    _add_synonym(data, text[en.start:en.end], en.value, f"{path}:{line}")
    elif kind == "synonym":
        for raw, line, _ in lines:
            _add_synonym(data, raw, name, f"{path}:{line}")
    elif kind == "regex":
        for raw, line, _ in lines:
            try:
                re.compile(raw)
            except re.error as e:
                raise NluDataError(path, line, f"regex `{name}` does not compile: {e.msg} "
                                   f"at position {e.pos}",
                                   "fix the pattern (a Python regular expression)") from None
        data.regexes.setdefault(name, []).extend(raw for raw, _, _ in lines)
    else:
        data.lookups.setdefault(name, []).extend(raw for raw, _, _ in lines)


def _example_lines(path: Path, node: Node, kind: str,
                   name: str) -> Iterator[tuple[str, int, Node | None]]:
    """(example, 1-based line, its `metadata:` node) from a `|` block or from a list of
    strings/`text:`."""
    if isinstance(node, ScalarNode):
        if node.style == ">":
            raise NluDataError(path, _line(node), f"examples of {kind} `{name}` use `>`, which "
                               "joins lines", "write `examples: |` so each line stays one example")
        multiline = node.end_mark.line > node.start_mark.line
        if node.style != "|" and multiline:
            raise NluDataError(path, _line(node), f"examples of {kind} `{name}` span several "
                               "lines without `|`", "write `examples: |` above the `- ` lines")
        # A literal block's content starts on the line after the `|` and keeps every break.
        first = node.start_mark.line + 2 if node.style == "|" else node.start_mark.line + 1
        for i, raw in enumerate(node.value.split("\n")):
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                raise NluDataError(path, first + i, f"example line `{stripped}` of {kind} "
                                   f"`{name}` does not start with `- `",
                                   "begin every example line with `- `")
            text = stripped[1:].strip()
            if not text:
                raise NluDataError(path, first + i, f"empty example in {kind} `{name}`",
                                   "write the example after `- ` or delete the line")
            yield text, first + i, None
    elif isinstance(node, SequenceNode):
        for entry in node.value:
            meta = None
            if isinstance(entry, MappingNode):
                fields = _mapping(path, entry)
                if "text" not in fields or set(fields) - {"text", "metadata"}:
                    raise NluDataError(path, _line(entry), f"an example of {kind} `{name}` "
                                       "needs exactly `text:` (and optionally `metadata:`)",
                                       "write it as `- text: <example>`")
                meta = fields["metadata"][1] if "metadata" in fields else None
                entry = fields["text"][1]
            text = _scalar(path, entry, f"an example of {kind} `{name}`").strip()
            line = _line(entry) + (1 if getattr(entry, "style", None) == "|" else 0)
            if not text:
                raise NluDataError(path, line, f"empty example in {kind} `{name}`",
                                   "write the example text or delete the entry")
            yield text, line, meta
    else:
        raise NluDataError(path, _line(node), f"`examples` of {kind} `{name}` is a mapping",
                           "write `examples: |` followed by lines like `- an example`")


def _has_stray_bracket(raw: str) -> bool:
    """Brackets left in `raw` once its annotations are taken out."""
    return any(ch in "[]" for ch in _ANNOTATION.sub("", raw))


def parse_annotations(raw: str, path: Path | str = "<text>",
                      line: int | None = None) -> tuple[str, tuple[Entity, ...]]:
    """Strip `[text](entity)`-style annotations; entity offsets index the stripped text."""
    out: list[str] = []
    entities: list[Entity] = []
    length, pos = 0, 0

    def plain(segment: str) -> None:
        # A bracket that annotates nothing ("I live in [country]") is text, as Rasa reads
        # it; the loader warns about it (STRAY_BRACKET).
        nonlocal length
        out.append(segment)
        length += len(segment)

    for m in _ANNOTATION.finditer(raw):
        plain(raw[pos:m.start()])
        span = m.group("text")
        start, end = length, length + len(span)
        for spec in _entity_specs(m, raw, path, line):
            entities.append(Entity(spec["entity"], spec.get("value", span), start, end,
                                   spec.get("role"), spec.get("group")))
        out.append(span)
        length = end
        pos = m.end()
    plain(raw[pos:])
    return "".join(out), tuple(entities)


def _entity_specs(m: re.Match[str], raw: str, path: Path | str,
                  line: int | None) -> list[dict[str, str]]:
    fix = 'write [text](entity), [text](entity:value) or [text]{"entity": "e", "value": "v"}'
    if m.group("short") is not None:
        entity, _, value = m.group("short").partition(":")
        if not entity.strip():
            raise NluDataError(path, line, f"annotation `{m.group(0)}` names no entity", fix)
        spec = {"entity": entity.strip()}
        if value.strip():
            spec["value"] = value.strip()
        return [spec]
    source = m.group("json") or m.group("list")
    try:
        parsed = json.loads(source)
    except json.JSONDecodeError as e:
        raise NluDataError(path, line, f"annotation `{m.group(0)}` is not valid JSON ({e.msg})",
                           fix) from None
    specs = parsed if isinstance(parsed, list) else [parsed]
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str) \
                or not spec["entity"].strip():
            raise NluDataError(path, line, f"annotation `{m.group(0)}` in `{raw}` has no "
                               '"entity" name', fix)
        unknown = set(spec) - _ENTITY_JSON_KEYS
        if unknown:
            raise NluDataError(path, line, f"annotation `{m.group(0)}` has unknown key "
                               f"`{min(unknown)}`", 'use only "entity", "value", '
                               '"role" and "group"')
        if any(not isinstance(v, str) for v in spec.values()):
            raise NluDataError(path, line, f"annotation `{m.group(0)}` has a non-string value",
                               "quote the values")
    return specs


def _add_synonym(data: TrainingData, variant: str, canonical: str, source: str) -> None:
    key = normalize(variant)
    for known, target in data.synonyms.items():
        if normalize(known) == key and target != canonical:
            data.warnings.append(Phrase("{where}: synonym `{variant}` maps to `{canonical}` "
                                        "but already to `{target}`; `{canonical}` is used, "
                                        "keep one", where=source, variant=variant,
                                        canonical=canonical, target=target))
            del data.synonyms[known]
            break
    data.synonyms[variant] = canonical


def _check_examples(data: TrainingData) -> None:
    """Warn about repeated texts: harmless twice in one intent, confusing across two."""
    seen: dict[str, dict[str, Example]] = {}
    for ex in data.examples:
        by_intent = seen.setdefault(normalize(ex.text), {})
        if ex.intent in by_intent:
            data.warnings.append(Phrase("{where}: duplicate example `{example}` in intent "
                                        "`{intent}` (first at {first}); delete one",
                                        where=ex.source, example=ex.text, intent=ex.intent,
                                        first=by_intent[ex.intent].source))
            continue
        for other, first in by_intent.items():
            data.warnings.append(Phrase("{where}: example `{example}` is under intents "
                                        "`{other}` ({first}) and `{intent}`; the model "
                                        "cannot tell them apart, keep it under one intent",
                                        where=ex.source, example=ex.text, other=other,
                                        first=first.source, intent=ex.intent))
        by_intent[ex.intent] = ex
