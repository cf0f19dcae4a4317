"""The tool registry: one ToolSpec per tool, and the one function that decides which tools a server offers.

Annotation policy (hints an agent's host acts on, so they must be true):
- `read_only`: the tool never changes a run. It is also the single source for `--read-only` filtering.
- `idempotent`: repeating the call with the same arguments changes nothing further (a second call is
  refused or is a no-op). A call that appends one more trace event each time is NOT idempotent.
- `destructive`: the change cannot be undone by another tool call (a run made terminal, a step
  failed). Appending events, new artifact versions and reversible gate decisions are additive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mcp.types import CallToolResult, ToolAnnotations

from workbench_mcp.config import Toolset
from workbench_mcp.service import RunService

ToolFn = Callable[..., Awaitable[CallToolResult]]
ToolFactory = Callable[[RunService], ToolFn]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    toolset: Toolset
    title: str
    description: str
    read_only: bool
    build: ToolFactory
    """Returns the tool function bound to a service; its signature is the input schema."""
    idempotent: bool = False
    destructive: bool = False

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=False if self.read_only else self.destructive,
            idempotent_hint=True if self.read_only else self.idempotent,
            open_world_hint=False,  # tools touch this server's runs only
        )


def read_tool(name: str, title: str, description: str, build: ToolFactory) -> ToolSpec:
    return ToolSpec(name, Toolset.CORE, title, description, read_only=True, build=build, idempotent=True)


def enabled_tools(specs: Iterable[ToolSpec], toolsets: Iterable[Toolset], read_only: bool) -> list[ToolSpec]:
    """Filter order: toolset membership, then read-only mode; sorted by (toolset, name) for a stable tools/list."""
    chosen = set(toolsets)
    keep = (s for s in specs if s.toolset in chosen and (s.read_only or not read_only))
    order = list(Toolset)
    return sorted(keep, key=lambda s: (order.index(s.toolset), s.name))


def all_tools() -> list[ToolSpec]:
    """Every tool of every toolset (imports here keep the tool modules free of registry plumbing)."""
    from workbench_mcp.mcp_server import (
        artifact_tools,
        bundle_tools,
        gate_tools,
        run_tools,
        step_tools,
        telemetry_tools,
    )

    specs: list[ToolSpec] = []
    for module in (run_tools, gate_tools, step_tools, artifact_tools, bundle_tools, telemetry_tools):
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
