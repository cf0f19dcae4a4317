"""build_mcp_server(service, toolsets, read_only): the MCPServer every transport (HTTP, stdio, tests) shares.

Tools raise WorkbenchError; this module is the one place that turns any failure into an `isError`
result carrying `{"error", "code"}`, and the one place that writes the per-call audit log line.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from mcp.server import MCPServer
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.request_state import RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolResult,
    InputRequiredResult,
    ListResourcesResult,
    ListToolsResult,
    PaginatedRequestParams,
)
from mcp.types import Tool as MCPTool
from mcp_types import SubscriptionsListenRequestParams
from opentelemetry import trace
from pydantic import ValidationError

from workbench_mcp import __version__
from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset, with_core
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.mcp_server import schemas
from workbench_mcp.mcp_server.elicitation_tools import elicitation_refusal
from workbench_mcp.mcp_server.resources import list_resource_page, register_resources
from workbench_mcp.mcp_server.run_view import run_view_apps, view_meta
from workbench_mcp.mcp_server.stdio_wire import stdio_wire
from workbench_mcp.mcp_server.subscriptions import RunListenHandler
from workbench_mcp.mcp_server.tool_errors import (
    error_code_of,
    error_result,
    from_workbench_error,
    internal_error,
    invalid_arguments,
    unknown_tool,
)
from workbench_mcp.mcp_server.toolsets import (
    all_tools,
    enabled_tools,
    not_enabled,
    offered_description,
    toolsets_flag,
)
from workbench_mcp.review.links import LinkSigner
from workbench_mcp.review.service import ReviewService
from workbench_mcp.scopes import missing_scope, tool_scope
from workbench_mcp.service import RunService

SERVER_NAME = "llm-workbench"
"""serverInfo.name of the reference deployment (docs/protocol.md 1.1): existing agents key on it."""

audit_log = logging.getLogger("workbench_mcp.audit")
logger = logging.getLogger(__name__)

# What holds for many tools is said once, here (instructions) and in /agents.md, rather than in every tool:
# tools/list is paid for on every session. Each tool's description then names only its own codes.
GATE_RULES = (
    "Gates come from a step's gatePolicy: a PAUSE_BEFORE step waits before it starts for its PAUSE_BEFORE gate,"
    " a CHECKPOINT step for its CHECKPOINT gate; once completed, a PAUSE_AFTER or CHECKPOINT step holds its"
    " successors until its PAUSE_AFTER gate is approved; AUTO steps have none. A start gate is under review while"
    " its step is pending, PAUSE_AFTER once the step completed."
)
GOVERNANCE_RULES = (
    "A workflow's approval policy may refuse a decider (NOT_AUTHORIZED: e.g. whoever started the run) or need"
    " several approvers (resolve_gate answers pending until the quorum); a run over its budget refuses begin_step"
    " (BUDGET_EXCEEDED) until raise_budget; next_actions.budget reports limit, used and remaining."
)
RUN_CHANGES = (
    "Tools that change a run accept expectedRevision (refused with REVISION_CONFLICT unless the run is still at"
    " that revision; every result carries the new revision) and correlationId (stamped on the trace events the"
    " call writes); they answer INVALID_STATE_TRANSITION once the run is not running and LIMIT_EXCEEDED past a"
    " quota."
)
COMMON_CODES = (
    "Any call may answer INVALID_INPUT (arguments the schema refuses) or STORAGE_UNAVAILABLE (retry later); a runId"
    " you cannot see UNKNOWN_RUN, a stepId not in the workflow UNKNOWN_STEP, a tool your token's scopes do not allow"
    " INSUFFICIENT_SCOPE (tools/list shows only the tools you may call); each tool's description names its other"
    " codes."
)


def server_instructions(toolsets: Iterable[Toolset], read_only: bool) -> str:
    """The `instructions` of a server with this configuration: how to drive a run with the tools it offers,
    what a step's gates are, what holds for every tool (GATE_RULES, RUN_CHANGES, COMMON_CODES), every error
    code, and what is not enabled here."""
    offered = enabled_tools(all_tools(), toolsets, read_only)
    parts = ["LLM Workbench: workflow runs with human-gated steps, versioned artifacts and tamper-evident bundles."]
    if read_only:
        reads = ", ".join(spec.name for spec in offered)
        parts.append(
            f"This server is read-only (--read-only): it offers {reads}. Starting or changing a run needs a"
            " server started without --read-only."
        )
    else:
        parts.append(
            "Typical loop: list_workflows -> start_run -> next_actions -> resolve_gate / begin_step /"
            " write_artifact / complete_step -> ... (next_actions says what is possible now) -> complete_run ->"
            " export_bundle."
        )
        parts += [GATE_RULES, GOVERNANCE_RULES, RUN_CHANGES]
    parts.append(
        "Integers must be at most 2^53-1 in magnitude (UNSAFE_NUMBER in a JSON value). A failed call is an isError"
        " result carrying {error: message, code: CODE}; branch on the code, never the message. "
        + COMMON_CODES
        + " All codes: "
        + ", ".join(code.value for code in ErrorCode)
        + "."
    )
    chosen = with_core(toolsets)
    missing = []
    for toolset in Toolset:
        absent = [s.name for s in all_tools() if s.toolset is toolset and (s.read_only or not read_only)]
        if toolset not in chosen and absent:
            flag = toolsets_flag([*chosen, toolset])
            missing.append(
                f"{toolset.value} ({', '.join(absent)}), enabled by starting the server with --toolsets {flag}"
            )
    if missing:
        parts.append("Not enabled here: " + "; ".join(missing) + ".")
    return " ".join(parts)


def tracing_configured() -> bool:
    """Whether an OpenTelemetry SDK is installed as the tracer provider (e.g. `opentelemetry-instrument
    workbench-mcp serve`). Without one the SDK's span per message records nothing and costs ~5 % of a call's
    CPU (`python -m bench call_cost`), so the server leaves that middleware out."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


