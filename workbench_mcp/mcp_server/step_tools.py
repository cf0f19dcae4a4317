"""Step and run-lifecycle tools: begin/complete/fail a step; complete/cancel/fail a run.

begin_step, complete_step and complete_run are `core`: with them the default server takes a run from
start_run to completed. Failing and cancelling are the `steps` toolset.
"""

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp import results as o
from workbench_mcp.commands import BeginStep, CompleteStep, EndRun, FailStep
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server.tool_spec import ToolFactory, ToolFn, ToolSpec, executed
from workbench_mcp.service import RunService

FailFast = Annotated[bool, Field(description="Also fail the whole run (refused while other steps are running)")]


def _begin_step(service: RunService) -> ToolFn:
    async def begin_step(
        runId: a.RunId,
        stepId: a.StepId,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.StepResult]:
        command = BeginStep(step_id=stepId)
        return await executed(service, runId, command, expectedRevision, correlationId)

    return begin_step


def _complete_step(service: RunService) -> ToolFn:
    async def complete_step(
        runId: a.RunId,
        stepId: a.StepId,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.StepResult]:
        command = CompleteStep(step_id=stepId)
        return await executed(service, runId, command, expectedRevision, correlationId)

    return complete_step


def _fail_step(service: RunService) -> ToolFn:
    async def fail_step(
        runId: a.RunId,
        stepId: a.StepId,
        message: a.Message,
        code: a.ErrorCodeText | None = None,
        failFast: FailFast = False,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.StepFailed]:
        command = FailStep(step_id=stepId, message=message, code=code, fail_fast=failFast)
        return await executed(service, runId, command, expectedRevision, correlationId)

    return fail_step


def _end_run(status: str) -> ToolFactory:
    """complete_run and cancel_run take an optional reason; the service shares one terminal transition."""

    def build(service: RunService) -> ToolFn:
        async def end_run(
            runId: a.RunId,
            reason: a.Reason | None = None,
            expectedRevision: a.ExpectedRevision | None = None,
            correlationId: a.CorrelationId | None = None,
        ) -> Annotated[CallToolResult, o.RunEnded]:
            command = EndRun(status=status, reason=reason)
            return await executed(service, runId, command, expectedRevision, correlationId)

        end_run.__name__ = f"{'complete' if status == 'completed' else 'cancel'}_run"
        return end_run

    return build


def _fail_run(service: RunService) -> ToolFn:
    async def fail_run(
        runId: a.RunId,
        message: a.Message,
        code: a.ErrorCodeText | None = None,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.RunEnded]:
        command = EndRun(status="failed", reason=message, code=code)
        return await executed(service, runId, command, expectedRevision, correlationId)

    return fail_run


_TERMINAL = "(terminal: no further changes). Refused (INVALID_STATE_TRANSITION) while a step is running."

TOOLS = [
    ToolSpec(
        "begin_step",
        Toolset.CORE,
        "Begin a step",
        "Start a pending step. If it cannot start the result is {ok: false, reason} (not an error), reason.type: "
        "gate (resolve_gate the gate it names), predecessor (the waitingOn steps must complete), "
        "predecessor_after_gate (approve the PAUSE_AFTER gate of the step in waitingOn) or not_pending.",
        read_only=False,
        build=_begin_step,
        idempotent=True,  # a second call finds the step running and changes nothing
        destructive=False,
    ),
    ToolSpec(
        "complete_step",
        Toolset.CORE,
        "Complete a step",
        "Mark a running step completed; a PAUSE_AFTER or CHECKPOINT step then holds its successors until "
        "resolve_gate(gate=PAUSE_AFTER) approves. Errors: INVALID_STATE_TRANSITION (step not running).",
        read_only=False,
        build=_complete_step,
        idempotent=True,  # a repeat is refused: the step is no longer running
        destructive=False,
    ),
    ToolSpec(
        "fail_step",
        Toolset.STEPS,
        "Fail a step",
        "Mark a pending or running step failed; with failFast the run fails too. A failed step cannot be retried "
        "and blocks its successors. Errors: INVALID_STATE_TRANSITION (step completed or failed already).",
        read_only=False,
        build=_fail_step,
        idempotent=True,
        destructive=True,
    ),
    ToolSpec(
        "complete_run",
        Toolset.CORE,
        "Complete the run",
        "Mark the run completed " + _TERMINAL + " Steps still pending are listed in stepsNeverRun.",
        read_only=False,
        build=_end_run("completed"),
        idempotent=True,
        destructive=True,
    ),
    ToolSpec(
        "cancel_run",
        Toolset.STEPS,
        "Cancel the run",
        "Mark the run cancelled " + _TERMINAL,
        read_only=False,
        build=_end_run("cancelled"),
        idempotent=True,
        destructive=True,
    ),
    ToolSpec(
        "fail_run",
        Toolset.STEPS,
        "Fail the run",
        "Mark the run failed " + _TERMINAL,
        read_only=False,
        build=_fail_run,
        idempotent=True,
        destructive=True,
    ),
]
