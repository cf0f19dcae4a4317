"""Human-gate tools: resolve a gate (core); request a gate and resolve a named checkpoint (steps)."""

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server import outputs as o
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.toolsets import ToolFn, ToolSpec
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
        result = await service.request_gate(
            current_principal(),
            runId,
            step_id=stepId,
            gate=gate,
            reason=reason,
            expected_revision=expectedRevision,
            correlation_id=correlationId,
        )
        return tool_result(result)

    return request_gate


CheckpointId = Annotated[str, Field(min_length=1, max_length=256, description="Your name for the checkpoint")]


def _resolve_checkpoint(service: RunService) -> ToolFn:
    async def resolve_checkpoint(
        runId: a.RunId,
        stepId: a.StepId,
        checkpointId: CheckpointId,
        decision: a.CheckpointDecision,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.CheckpointResolved]:
        result = await service.resolve_checkpoint(
            current_principal(),
            runId,
            step_id=stepId,
            checkpoint_id=checkpointId,
            decision=decision,
            expected_revision=expectedRevision,
            correlation_id=correlationId,
        )
        return tool_result(result)

    return resolve_checkpoint


TOOLS = [
    ToolSpec(
        "resolve_gate",
        Toolset.CORE,
        "Resolve a human gate",
        "Record a reviewer's decision on a gate the step has, while it is under review: its start gate "
        "(PAUSE_BEFORE for a PAUSE_BEFORE step, CHECKPOINT for a CHECKPOINT step) before it starts, to let it start; "
        "PAUSE_AFTER (PAUSE_AFTER and CHECKPOINT steps) after complete_step, to let successors start. rejected "
        "closes the gate again. next_actions.pendingGates lists the gates open for a decision. Approving an open "
        "gate records nothing (changed: false). Pass expectedRevision so that the first of two concurrent "
        "decisions wins. Errors: UNKNOWN_RUN, UNKNOWN_STEP, GATE_NOT_APPLICABLE (the step has no such gate or it "
        "is not under review now; the message names the right call), INVALID_STATE_TRANSITION (run not running), "
        "REVISION_CONFLICT.",
        read_only=False,
        build=_resolve_gate,
        idempotent=False,
        destructive=False,
    ),
    ToolSpec(
        "request_gate",
        Toolset.STEPS,
        "Request human review",
        "Record that a step's gate needs a human decision (informational: it changes no gate state). "
        "Errors: UNKNOWN_RUN, UNKNOWN_STEP, INVALID_STATE_TRANSITION.",
        read_only=False,
        build=_request_gate,
        idempotent=False,
        destructive=False,
    ),
    ToolSpec(
        "resolve_checkpoint",
        Toolset.STEPS,
        "Resolve a named checkpoint",
        "Approve or reject a named checkpoint that waits on a step: a next_actions.pendingGates entry with a "
        "checkpointId (runs made by the reference runtime hold them). Named checkpoints never block a step; to let "
        "a CHECKPOINT step start call resolve_gate(gate=CHECKPOINT). Recorded as a CHECKPOINT gate resolution whose "
        "note is the checkpoint id; approving an approved checkpoint records nothing (changed: false). Errors: "
        "UNKNOWN_RUN, UNKNOWN_STEP, UNKNOWN_CHECKPOINT (nothing waits for that id; the message names the call that "
        "opens the step), INVALID_STATE_TRANSITION, REVISION_CONFLICT.",
        read_only=False,
        build=_resolve_checkpoint,
        idempotent=False,
        destructive=False,
    ),
]
