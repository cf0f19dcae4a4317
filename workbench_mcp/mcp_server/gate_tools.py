"""Human-gate tools: resolve a gate (core); request a gate and resolve a named checkpoint (steps)."""

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp import results as o
from workbench_mcp.auth import current_principal
from workbench_mcp.commands import RequestGate, ResolveCheckpoint
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.tool_spec import ToolFn, ToolSpec, executed
from workbench_mcp.service import RunService


def _resolve_gate(service: RunService) -> ToolFn:
    async def resolve_gate(
        runId: a.RunId,
        stepId: a.StepId,
        gate: a.Gate,
        decision: a.Decision,
        note: a.Note | None = None,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.GateResolved]:
        result = await service.resolve_gate(
            current_principal(),
            runId,
            step_id=stepId,
            gate=gate,
            decision=decision,
            note=note,
            expected_revision=expectedRevision,
            correlation_id=correlationId,
        )
        return tool_result(result)

    return resolve_gate


def _request_gate(service: RunService) -> ToolFn:
    async def request_gate(
        runId: a.RunId,
        stepId: a.StepId,
        gate: a.Gate,
        reason: a.Reason | None = None,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.GateRequested]:
        return await executed(
            service, runId, RequestGate(step_id=stepId, gate=gate, reason=reason), expectedRevision, correlationId
        )

    return request_gate


WaitSeconds = Annotated[int, Field(ge=0, le=55, description="Give up after this long (at most 55)")]


def _wait_for_decision(service: RunService) -> ToolFn:
    async def wait_for_decision(
        runId: a.RunId, stepId: a.StepId, gate: a.Gate, timeoutSeconds: WaitSeconds = 30
    ) -> Annotated[CallToolResult, o.DecisionWaited]:
        result = await service.reads.wait_for_decision(
            current_principal(), runId, step_id=stepId, gate=gate, timeout_seconds=timeoutSeconds
        )
        return tool_result(result)

    return wait_for_decision


CheckpointId = Annotated[str, Field(min_length=1, max_length=256)]


def _resolve_checkpoint(service: RunService) -> ToolFn:
    async def resolve_checkpoint(
        runId: a.RunId,
        stepId: a.StepId,
        checkpointId: CheckpointId,
        decision: a.CheckpointDecision,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.CheckpointResolved]:
        command = ResolveCheckpoint(step_id=stepId, checkpoint_id=checkpointId, decision=decision)
        return await executed(service, runId, command, expectedRevision, correlationId)

    return resolve_checkpoint


TOOLS = [
    ToolSpec(
        "resolve_gate",
        Toolset.CORE,
        "Resolve a human gate",
        "Decide one of the step's gates while it is under review (the server instructions say which gates a step has; "
        "next_actions.pendingGates lists those awaiting a decision). approved or edited open it; approving an open "
        "gate records nothing (changed: false). rejected is recorded and re-closes a PAUSE_BEFORE or PAUSE_AFTER "
        "gate (an approved CHECKPOINT gate stays open). Pass expectedRevision so the first of two concurrent "
        "decisions wins. Errors: GATE_NOT_APPLICABLE (no such gate, or not under review now; the message names the "
        "right call).",
        read_only=False,
        build=_resolve_gate,
        idempotent=False,
        destructive=False,
    ),
    ToolSpec(
        "request_gate",
        Toolset.STEPS,
        "Request human review",
        "Record that a step's gate needs a human decision (informational: it changes no gate state).",
        read_only=False,
        build=_request_gate,
        idempotent=False,
        destructive=False,
    ),
    ToolSpec(
        "wait_for_decision",
        Toolset.STEPS,
        "Wait for a gate decision",
        "Block until the gate under review is decided (decided: true, with decision, principal, channel) or "
        "timeoutSeconds pass (decided: false); call again to keep waiting. Use instead of polling next_actions.",
        read_only=True,
        build=_wait_for_decision,
        idempotent=True,
        destructive=False,
    ),
    ToolSpec(
        "resolve_checkpoint",
        Toolset.STEPS,
        "Resolve a named checkpoint",
        "Approve or reject a named checkpoint waiting on a step: a next_actions.pendingGates entry with a "
        "checkpointId (only runs made by the reference runtime hold them). It never blocks a step: a CHECKPOINT step "
        "starts after resolve_gate(gate=CHECKPOINT). Recorded as a CHECKPOINT gate decision noting the id; "
        "approving an approved checkpoint records nothing (changed: false). Errors: UNKNOWN_CHECKPOINT (nothing "
        "waits on that id; the message names the call that opens the step).",
        read_only=False,
        build=_resolve_checkpoint,
        idempotent=False,
        destructive=False,
    ),
]
