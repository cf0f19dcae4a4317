"""Run tools: list, read, start, and "what next". Each is one RunService call for the current principal."""

# No `from __future__ import annotations` in tool modules: the SDK evaluates parameter annotations
# from the function's globals, and some of them are built inside the factories (workflow id enum).

from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server import outputs as o
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.toolsets import ToolFn, ToolSpec, read_tool
from workbench_mcp.service import RunService


def _list_runs(service: RunService) -> ToolFn:
    async def list_runs(
        limit: a.Limit | None = None, cursor: a.Cursor | None = None
    ) -> Annotated[CallToolResult, o.RunList]:
        page = await service.list_runs(current_principal(), limit=limit, cursor=cursor)
        body: dict[str, Any] = {"runs": page.items}
        if page.next_cursor:
            body["nextCursor"] = page.next_cursor
        return tool_result(body)

    return list_runs


def _get_run(service: RunService) -> ToolFn:
    async def get_run(runId: a.RunId) -> Annotated[CallToolResult, o.SerializedRun]:
        return tool_result(await service.get_run(current_principal(), runId))

    return get_run


def _start_run(service: RunService) -> ToolFn:
    known = sorted(service.catalog.entries)
    # The enum documents the catalog to agents; the service still decides (UNKNOWN_WORKFLOW).
    workflow_id = Annotated[
        str,
        Field(
            min_length=1,
            max_length=256,
            description="Workflow to run (see list_workflows)",
            json_schema_extra={"enum": known},
        ),
    ]

    async def start_run(
        workflowId: workflow_id,
        requestId: a.RequestId | None = None,
        tags: a.Tags | None = None,
        metadata: a.Metadata | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.RunStarted]:
        result = await service.start_run(
            current_principal(),
            workflowId,
            request_id=requestId,
            tags=tags,
            metadata=metadata,
            correlation_id=correlationId,
        )
        return tool_result(result)

    return start_run


def _next_actions(service: RunService) -> ToolFn:
    async def next_actions(runId: a.RunId) -> Annotated[CallToolResult, o.NextActions]:
        return tool_result(await service.next_actions(current_principal(), runId))

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
        "List your runs, newest first, as SavedRunMeta objects {id, workflowId, startedAt, endedAt?, status, tags?}. "
        "Returns {runs, nextCursor?}; pass nextCursor as `cursor` for the next page.",
        _list_runs,
    ),
    read_tool(
        "get_run",
        "Get run state",
        "Return the serialized run state (revision, run, trace, and the maps artifactsByKey, ruleSetsById, "
        "stepStatus, gateState, idempotency as [key, value] arrays). Errors: UNKNOWN_RUN.",
        _get_run,
    ),
    ToolSpec(
        "start_run",
        Toolset.CORE,
        "Start a run",
        "Start a new run of a workflow (default catalog: 'jobSearchWorkflow') with its rule sets. "
        "Returns {runId, workflowId, status, revision}. Pass requestId to make retries safe: the same requestId "
        "with the same arguments returns the run it started. "
        "Next: call next_actions(runId). Errors: UNKNOWN_WORKFLOW, INVALID_INPUT, LIMIT_EXCEEDED, "
        "IDEMPOTENCY_CONFLICT (requestId used with other arguments).",
        read_only=False,
        build=_start_run,
        idempotent=False,
        destructive=False,
    ),
    read_tool(
        "next_actions",
        "What can happen next",
        "Tell an agent what it can do on a run now: pendingGates to resolve (resolve_gate with that gate; "
        "resolve_checkpoint for entries with a checkpointId), readySteps to begin, runningSteps, blockedSteps with "
        "the reason (gate: the gate it names; predecessor; predecessor_after_gate), canCompleteRun (true once every "
        "step completed or was failed). A finished run has nothing to do: every list is empty. Errors: UNKNOWN_RUN.",
        _next_actions,
    ),
    read_tool(
        "list_workflows",
        "List workflows",
        "List the workflows start_run accepts: id, version, title, steps (id, gatePolicy, inputs, outputs), "
        "edges and the rule sets a new run starts with.",
        _list_workflows,
    ),
]
