"""Human-review gates (docs/protocol.md 6.3)."""

from __future__ import annotations

from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.guards import require_running, require_step
from workbench_mcp.engine.outcome import Outcome, absent_if_none, appended, make_event
from workbench_mcp.engine.run_state import RunState, with_entry
from workbench_mcp.protocol.engine_state import GateSlots
from workbench_mcp.protocol.trace_events import HumanGateRequested, HumanGateResolved


def request_gate(
    state: RunState,
    clock: Clock,
    *,
    step_id: str,
    gate: str,
    reason: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    """Informational: records that a review is wanted, changes no gate state."""
    require_running(state, "request gate")
    require_step(state, step_id)
    event = make_event(
        HumanGateRequested,
        clock,
        state,
        step_id=step_id,
        correlation_id=absent_if_none(correlation_id),
        gate=gate,
        reason=absent_if_none(reason),
    )
    return Outcome(appended(state, [event]), [event])


def _after_decision(slots: GateSlots, gate: str, approved: bool) -> GateSlots:
    if gate == "PAUSE_BEFORE":
        return slots.model_copy(update={"before": "approved" if approved else "pending"})
    if gate == "PAUSE_AFTER":
        return slots.model_copy(update={"after": "approved" if approved else "pending"})
    # A generic CHECKPOINT approval opens `before`; a rejection changes nothing.
    return slots.model_copy(update={"before": "approved"}) if approved else slots


def resolve_gate(
    state: RunState,
    clock: Clock,
    *,
    step_id: str,
    gate: str,
    decision: str,
    note: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    """`edited` counts as approval; `rejected` re-closes the slot."""
    require_running(state, "resolve gate")
    require_step(state, step_id)
    slots = _after_decision(state.gate_state[step_id], gate, decision != "rejected")
    event = make_event(
        HumanGateResolved,
        clock,
        state,
        step_id=step_id,
        correlation_id=absent_if_none(correlation_id),
        gate=gate,
        decision=decision,
        note=absent_if_none(note),
    )
    new_state = appended(state, [event], gate_state=with_entry(state.gate_state, step_id, slots))
    return Outcome(new_state, [event])


def resolve_checkpoint(
    state: RunState,
    clock: Clock,
    *,
    step_id: str,
    checkpoint_id: str,
    decision: str,
    correlation_id: str | None = None,
) -> Outcome:
    """Named checkpoints are recorded but never block anything."""
    require_running(state, "resolve checkpoint")
    require_step(state, step_id)
    rejected = decision == "rejected"
    slots = state.gate_state[step_id]
    checkpoints = with_entry(slots.checkpoints, checkpoint_id, "pending" if rejected else "approved")
    event = make_event(
        HumanGateResolved,
        clock,
        state,
        step_id=step_id,
        correlation_id=absent_if_none(correlation_id),
        gate="CHECKPOINT",
        decision="rejected" if rejected else "approved",
        note=checkpoint_id,
    )
    updated = slots.model_copy(update={"checkpoints": checkpoints})
    new_state = appended(state, [event], gate_state=with_entry(state.gate_state, step_id, updated))
    return Outcome(new_state, [event])
