"""build_mcp_server(service, toolsets, read_only): the MCPServer every transport (HTTP, stdio, tests) shares.

Tools raise WorkbenchError; this module is the one place that turns any failure into an `isError`
result carrying `{"error", "code"}`, and the one place that writes the per-call audit log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, InputRequiredResult, ListResourcesResult, PaginatedRequestParams
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from workbench_mcp import __version__
from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.mcp_server.resources import list_resource_page, register_resources
from workbench_mcp.mcp_server.stdio_wire import stdio_wire
from workbench_mcp.mcp_server.tool_errors import (
    admit_error_body,
    error_code_of,
    error_result,
    from_workbench_error,
    internal_error,
    invalid_arguments,
    unknown_tool,
)
from workbench_mcp.mcp_server.toolsets import all_tools, enabled_tools
from workbench_mcp.protocol.bundle import PROTOCOL_VERSION
from workbench_mcp.service import RunService

SERVER_NAME = "llm-workbench"
"""serverInfo.name of the reference deployment (PROTOCOL.md 1.1): existing agents key on it."""

audit_log = logging.getLogger("workbench_mcp.audit")
logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "LLM Workbench: workflow runs with human-gated steps, versioned artifacts and tamper-evident bundles. "
    "Typical loop: list_workflows -> start_run -> next_actions -> resolve_gate / begin_step / write_artifact / "
    "complete_step -> ... -> complete_run -> export_bundle. Failed calls return {error, code}; pass "
    "expectedRevision for optimistic concurrency and correlationId to group a multi-call action in the trace."
)


class WorkbenchMCP(MCPServer[Any]):
    """MCPServer with protocol-coded errors for every tool failure, per-tenant resource pages and audit logging."""

    def __init__(self, service: RunService) -> None:
        self._service = service
        super().__init__(
            SERVER_NAME,
            title="workbench-mcp",
            version=PROTOCOL_VERSION,
            instructions=INSTRUCTIONS,
            log_level="WARNING",  # the CLI configures logging; this only matters if nothing else did
        )

    async def list_tools(self) -> list[MCPTool]:
        tools = await super().list_tools()
        return [
            t.model_copy(update={"output_schema": admit_error_body(t.output_schema)}) if t.output_schema else t
            for t in tools
        ]

    async def run_stdio_async(self) -> None:
        """The SDK's stdio loop on our wire, which survives lone surrogates (mcp_server/stdio_wire.py)."""
        async with stdio_wire() as (read_stream, write_stream):
            server = self._lowlevel_server
            await server.run(read_stream, write_stream, server.create_initialization_options())

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        started = time.perf_counter()
        try:
            result = await super().call_tool(name, arguments, context)
        except MCPError:
            raise
        except ToolError as exc:
            result = self._failure(name, exc)
        if isinstance(result, CallToolResult):
            self._audit(name, arguments, result, time.perf_counter() - started)
        return result

    def _failure(self, name: str, exc: ToolError) -> CallToolResult:
        cause = exc.__cause__
        if isinstance(cause, WorkbenchError):
            return from_workbench_error(cause)
        if isinstance(exc, UnexpectedToolError):
            logger.error("tool %s crashed", name, exc_info=cause)
            return internal_error(name)
        if isinstance(cause, ValidationError):
            return invalid_arguments(name, cause)
        if self._tool_manager.get_tool(name) is None:
            return unknown_tool(name)
        return error_result(ErrorCode.INVALID_INPUT, str(exc))

    def _audit(self, tool: str, arguments: Mapping[str, Any], result: CallToolResult, seconds: float) -> None:
        """One structured line per call: who, what, which run, outcome, latency. Never payloads or tokens."""
        if not audit_log.isEnabledFor(logging.INFO):
            return
        tenant: str | None = None
        subject: str | None = None
        try:
            who = current_principal()
            tenant, subject = who.tenant_id, who.subject
        except WorkbenchError:
            pass  # logged with null identity: the call itself was refused as UNAUTHORIZED
        run_id = arguments.get("runId")
        if run_id is None and not result.is_error and result.structured_content:
            run_id = result.structured_content.get("runId")
        record = {
            "event": "tool_call",
            "tenant": tenant,
            "principal": subject,
            "tool": tool[:128],
            "runId": run_id[:128] if isinstance(run_id, str) else None,
            "correlationId": _short(arguments.get("correlationId")),
            "outcome": error_code_of(result),
            "latencyMs": round(seconds * 1000, 2),
        }
        audit_log.info(json.dumps(record, separators=(",", ":")))

    async def _handle_list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        # The SDK's default ignores the cursor; the run list is per tenant and may be long (D18).
        resources, next_cursor = await list_resource_page(self._service, params.cursor if params else None)
        return ListResourcesResult(resources=resources, next_cursor=next_cursor)


def _short(value: Any) -> str | None:
    return value[:256] if isinstance(value, str) else None


def build_mcp_server(
    service: RunService, toolsets: Iterable[Toolset] = (Toolset.CORE,), read_only: bool = False
) -> WorkbenchMCP:
    server = WorkbenchMCP(service)
    for spec in enabled_tools(all_tools(), toolsets, read_only):
        server.add_tool(
            spec.build(service),
            name=spec.name,
            title=spec.title,
            description=spec.description,
            annotations=spec.annotations(),
            meta={"io.workbench/toolset": spec.toolset.value, "io.workbench/version": __version__},
        )
    register_resources(server, service)
    return server
