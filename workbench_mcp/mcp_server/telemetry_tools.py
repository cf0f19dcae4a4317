"""Telemetry tools (the `telemetry` toolset): model I/O, tool calls, annotations and rule-set replacement."""

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import MISSING, Field

from workbench_mcp import results as o
from workbench_mcp.commands import Annotate, LogModelIo, LogToolCall, ReplaceRuleSet
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server.tool_spec import ToolFn, ToolSpec, executed
from workbench_mcp.service import RunService

Direction = Literal["request", "response", "stream_chunk"]
Detail = Annotated[
    Literal["summary", "full"],
    Field(description="full keeps `payload` in the trace; summary (default) drops it"),
]


def _present(value: Any) -> Any:
    """None means "not given" for optional JSON arguments; the engine's marker for that is MISSING."""
    return MISSING if value is None else value


def _log_model_io(service: RunService) -> ToolFn:
    async def log_model_io(
        runId: a.RunId,
        direction: Direction,
        stepId: a.StepId | None = None,
        provider: a.Name | None = None,
        model: a.Name | None = None,
        usage: a.Usage | None = None,
        cost: a.Cost | None = None,
        durationMs: a.DurationMs | None = None,
        summary: a.Summary | None = None,
        payload: a.AnyJson = None,
        detail: Detail = "summary",
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.Recorded]:
        command = LogModelIo(
            direction=direction,
            step_id=stepId,
            provider=provider,
            model=model,
            usage=usage.model_dump(exclude_none=True) if usage is not None else None,
            cost=cost.model_dump() if cost is not None else None,
            duration_ms=durationMs,
            summary=summary,
            payload=_present(payload),
            detail=detail,
        )
        return await executed(service, runId, command, expectedRevision, correlationId)

    return log_model_io


def _log_tool_call(service: RunService) -> ToolFn:
    async def log_tool_call(
        runId: a.RunId,
        name: a.ToolName,
        args: a.AnyJson = None,
        result: a.AnyJson = None,
        stepId: a.StepId | None = None,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.Recorded]:
        command = LogToolCall(name=name, args=_present(args), result=_present(result), step_id=stepId)
        return await executed(service, runId, command, expectedRevision, correlationId)

    return log_tool_call


def _annotate(service: RunService) -> ToolFn:
    async def annotate(
        runId: a.RunId,
        text: a.Text,
        tags: a.Tags | None = None,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.Recorded]:
        return await executed(service, runId, Annotate(text=text, tags=tags), expectedRevision, correlationId)

    return annotate


def _replace_rule_set(service: RunService) -> ToolFn:
    async def replace_rule_set(
        runId: a.RunId,
        ruleSet: a.RuleSetArg,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.Recorded]:
        return await executed(
            service, runId, ReplaceRuleSet(rule_set=ruleSet.to_wire()), expectedRevision, correlationId
        )

    return replace_rule_set


TOOLS = [
    ToolSpec(
        "log_model_io",
        Toolset.TELEMETRY,
        "Log model I/O",
        "Record one model request, response or stream chunk on the run's trace: provider, model, usage (token "
        "counts), cost, durationMs, summary, payload.",
        read_only=False,
        build=_log_model_io,
    ),
    ToolSpec(
        "log_tool_call",
        Toolset.TELEMETRY,
        "Log a tool call",
        "Record one tool invocation (name, args, result) on the run's trace.",
        read_only=False,
        build=_log_tool_call,
    ),
    ToolSpec(
        "annotate",
        Toolset.TELEMETRY,
        "Annotate the run",
        "Attach a free-text note (with optional tags) to the run's trace.",
        read_only=False,
        build=_annotate,
    ),
    ToolSpec(
        "replace_rule_set",
        Toolset.TELEMETRY,
        "Replace a rule set",
        "Store a rule set on the run under its id (new, or replacing the current one; the previous version stays "
        "in the trace).",
        read_only=False,
        build=_replace_rule_set,
    ),
]
