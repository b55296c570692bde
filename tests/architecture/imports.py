"""The project's import graph, read from the source (ast), for the layering rules in
test_import_rules.py. Counted: every import, at module level or inside a function (a lazy
import still runs), except under `if TYPE_CHECKING:`. Relative imports are resolved."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dialer", "campaigns", "nlu", "voices")
TOP_MODULES = ("worker",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:  # generated Alembic revisions
                continue
            yield path
    for name in TOP_MODULES:
        yield ROOT / f"{name}.py"


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in `tree`; `from a import b` gives `a.b`
    when that is a module of ours, else `a`."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    base = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[:len(base) - node.level + 1]
                target = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                target = node.module or ""
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno
            yield target, node.lineno


@dataclass
class Graph:
    modules: set[str] = field(default_factory=set)
    # module -> {imported module of ours or third-party top-level name: first line}
    edges: dict[str, dict[str, int]] = field(default_factory=dict)

    def ours(self, name: str) -> str | None:
        """The module of ours that `name` is or lies in (a.b.C -> a.b), or None."""
        while name:
            if name in self.modules:
                return name
            name = name.rpartition(".")[0]
        return None

    def reach(self, start: str) -> dict[str, list[str]]:
        """Every module (ours or external, by top-level name) reachable from `start`,
        with one import chain leading to it."""
        seen: dict[str, list[str]] = {start: [start]}
        todo = [start]
        while todo:
            here = todo.pop()
            for target in self.edges.get(here, {}):
                if target not in seen:
                    seen[target] = [*seen[here], target]
                    if target in self.modules:
                        todo.append(target)
        return seen

    def cycles(self) -> list[list[str]]:
        """The strongly connected groups of more than one module (Tarjan)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on: set[str] = set()
        found: list[list[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on.add(v)
            for w in self.edges.get(v, {}):
                if w not in self.modules:
                    continue
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

        for v in sorted(self.modules):
            if v not in index:
                visit(v)
        return found


def build() -> Graph:
    graph = Graph()
    trees = {}
    for path in source_files():
        name = module_name(path)
        graph.modules.add(name)
        trees[name] = (ast.parse(path.read_text(encoding="utf-8")), path.name == "__init__.py")
    for name, (tree, is_package) in trees.items():
        edges: dict[str, int] = {}
        for target, line in _imports(tree, name, is_package):
            mine = graph.ours(target)
            key = mine if mine is not None else target.split(".")[0]
            if key and key != name:
                edges.setdefault(key, line)
        graph.edges[name] = edges
    return graph