class WorkbenchMCP(MCPServer[Any]):
    """MCPServer with protocol-coded errors for every tool failure, per-tenant resource pages and audit logging."""

    def __init__(
        self,
        service: RunService,
        toolsets: Iterable[Toolset] = (),
        read_only: bool = False,
        state_key: bytes | None = None,
    ) -> None:
        self._service = service
        self._toolsets = with_core(toolsets)
        self._read_only = read_only
        self._registry = {spec.name: spec for spec in all_tools()}
        self._asks_user = {spec.name for spec in all_tools() if spec.asks_user}
        super().__init__(
            SERVER_NAME,
            title="workbench-mcp",
            version=__version__,  # the package's; the protocol version lives in the card and bundles
            instructions=server_instructions(self._toolsets, read_only),
            log_level="WARNING",  # the CLI configures logging; this only matters if nothing else did
            subscriptions=False,  # served below, tenant-scoped (the SDK's bus knows no tenants)
            extensions=[run_view_apps()],
            # None: the SDK's per-process key, enough for one process (stdio, tests); HTTP passes a shared one.
            request_state_security=None if state_key is None else RequestStateSecurity(keys=[state_key]),
        )
        self.listen_handler = RunListenHandler(service)
        self._lowlevel_server.add_request_handler(
            "subscriptions/listen", SubscriptionsListenRequestParams, self.listen_handler
        )
        if not tracing_configured():
            self._lowlevel_server.middleware = [
                m for m in self._lowlevel_server.middleware if not isinstance(m, OpenTelemetryMiddleware)
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
            result = await self._offered_tool_call(name, arguments, context)
        except MCPError:
            raise
        except ToolError as exc:
            result = self._failure(name, exc)
        if isinstance(result, CallToolResult):
            self._audit(name, arguments, result, time.perf_counter() - started)
        return result

    async def _offered_tool_call(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None
    ) -> CallToolResult | InputRequiredResult:
        spec = self._registry.get(name)
        if spec is not None and self._tool_manager.get_tool(name) is None:
            # A real tool this configuration leaves out: say which flag enables it, not "Unknown tool".
            return from_workbench_error(not_enabled(spec, self._toolsets, self._read_only))
        if spec is not None:
            try:
                who = current_principal()
            except WorkbenchError as exc:  # no identity at all: the same refusal the tool itself would give
                return from_workbench_error(exc)
            refusal = missing_scope(who.scopes, tool_scope(name))
            if refusal is not None:
                await self._service.record_denial(who, name, arguments, refusal)
                return from_workbench_error(refusal)
        return await super().call_tool(name, arguments, context)

    async def list_tools(self) -> list[MCPTool]:
        """Only the tools the caller's token may call (as the GitHub MCP server hides what a token cannot use)."""
        tools = await super().list_tools()
        try:
            held = current_principal().scopes
        except WorkbenchError:
            return tools
        return [tool for tool in tools if tool_scope(tool.name) in held]

    async def _handle_list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        tools = await self.list_tools()
        session = ctx.session
        if elicitation_refusal(ctx.protocol_version, session.can_send_request, session.client_capabilities):
            tools = [tool for tool in tools if tool.name not in self._asks_user]
        return ListToolsResult(tools=tools)

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
            "pid": os.getpid(),  # which of `serve --workers N` answered
        }
        audit_log.info(json.dumps(record, separators=(",", ":")))

    async def _handle_list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        # The SDK's default ignores the cursor; the run list is per tenant and may be long (D18).
        resources, next_cursor = await list_resource_page(self._service, params.cursor if params else None)
        return ListResourcesResult(resources=resources, next_cursor=next_cursor)


def _advertise_lean_schemas(server: WorkbenchMCP, name: str) -> None:
    """Swap the generated schemas for their lean form before anything reads them (schemas.py says why).

    Only what `tools/list` advertises changes: arguments and results are still validated by the same
    pydantic models (the SDK reads `fn_metadata.output_model`, not the schema)."""
    tool = server._tool_manager.get_tool(name)
    if tool is None:  # pragma: no cover - add_tool just registered it
        raise RuntimeError(f"tool {name} vanished after registration")
    tool.parameters = schemas.input_schema(tool.parameters)
    if tool.fn_metadata.output_schema is not None:
        tool.fn_metadata.output_schema = schemas.output_schema(tool.fn_metadata.output_schema)


def _short(value: Any) -> str | None:
    return value[:256] if isinstance(value, str) else None


def build_mcp_server(
    service: RunService,
    toolsets: Iterable[Toolset] = (Toolset.CORE,),
    read_only: bool = False,
    review: ReviewService | None = None,
    state_key: bytes | None = None,
) -> WorkbenchMCP:
    """`review`: the review requests' service (wiring.build_review); without one, links are signed with a key of
    this process only and nobody is notified, which suits tests and in-process embedders. `state_key` seals the
    requestState of 2026-07-28 round trips (wiring.request_state_key); processes that serve the same clients
    must share it."""
    server = WorkbenchMCP(service, toolsets, read_only, state_key)
    offered = enabled_tools(all_tools(), toolsets, read_only)
    names = [spec.name for spec in offered]
    reviews = review or ReviewService(service, LinkSigner.ephemeral())
    for spec in offered:
        server.add_tool(
            spec.make(service, reviews),
            name=spec.name,
            title=spec.title,
            description=offered_description(spec, names, toolsets, read_only),
            annotations=spec.annotations(),
            meta=view_meta(spec.name),
        )
        _advertise_lean_schemas(server, spec.name)
    register_resources(server, service)
    return server
