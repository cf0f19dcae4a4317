"""The README's tool table is the registry's (descriptor drift, D10)."""

from __future__ import annotations

from pathlib import Path

from workbench_mcp.mcp_server.docs import END, START, registry_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_tool_table_matches_the_registry() -> None:
    text = README.read_text(encoding="utf-8")
    block = text[text.index(START) : text.index(END) + len(END)]
    assert block == registry_table(), "regenerate with: python -m workbench_mcp.mcp_server.docs"
