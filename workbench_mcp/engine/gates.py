"""Human-review gates (docs/protocol.md 6.3), checked against the step so a decision means what it says (D25-D27)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args

from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.guards import require_running, require_step
from workbench_mcp.engine.outcome import Outcome, absent_if_none, appended, make_event
from workbench_mcp.engine.readiness import start_gate
from workbench_mcp.engine.run_state import RunState, with_entry
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.engine_state import GateSlots
from workbench_mcp.protocol.trace_events import Decision, HumanGateRequested, HumanGateResolved
from workbench_mcp.protocol.workflow import POLICIES_WITH_AFTER_GATE, GateKind, WorkflowStep


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
    # A CHECKPOINT approval opens `before`; a rejection changes nothing (as in the reference).
    return slots.model_copy(update={"before": "approved"}) if approved else slots


def _refuse(message: str) -> WorkbenchError:
    return WorkbenchError(ErrorCode.GATE_NOT_APPLICABLE, message)


def _check_gate_decision(state: RunState, step: WorkflowStep, gate: str) -> None:
    """A decision must name a gate the step has, while that gate is the one under review (D25, D26).

    The reference accepts any gate on any step at any time and records it, so a decision could
    change nothing, re-close a gate nothing checks, or be wiped by complete_step.
    """
    status = state.step_status.get(step.id, "pending")
    policy = step.gate_policy
    if gate in ("PAUSE_BEFORE", "CHECKPOINT"):
        own = start_gate(state, step.id)
        if own is None:
            raise _refuse(f"Step {step.id} (gatePolicy {policy}) has no {gate} gate: it starts without review")
        if gate != own:
            raise _refuse(
                f"Step {step.id} (gatePolicy {policy}) has no {gate} gate: its start gate is {own}; "
                f'call resolve_gate(stepId="{step.id}", gate="{own}")'
            )
        if status != "pending":
            raise _refuse(f"Step {step.id} is {status}: its {gate} gate only applies before the step starts")
    elif gate == "PAUSE_AFTER":
        if policy not in POLICIES_WITH_AFTER_GATE:
            raise _refuse(
                f"Step {step.id} (gatePolicy {policy}) has no PAUSE_AFTER gate: its successors never wait for a review"
            )
        if status != "completed":
            raise _refuse(
                f"Step {step.id} is {status}: its PAUSE_AFTER gate opens for review when complete_step completes it"
            )


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
    """`edited` counts as approval; `rejected` re-closes the slot.

    Approving a gate that is already open records nothing (no event, no new revision): the
    decision it would record is already in force (D25).
    """
    require_running(state, "resolve gate")
    step = require_step(state, step_id)
    if gate not in get_args(GateKind) or decision not in get_args(Decision):
        # Refused by the event's own validation (INVALID_TRACE_EVENT), as in the reference.
        return record_gate_decision(state, clock, step_id=step_id, gate=gate, decision=decision, note=note)
    _check_gate_decision(state, step, gate)
    current = state.gate_state[step_id]
    if decision != "rejected" and _after_decision(current, gate, True) == current:
        return Outcome(state)
    return record_gate_decision(
        state, clock, step_id=step_id, gate=gate, decision=decision, note=note, correlation_id=correlation_id
    )


def record_gate_decision(
    state: RunState,
    clock: Clock,
    *,
    step_id: str,
    gate: str,
    decision: str,
    note: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    """The reference's resolveGate transition (6.3 table), without our checks.

    resolve_gate calls it once the decision is known to mean something; tests call it to build
    runs as the reference leaves them.
    """
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
    """Resolves a named checkpoint that is waiting on the step (listed by next_actions, D27).

    Named checkpoints never block a step. The reference creates one for any id it is given, so a
    call meant to open a CHECKPOINT step's start gate silently opened nothing; we refuse it and
    name the call that does. Approving an approved checkpoint records nothing.
    """
    require_running(state, "resolve checkpoint")
    require_step(state, step_id)
    current = state.gate_state[step_id].checkpoints.get(checkpoint_id)
    if current is None:
        raise WorkbenchError(ErrorCode.UNKNOWN_CHECKPOINT, _no_checkpoint_message(state, step_id, checkpoint_id))
    if decision != "rejected" and current == "approved":
        return Outcome(state)
    return record_checkpoint_decision(
        state, clock, step_id=step_id, checkpoint_id=checkpoint_id, decision=decision, correlation_id=correlation_id
    )


def record_checkpoint_decision(
    state: RunState,
    clock: Clock,
    *,
    step_id: str,
    checkpoint_id: str,
    decision: str,
    correlation_id: str | None = None,
) -> Outcome:
    """The reference's resolveCheckpoint transition, without our checks (see record_gate_decision).

    The reference creates the checkpoint if it does not exist: that is how runs it made hold them.
    """
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


def _no_checkpoint_message(state: RunState, step_id: str, checkpoint_id: str) -> str:
    text = f"No checkpoint {checkpoint_id!r} is waiting on step {step_id}"
    gate = start_gate(state, step_id)
    closed = state.gate_state[step_id].before != "approved"
    if gate is not None and closed and state.step_status.get(step_id) == "pending":
        return (
            f"{text}. Step {step_id} waits for its {gate} gate: "
            f'call resolve_gate(stepId="{step_id}", gate="{gate}", decision=...) to let it start'
        )
    return f"{text} (next_actions lists the checkpoints that are; gates are resolved with resolve_gate)"


def check_awaitable(state: RunState, step_id: str, gate: str, action: str = "wait for decision") -> None:
    """A gate one may wait on (or ask a human about) is one a decision could still land on: the codes
    resolve_gate would give."""
    require_running(state, action)
    _check_gate_decision(state, require_step(state, step_id), gate)


def latest_decision(trace: Sequence[Mapping[str, Any]], step_id: str, gate: str) -> Mapping[str, Any] | None:
    """The step's latest decision on `gate` made after its latest review request (None if none since).

    After a rejection an agent requests review again and waits; the old rejection must not answer that wait."""
    last = _latest_gate_event(trace, step_id, gate)
    return last if last is not None and last.get("type") == "human_gate_resolved" else None


def requested_since_decision(trace: Sequence[Mapping[str, Any]], step_id: str, gate: str) -> bool:
    """Whether a human_gate_requested of this gate follows its latest decision (`latest_decision`'s converse:
    review channels then record no second request)."""
    last = _latest_gate_event(trace, step_id, gate)
    return last is not None and last.get("type") == "human_gate_requested"


def _latest_gate_event(trace: Sequence[Mapping[str, Any]], step_id: str, gate: str) -> Mapping[str, Any] | None:
    """The step's latest human_gate_requested or human_gate_resolved event of `gate` (None if it has none)."""
    found: Mapping[str, Any] | None = next(
        (
            event
            for event in reversed(trace)
            if event.get("stepId") == step_id
            and event.get("gate") == gate
            and event.get("type") in ("human_gate_requested", "human_gate_resolved")
        ),
        None,
    )
    return found
