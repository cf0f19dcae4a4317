"""Run tools: list, read, start, and "what next". Each is one RunService call for the current principal."""

# No `from __future__ import annotations` in tool modules: the SDK evaluates parameter annotations
# from the function's globals, and some of them are built inside the factories (workflow id enum).

from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp import results as o
from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.tool_spec import ToolFn, ToolSpec, read_tool
from workbench_mcp.service import RunService


def _list_runs(service: RunService) -> ToolFn:
    async def list_runs(
        limit: a.Limit | None = None, cursor: a.Cursor | None = None
    ) -> Annotated[CallToolResult, o.RunList]:
        page = await service.reads.list_runs(current_principal(), limit=limit, cursor=cursor)
        body: dict[str, Any] = {"runs": page.items}
        if page.next_cursor:
            body["nextCursor"] = page.next_cursor
        return tool_result(body)

    return list_runs


def _get_run(service: RunService) -> ToolFn:
    async def get_run(runId: a.RunId) -> Annotated[CallToolResult, o.SerializedRun]:
        return tool_result(await service.reads.get_run(current_principal(), runId))

    return get_run


def _start_run(service: RunService) -> ToolFn:
    known = sorted(service.catalog.entries)
    # The enum documents the catalog to agents; the service still decides (UNKNOWN_WORKFLOW).
    workflow_id = Annotated[
        str,
        Field(
            min_length=1,
            max_length=256,
            json_schema_extra={"enum": known},
        ),
    ]

    async def start_run(
        workflowId: workflow_id,
        requestId: a.RequestId | None = None,
        tags: a.Tags | None = None,
        metadata: a.Metadata | None = None,
        correlationId: a.CorrelationId | None = None,
        budget: a.BudgetLimits | None = None,
    ) -> Annotated[CallToolResult, o.RunStarted]:
        result = await service.start_run(
            current_principal(),
            workflowId,
            request_id=requestId,
            tags=tags,
            metadata=metadata,
            correlation_id=correlationId,
            budget_limits=budget,
        )
        return tool_result(result)

    return start_run


def _next_actions(service: RunService) -> ToolFn:
    async def next_actions(runId: a.RunId) -> Annotated[CallToolResult, o.NextActions]:
        return tool_result(await service.reads.next_actions(current_principal(), runId))

    return next_actions


def _list_workflows(service: RunService) -> ToolFn:
    async def list_workflows() -> Annotated[CallToolResult, o.WorkflowList]:
        current_principal()  # the catalog is shared, but only callers with an identity may read it
        workflows = [
            {
                **entry.workflow.model_dump(),
                "ruleSetIds": [rs.id for rs in entry.rule_sets],
            }
            for _, entry in sorted(service.catalog.entries.items())
        ]
        return tool_result({"workflows": workflows})

    return list_workflows


TOOLS = [
    read_tool(
        "list_runs",
        "List runs",
        "List your runs, newest first: {runs: [{id, workflowId, startedAt, endedAt?, status, tags?}], nextCursor?}; "
        "pass nextCursor as `cursor` for the next page.",
        _list_runs,
    ),
    read_tool(
        "get_run",
        "Get run state",
        "The run's serialized state: revision, run, trace, and the maps artifactsByKey, ruleSetsById, stepStatus, "
        "gateState, idempotency as [key, value] arrays.",
        _get_run,
    ),
    ToolSpec(
        "start_run",
        Toolset.CORE,
        "Start a run",
        "Start a run of a workflow with its rule sets. Returns {runId, workflowId, status, revision}; next, call "
        "next_actions(runId). budget may only tighten the workflow's. Errors: UNKNOWN_WORKFLOW, "
        "IDEMPOTENCY_CONFLICT (requestId reused with other arguments).",
        read_only=False,
        build=_start_run,
        idempotent=False,
        destructive=False,
    ),
    read_tool(
        "next_actions",
        "What can happen next",
        "What can be done on the run now: pendingGates [{stepId, gate, checkpointId?}] awaiting resolve_gate "
        "(resolve_checkpoint for a checkpointId), readySteps for begin_step, runningSteps, blockedSteps (begin_step's "
        "reasons), canCompleteRun (every step completed or failed). A finished run: every list is empty.",
        _next_actions,
    ),
    read_tool(
        "list_workflows",
        "List workflows",
        "The workflows start_run accepts: id, version, title, steps (id, gatePolicy, inputs, outputs), edges, "
        "ruleSetIds (the rule sets a new run starts with).",
        _list_workflows,
    ),
]
