"""Every module and function small enough to read whole: no module over 400 lines, no
function over 80 (the house rule; generated Alembic migrations aside)."""

from __future__ import annotations

import ast

from tests.architecture.imports import ROOT, source_files

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def test_no_module_is_too_long() -> None:
    long = {str(p.relative_to(ROOT)): n for p in source_files()
            if (n := p.read_text(encoding="utf-8").count("\n")) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_too_long() -> None:
    long = {}
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert long == {}
