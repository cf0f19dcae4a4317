"""The tool registry: the one module that imports every tool module, and the functions that decide which
tools a server offers. Each tool's own ToolSpec (mcp_server/tool_spec.py) carries its toolset and its
read-only annotation; filtering reads only those, as in the GitHub MCP server's toolset groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from workbench_mcp.config import Toolset, with_core
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.mcp_server import (
    artifact_tools,
    bundle_tools,
    elicitation_tools,
    gate_tools,
    governance_tools,
    review_tools,
    run_tools,
    step_tools,
    telemetry_tools,
)
from workbench_mcp.mcp_server.tool_spec import ToolSpec


def enabled_tools(specs: Iterable[ToolSpec], toolsets: Iterable[Toolset], read_only: bool) -> list[ToolSpec]:
    """Filter order: toolset membership (core always), then read-only mode; sorted by (toolset, name)."""
    chosen = with_core(toolsets)
    keep = (s for s in specs if s.toolset in chosen and (s.read_only or not read_only))
    order = list(Toolset)
    return sorted(keep, key=lambda s: (order.index(s.toolset), s.name))


def toolsets_flag(toolsets: Iterable[Toolset]) -> str:
    """The `--toolsets` value that enables exactly these toolsets (and core)."""
    chosen = with_core(toolsets)
    return ",".join(t.value for t in Toolset if t in chosen)


def how_to_enable(spec: ToolSpec, toolsets: Iterable[Toolset], read_only: bool) -> str:
    """One clause telling an agent (or its operator) what makes `spec` available on this server."""
    if read_only and not spec.read_only:
        return "this server is read-only (a server started without --read-only offers it)"
    flag = toolsets_flag([*toolsets, spec.toolset])
    return f"in the {spec.toolset.value} toolset (start the server with --toolsets {flag})"


def not_enabled(spec: ToolSpec, toolsets: Iterable[Toolset], read_only: bool) -> WorkbenchError:
    """The refusal for a real tool this server does not offer (instead of "Unknown tool")."""
    if read_only and not spec.read_only:
        message = (
            f"Tool {spec.name} changes runs and this server is read-only (--read-only / WORKBENCH_READ_ONLY);"
            " a server started without --read-only offers it"
        )
        return WorkbenchError(ErrorCode.READ_ONLY, message)
    flag = toolsets_flag([*toolsets, spec.toolset])
    message = (
        f"Tool {spec.name} is in the '{spec.toolset.value}' toolset, which this server does not enable; start the"
        f" server with --toolsets {flag} (or WORKBENCH_TOOLSETS={flag})"
    )
    return WorkbenchError(ErrorCode.TOOL_NOT_ENABLED, message)


def mentioned_tools(text: str) -> list[str]:
    """Registry tool names a text mentions, in registry order."""
    return [s.name for s in all_tools() if re.search(rf"\b{s.name}\b", text)]


def offered_description(spec: ToolSpec, offered: Iterable[str], toolsets: Iterable[Toolset], read_only: bool) -> str:
    """The description as this server advertises it: a mention of a tool the server does not offer gets a
    note saying how to get it, so no description sends an agent to a tool it cannot call."""
    names = set(offered)
    registry = {s.name: s for s in all_tools()}
    missing = [name for name in mentioned_tools(spec.description) if name not in names]
    if not missing:
        return spec.description
    notes = "; ".join(f"{name}: {how_to_enable(registry[name], toolsets, read_only)}" for name in missing)
    return f"{spec.description} Not offered here: {notes}."


def all_tools() -> list[ToolSpec]:
    """Every tool of every toolset, in registry order."""
    specs: list[ToolSpec] = []
    modules = (
        run_tools,
        gate_tools,
        review_tools,
        elicitation_tools,
        step_tools,
        artifact_tools,
        bundle_tools,
        telemetry_tools,
    )
    for module in (*modules, governance_tools):
        specs.extend(module.TOOLS)
    names = [s.name for s in specs]
    if len(names) != len(set(names)):
        raise RuntimeError(f"duplicate tool names in the registry: {sorted(names)}")
    return specs


def describe(specs: Iterable[ToolSpec]) -> list[dict[str, Any]]:
    """A plain table of the registry (for docs and the CLI banner)."""
    return [
        {"name": s.name, "toolset": s.toolset.value, "readOnly": s.read_only, "description": s.description}
        for s in specs
    ]
