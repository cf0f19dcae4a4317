"""Step execution (docs/protocol.md 6.5)."""

from __future__ import annotations

from typing import Any

from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.guards import require_running, require_step
from workbench_mcp.engine.lifecycle import check_can_end_run, fail_run
from workbench_mcp.engine.outcome import Outcome, absent_if_none, appended, make_event
from workbench_mcp.engine.readiness import can_start_step
from workbench_mcp.engine.run_state import RunState, with_entry
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.trace_events import ErrorEvent, HumanGateRequested, StepCompleted, StepStarted
from workbench_mcp.protocol.workflow import POLICIES_WITH_AFTER_GATE

AFTER_GATE_REASON = "Review outputs before downstream steps proceed"


def begin_step(state: RunState, clock: Clock, *, step_id: str, correlation_id: str | None = None) -> Outcome:
    """A blocked step is not an error: the result says why (`{"ok": false, "reason": ...}`)."""
    require_running(state, "begin step")
    verdict = can_start_step(state, step_id)
    if not verdict["ok"]:
        return Outcome(state, [], verdict)
    event = make_event(StepStarted, clock, state, step_id=step_id, correlation_id=absent_if_none(correlation_id))
    new_state = appended(state, [event], step_status=with_entry(state.step_status, step_id, "running"))
    return Outcome(new_state, [event], {"ok": True})


def complete_step(state: RunState, clock: Clock, *, step_id: str, correlation_id: str | None = None) -> Outcome:
    """PAUSE_AFTER and CHECKPOINT steps re-close `after` and request a review before step_completed."""
    require_running(state, "complete step")
    step = require_step(state, step_id)
    status = state.step_status.get(step_id)
    if status != "running":
        raise WorkbenchError(
            ErrorCode.INVALID_STATE_TRANSITION,
            f'Cannot complete step {step_id}: expected status "running", got "{status or "missing"}"',
        )
    events: list[Any] = []
    gate_state = state.gate_state
    if step.gate_policy in POLICIES_WITH_AFTER_GATE:
        slots = state.gate_state[step_id].model_copy(update={"after": "pending"})
        gate_state = with_entry(state.gate_state, step_id, slots)
        events.append(
            make_event(
                HumanGateRequested,
                clock,
                state,
                step_id=step_id,
                correlation_id=absent_if_none(correlation_id),
                gate="PAUSE_AFTER",
                reason=AFTER_GATE_REASON,
            )
        )
    events.append(
        make_event(
            StepCompleted,
            clock,
            state,
            step_id=step_id,
            correlation_id=absent_if_none(correlation_id),
            ok=True,
        )
    )
    step_status = with_entry(state.step_status, step_id, "completed")
    return Outcome(appended(state, events, step_status=step_status, gate_state=gate_state), events)


def fail_step(
    state: RunState,
    clock: Clock,
    *,
    step_id: str,
    message: str,
    code: str | None = None,
    fail_fast: bool = False,
    correlation_id: str | None = None,
) -> Outcome:
    """Pending or running steps may fail; with fail_fast the run fails too, or nothing happens (D4)."""
    require_running(state, "fail step")
    require_step(state, step_id)
    status = state.step_status.get(step_id)
    if status in ("completed", "failed"):
        raise WorkbenchError(
            ErrorCode.INVALID_STATE_TRANSITION, f'Cannot fail step {step_id}: terminal status "{status}"'
        )
    failed = state.evolve(step_status=with_entry(state.step_status, step_id, "failed"))
    if fail_fast:
        check_can_end_run(failed, "failed")
    correlation = absent_if_none(correlation_id)
    events: list[Any] = [
        make_event(
            StepCompleted,
            clock,
            state,
            step_id=step_id,
            correlation_id=correlation,
            ok=False,
            error={"message": message, "code": absent_if_none(code)},
        ),
        make_event(
            ErrorEvent,
            clock,
            state,
            step_id=step_id,
            correlation_id=correlation,
            message=message,
            code=absent_if_none(code),
            fatal=fail_fast,
        ),
    ]
    after_step = appended(failed, events)
    if not fail_fast:
        return Outcome(after_step, events)
    ended = fail_run(after_step, clock, message=message, code=code, correlation_id=correlation_id)
    return Outcome(ended.state, events + ended.events)
