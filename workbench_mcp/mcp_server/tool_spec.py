"""What a tool is: its ToolSpec (name, toolset, annotations, factory). A leaf: the tool modules import it,
and it imports no tool module, so only the registry (toolsets.py) knows every tool.

Annotation policy (hints an agent's host acts on, so they must be true):
- `read_only`: the tool never changes a run. It is also the single source for `--read-only` filtering.
- `idempotent`: repeating the call with the same arguments changes nothing further (a second call is
  refused or is a no-op). A call that appends one more trace event each time is NOT idempotent.
- `destructive`: the change cannot be undone by another tool call (a run made terminal, a step
  failed). Appending events, new artifact versions and reversible gate decisions are additive.

`Toolset` stays in workbench_mcp.config: the server configuration names the enabled toolsets, and config
sits below the MCP adapter, so importing it from here adds no arrow back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mcp.types import CallToolResult, ToolAnnotations

from workbench_mcp.auth import current_principal
from workbench_mcp.commands import Command
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.results import Mutation
from workbench_mcp.review.service import ReviewService
from workbench_mcp.service import RunService

ToolFn = Callable[..., Awaitable[CallToolResult]]
ToolFactory = Callable[[RunService], ToolFn]
ReviewToolFactory = Callable[[ReviewService], ToolFn]


async def executed(
    service: RunService,
    run_id: str,
    command: Command[Mutation],
    expected_revision: int | None,
    correlation_id: str | None,
) -> CallToolResult:
    """A mutation tool's body: its command, built from the tool's arguments, executed for the caller."""
    result = await service.execute(
        current_principal(), run_id, command, expected_revision=expected_revision, correlation_id=correlation_id
    )
    return tool_result(result)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    toolset: Toolset
    title: str
    description: str
    read_only: bool
    build: ToolFactory | None = None
    """Returns the tool function bound to a service; its signature is the input schema."""
    idempotent: bool = False
    destructive: bool = False
    asks_user: bool = False
    """Needs a client that can be asked mid-call (elicitation): tools/list leaves it out for clients that cannot
    (calling it anyway answers ELICITATION_UNAVAILABLE), as it leaves out what the token's scopes do not allow."""
    build_review: ReviewToolFactory | None = None
    """Instead of `build`, for a tool of the review layer (workbench_mcp.review), which sits above RunService."""

    def make(self, service: RunService, review: ReviewService) -> ToolFn:
        if self.build_review is not None:
            return self.build_review(review)
        if self.build is None:
            raise TypeError(f"tool {self.name} has no factory")
        return self.build(service)

    def annotations(self) -> ToolAnnotations:
        # No annotations.title: the tool's own `title` says it, and takes precedence in every client.
        # destructiveHint and idempotentHint mean something only when readOnlyHint is false (MCP spec).
        if self.read_only:
            return ToolAnnotations(read_only_hint=True, open_world_hint=False)
        return ToolAnnotations(
            read_only_hint=False,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=False,  # tools touch this server's runs only
        )


def read_tool(name: str, title: str, description: str, build: ToolFactory) -> ToolSpec:
    return ToolSpec(name, Toolset.CORE, title, description, read_only=True, build=build, idempotent=True)
