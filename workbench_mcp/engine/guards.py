"""Preconditions shared by every concern of the engine."""

from __future__ import annotations

from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.workflow import WorkflowStep


def require_running(state: RunState, action: str) -> None:
    """Every mutating operation needs a running run (terminal runs accept no appends, D19)."""
    if state.run.status != "running":
        raise WorkbenchError(
            ErrorCode.INVALID_STATE_TRANSITION,
            f"Cannot {action}: run {state.run_id} is {state.run.status}",
        )


def require_step(state: RunState, step_id: str) -> WorkflowStep:
    """Unknown step ids are refused up front (the reference lets several through, D5)."""
    step = state.run.workflow_snapshot.step(step_id)
    if step is None or step_id not in state.gate_state:
        raise WorkbenchError(ErrorCode.UNKNOWN_STEP, f"Unknown step: {step_id}")
    return step


def require_optional_step(state: RunState, step_id: str | None) -> None:
    """Telemetry may name a step; if it does, it must be one of the workflow's (D5)."""
    if step_id:
        require_step(state, step_id)
