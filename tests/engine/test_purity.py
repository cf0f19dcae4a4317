"""The engine is pure: no I/O, no clocks, no randomness, no frameworks (style guide section 3).

What the engine may import is an import-linter contract in pyproject.toml (tests/test_layers.py runs
it with the other layer rules); this module checks what imports cannot show: wall-clock reads and
I/O builtins."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import workbench_mcp.engine

ENGINE_DIR = Path(workbench_mcp.engine.__file__).parent
ENGINE_FILES = sorted(ENGINE_DIR.glob("*.py"))

# `datetime` may parse timestamps (hydrate.py), but never read the wall clock.
FORBIDDEN_CALLS = frozenset({"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp"})


def _clock_reads(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_CALLS:
            found.append((node.lineno, ast.unparse(node.func)))
        if isinstance(node, ast.Name) and node.id in {"__import__", "open", "print", "input"}:
            found.append((node.lineno, node.id))
    return found


def test_engine_files_are_found() -> None:
    names = {path.name for path in ENGINE_FILES}
    assert {"lifecycle.py", "steps.py", "gates.py", "hydrate.py", "export.py"} <= names


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_no_wall_clock_reads_or_io(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert [f"{path.name}:{line} uses {what}" for line, what in _clock_reads(tree)] == []


def test_the_checker_catches_violations() -> None:
    tree = ast.parse("from datetime import datetime\nx = datetime.now()\nprint(x)\n")
    assert [w for _, w in _clock_reads(tree)] == ["datetime.now", "print"]
