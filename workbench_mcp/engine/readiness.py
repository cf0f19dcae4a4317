"""Can a step start? (docs/protocol.md 6.4) and what can an agent do next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.workflow import POLICIES_WITH_AFTER_GATE, START_GATE_OF_POLICY


def start_gate(state: RunState, step_id: str) -> str | None:
    """The name of the gate that holds `step_id` before it starts, or None if it has none.

    It is the policy's name: `CHECKPOINT` for a CHECKPOINT step, where the reference's readiness
    says `PAUSE_BEFORE` although resolve_gate(PAUSE_BEFORE) is not what it shows agents (D26). A
    step whose policy has no start gate can still have a closed `before` slot in a run imported
    from the reference (a rejected PAUSE_BEFORE on an AUTO step); that gate is `PAUSE_BEFORE`.
    """
    step = state.run.workflow_snapshot.step(step_id)
    policy = step.gate_policy if step is not None else "AUTO"
    gate = START_GATE_OF_POLICY.get(policy)
    if gate is None:
        slots = state.gate_state.get(step_id)
        if slots is None or slots.before != "approved":
            return "PAUSE_BEFORE"
    return gate


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
        return _blocked({"type": "gate", "stepId": step_id, "gate": start_gate(state, step_id) or "PAUSE_BEFORE"})
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
    """Pending gates to resolve, steps ready to begin, and blocked steps with the reason.

    A finished run (completed, failed, cancelled) has nothing to do: every list is empty.
    """
    if state.run.status != "running":
        return NextActions(state.run_id, state.run.status, [], [], [], [], can_complete_run=False)
    running = [s for s, st in state.step_status.items() if st == "running"]
    pending_gates: list[dict[str, Any]] = []
    ready: list[str] = []
    blocked: list[dict[str, Any]] = []
    for step in state.run.workflow_snapshot.steps:
        gates = state.gate_state.get(step.id)
        status = state.step_status.get(step.id, "pending")
        if gates is not None:
            pending_gates.extend(_pending_gates_of(state, step.id, step.gate_policy, status, gates.after))
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
        ready_steps=ready,
        running_steps=running,
        blocked_steps=blocked,
        can_complete_run=not steps_never_run(state) and not running,
    )


def steps_never_run(state: RunState) -> list[str]:
    """Steps still pending, in workflow order: neither done nor deliberately skipped (fail_step)."""
    return [s.id for s in state.run.workflow_snapshot.steps if state.step_status.get(s.id, "pending") == "pending"]


def _pending_gates_of(state: RunState, step_id: str, policy: str, status: str, after: str) -> list[dict[str, Any]]:
    """The gates resolve_gate accepts a decision on now (the same names and rules, D25/D26)."""
    gates: list[dict[str, Any]] = []
    start = start_gate(state, step_id)
    if start is not None and status == "pending" and state.gate_state[step_id].before != "approved":
        gates.append({"stepId": step_id, "gate": start})
    if policy in POLICIES_WITH_AFTER_GATE and after != "approved" and status == "completed":
        gates.append({"stepId": step_id, "gate": "PAUSE_AFTER"})
    return gates
