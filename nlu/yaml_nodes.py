"""YAML nodes of an NLU training file read with their line numbers, and the error that
names file, line, problem and fix (nlu/training_data.py reads the file with these)."""

from __future__ import annotations

from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode


class NluDataError(ValueError):
    """A mistake in an NLU training file, as one line: `<file>:<line>: <problem>; <fix>`."""

    def __init__(self, file: Path | str, line: int | None, problem: str, fix: str) -> None:
        self.file, self.line = str(file), line
        self.problem, self.fix = one_line(problem), one_line(fix)
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {self.problem}; {self.fix}")


def grammar_flag(path: Path, meta: Node | None) -> bool | None:
    """`grammar:` of a `metadata:` mapping (None when not said); other metadata keys are
    the author's own, kept out of the way as Rasa does."""
    if meta is None or (isinstance(meta, ScalarNode) and meta.value == ""):
        return None
    if not isinstance(meta, MappingNode):
        raise NluDataError(path, line_of(meta), "`metadata:` must be a mapping",
                           "write it as `metadata:` with `grammar: false` under it")
    found = mapping(path, meta).get("grammar")
    if found is None:
        return None
    node = found[1]
    if not (isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:bool"):
        raise NluDataError(path, line_of(node), "metadata `grammar` must be true or false",
                           "write `grammar: false` for examples the recogniser should not "
                           "listen for as whole phrases")
    return node.value.lower() in ("true", "yes", "on")


def mapping(path: Path, node: MappingNode) -> dict[str, tuple[Node, Node]]:
    out: dict[str, tuple[Node, Node]] = {}
    for knode, vnode in node.value:
        key = knode.value if isinstance(knode, ScalarNode) else None
        if not isinstance(key, str) or not key:
            raise NluDataError(path, line_of(knode), "a mapping key is not a plain name",
                               "use keys such as `intent:` and `examples:`")
        if key in out:
            raise NluDataError(path, line_of(knode), f"key `{key}` appears twice in one mapping",
                               "keep one (start a new `- ` item for another intent)")
        out[key] = (knode, vnode)
    return out


def scalar(path: Path, node: Node, what: str) -> str:
    if not isinstance(node, ScalarNode):
        raise NluDataError(path, line_of(node), f"{what} must be text, not a list or mapping",
                           "write it as plain text")
    return str(node.value).strip()


def line_of(node: Node) -> int:
    return node.start_mark.line + 1


def one_line(text: str) -> str:
    return " ".join(text.split())
