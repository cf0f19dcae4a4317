"""Can a step start? (docs/protocol.md 6.4) and what can an agent do next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.workflow import POLICIES_WITH_AFTER_GATE


def can_start_step(state: RunState, step_id: str) -> dict[str, Any]:
    """`{"ok": true}` or `{"ok": false, "reason": {...}}` exactly as the reference words it."""
    status = state.step_status.get(step_id, "pending")
    if status != "pending":
        return _blocked({"type": "not_pending", "stepId": step_id, "status": status})
    workflow = state.run.workflow_snapshot
    if workflow.step(step_id) is None:
        raise WorkbenchError(ErrorCode.UNKNOWN_STEP, f"Unknown workflow step id: {step_id}")
    gates = state.gate_state.get(step_id)
    if gates is None or gates.before != "approved":
        return _blocked({"type": "gate", "stepId": step_id, "gate": "PAUSE_BEFORE"})
    predecessors = workflow.predecessors(step_id)
    waiting_on = [p for p in predecessors if state.step_status.get(p) != "completed"]
    if waiting_on:
        return _blocked({"type": "predecessor", "stepId": step_id, "waitingOn": waiting_on})
    for pred in predecessors:
        pred_step = workflow.step(pred)
        pred_gates = state.gate_state.get(pred)
        if pred_step is None:
            raise WorkbenchError(ErrorCode.UNKNOWN_STEP, f"Unknown workflow step id: {pred}")
        if pred_step.gate_policy in POLICIES_WITH_AFTER_GATE and pred_gates and pred_gates.after != "approved":
            return _blocked({"type": "predecessor_after_gate", "stepId": step_id, "waitingOn": pred})
    return {"ok": True}


def _blocked(reason: dict[str, Any]) -> dict[str, Any]:
    return {"ok": False, "reason": reason}


@dataclass(frozen=True, slots=True)
class NextActions:
    """What an agent needs to choose its next call."""

    run_id: str
    status: str
    pending_gates: list[dict[str, Any]]
    ready_steps: list[str]
    running_steps: list[str]
    blocked_steps: list[dict[str, Any]]
    can_complete_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "status": self.status,
            "pendingGates": self.pending_gates,
            "readySteps": self.ready_steps,
            "runningSteps": self.running_steps,
            "blockedSteps": self.blocked_steps,
            "canCompleteRun": self.can_complete_run,
        }


def next_actions(state: RunState) -> NextActions:
    """Pending gates to resolve, steps ready to begin, and blocked steps with the reason."""
    pending_gates: list[dict[str, Any]] = []
    ready: list[str] = []
    blocked: list[dict[str, Any]] = []
    running = [s for s, st in state.step_status.items() if st == "running"]
    active = state.run.status == "running"
    for step in state.run.workflow_snapshot.steps:
        gates = state.gate_state.get(step.id)
        status = state.step_status.get(step.id, "pending")
        if gates is not None and active:
            pending_gates.extend(_pending_gates_of(step.id, step.gate_policy, status, gates.before, gates.after))
            pending_gates.extend(
                {"stepId": step.id, "gate": "CHECKPOINT", "checkpointId": cp}
                for cp, value in gates.checkpoints.items()
                if value == "pending"
            )
        if status != "pending":
            continue
        verdict = can_start_step(state, step.id)
        if verdict["ok"]:
            ready.append(step.id)
        else:
            blocked.append(verdict["reason"])
    return NextActions(
        run_id=state.run_id,
        status=state.run.status,
        pending_gates=pending_gates,
        ready_steps=ready if active else [],
        running_steps=running,
        blocked_steps=blocked,
        can_complete_run=active and not running,
    )


def _pending_gates_of(step_id: str, policy: str, status: str, before: str, after: str) -> list[dict[str, Any]]:
    gates: list[dict[str, Any]] = []
    if before == "pending" and status == "pending":
        gates.append({"stepId": step_id, "gate": "CHECKPOINT" if policy == "CHECKPOINT" else "PAUSE_BEFORE"})
    if after == "pending" and status == "completed":
        gates.append({"stepId": step_id, "gate": "PAUSE_AFTER"})
    return gates
