"""Human-review gates (2.3, 6.3): request, resolve (every gate x decision), named checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.conftest import Run, chain, dumped, one_step
from workbench_mcp.engine import gates, steps
from workbench_mcp.engine.readiness import can_start_step
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError


def _code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(WorkbenchError) as info:
        call()
    return info.value.code


def _slots(state: RunState, step_id: str = "s1") -> dict[str, Any]:
    return state.gate_state[step_id].model_dump(mode="json")


# --- request_gate --------------------------------------------------------------------------------


def test_request_gate_is_informational(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(one_step("AUTO"))
    out = gates.request_gate(state, clock, step_id="s1", gate="PAUSE_AFTER", reason="look", correlation_id="c")
    assert dumped(out) == [
        {
            "id": dumped(out)[0]["id"],
            "runId": state.run_id,
            "ts": dumped(out)[0]["ts"],
            "stepId": "s1",
            "correlationId": "c",
            "type": "human_gate_requested",
            "gate": "PAUSE_AFTER",
            "reason": "look",
        }
    ]
    assert out.state.gate_state == state.gate_state  # the step's policy is not consulted, nothing changes
    assert out.state.step_status == state.step_status
    assert out.state.revision == state.revision + 1


def test_request_gate_without_reason(started: Callable[..., RunState], clock: CountingClock) -> None:
    (event,) = dumped(gates.request_gate(started(), clock, step_id="s1", gate="CHECKPOINT"))
    assert "reason" not in event


def test_request_gate_unknown_step_d5(started: Callable[..., RunState], clock: CountingClock) -> None:
    assert (
        _code(lambda: gates.request_gate(started(), clock, step_id="ghost", gate="PAUSE_BEFORE"))
        is ErrorCode.UNKNOWN_STEP
    )


@pytest.mark.parametrize("gate", ["AUTO", "pause_before", ""])
def test_request_gate_invalid_gate(started: Callable[..., RunState], clock: CountingClock, gate: str) -> None:
    assert _code(lambda: gates.request_gate(started(), clock, step_id="s1", gate=gate)) is ErrorCode.INVALID_TRACE_EVENT


# --- resolve_gate: a gate the step has, while it is under review (D25, D26) -----------------------

STEP_IS_PENDING_OR_COMPLETED = {"PAUSE_BEFORE": "pending", "CHECKPOINT": "pending", "PAUSE_AFTER": "completed"}
GATES_OF_POLICY = {
    "AUTO": set(),
    "PAUSE_BEFORE": {"PAUSE_BEFORE"},
    "PAUSE_AFTER": {"PAUSE_AFTER"},
    "CHECKPOINT": {"CHECKPOINT", "PAUSE_AFTER"},
}


def _to_status(r: Run, status: str) -> None:
    if status == "completed":
        gate = {"PAUSE_BEFORE": "PAUSE_BEFORE", "CHECKPOINT": "CHECKPOINT"}.get(
            r.state.run.workflow_snapshot.steps[0].gate_policy
        )
        if gate:
            r.do(gates.resolve_gate, step_id="s1", gate=gate, decision="approved")
        r.do(steps.begin_step, step_id="s1")
        r.do(steps.complete_step, step_id="s1")


def _refused(r: Run, code: ErrorCode = ErrorCode.GATE_NOT_APPLICABLE, **kw: Any) -> str:
    """The call is refused with `code` and changes nothing; returns the message."""
    before = r.state
    operation = gates.resolve_checkpoint if "checkpoint_id" in kw else gates.resolve_gate
    with pytest.raises(WorkbenchError) as info:
        operation(before, r.clock, step_id=kw.pop("step_id", "s1"), **kw)
    assert info.value.code is code
    assert r.state is before
    assert before.revision == r.state.revision
    return info.value.message


@pytest.mark.parametrize("policy", ["AUTO", "PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"])
@pytest.mark.parametrize("gate", ["PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"])
def test_only_the_steps_own_gates_can_be_resolved(run: Callable[..., Run], policy: str, gate: str) -> None:
    r = run(chain(policy, "AUTO"))
    _to_status(r, STEP_IS_PENDING_OR_COMPLETED[gate])
    if gate in GATES_OF_POLICY[policy]:
        revision = r.state.revision
        r.do(gates.resolve_gate, step_id="s1", gate=gate, decision="rejected")
        assert r.state.revision == revision + 1
        assert r.trace[-1]["gate"] == gate
    else:
        _refused(r, gate=gate, decision="approved")
        _refused(r, gate=gate, decision="rejected")


def test_a_checkpoint_steps_start_gate_is_called_checkpoint(run: Callable[..., Run]) -> None:
    r = run(chain("CHECKPOINT", "AUTO"))
    message = _refused(r, gate="PAUSE_BEFORE", decision="approved")
    assert 'gate="CHECKPOINT"' in message
    assert can_start_step(r.state, "s1")["reason"] == {"type": "gate", "stepId": "s1", "gate": "CHECKPOINT"}
    assert r.do(steps.begin_step, step_id="s1").result["reason"]["gate"] == "CHECKPOINT"
    r.do(gates.resolve_gate, step_id="s1", gate="CHECKPOINT", decision="approved")
    assert r.do(steps.begin_step, step_id="s1").result == {"ok": True}


def test_a_pause_before_steps_start_gate_names_itself(run: Callable[..., Run]) -> None:
    r = run(one_step("PAUSE_BEFORE"))
    assert 'gate="PAUSE_BEFORE"' in _refused(r, gate="CHECKPOINT", decision="approved")
    assert can_start_step(r.state, "s1")["reason"]["gate"] == "PAUSE_BEFORE"


def test_auto_steps_have_no_gates(run: Callable[..., Run]) -> None:
    r = run(one_step("AUTO"))
    assert "starts without review" in _refused(r, gate="PAUSE_BEFORE", decision="rejected")
    _to_status(r, "completed")
    assert "no PAUSE_AFTER gate" in _refused(r, gate="PAUSE_AFTER", decision="rejected")


def test_pause_after_is_decided_after_completion_only(run: Callable[..., Run]) -> None:
    r = run(chain("PAUSE_AFTER", "AUTO"))
    assert "complete_step" in _refused(r, gate="PAUSE_AFTER", decision="approved")
    r.do(steps.begin_step, step_id="s1")
    _refused(r, gate="PAUSE_AFTER", decision="approved")
    r.do(steps.complete_step, step_id="s1")
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="edited")
    assert can_start_step(r.state, "s2") == {"ok": True}


def test_start_gate_is_decided_before_the_step_starts_only(run: Callable[..., Run]) -> None:
    r = run(one_step("PAUSE_BEFORE"))
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_BEFORE", decision="approved")
    r.do(steps.begin_step, step_id="s1")
    assert "running" in _refused(r, gate="PAUSE_BEFORE", decision="rejected")


@pytest.mark.parametrize(
    ("decisions", "before", "events"),
    [
        (["rejected"], "pending", 1),  # a rejection is a decision worth recording, even of a closed gate
        (["approved"], "approved", 1),
        (["edited"], "approved", 1),
        (["approved", "rejected"], "pending", 2),
        (["approved", "rejected", "edited"], "approved", 3),
        (["rejected", "rejected"], "pending", 2),
    ],
)
def test_start_gate_decisions(run: Callable[..., Run], decisions: list[str], before: str, events: int) -> None:
    r = run(one_step("PAUSE_BEFORE"))
    for decision in decisions:
        r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_BEFORE", decision=decision, note="n")
    assert r.state.gate_state["s1"].before == before
    assert [(e["type"], e["gate"], e["decision"], e["note"]) for e in r.trace[-events:]] == [
        ("human_gate_resolved", "PAUSE_BEFORE", d, "n") for d in decisions
    ]


@pytest.mark.parametrize(("policy", "gate"), [("PAUSE_BEFORE", "PAUSE_BEFORE"), ("CHECKPOINT", "CHECKPOINT")])
@pytest.mark.parametrize("again", ["approved", "edited"])
def test_reapproving_an_open_start_gate_records_nothing(
    run: Callable[..., Run], policy: str, gate: str, again: str
) -> None:
    r = run(one_step(policy))
    r.do(gates.resolve_gate, step_id="s1", gate=gate, decision="approved")
    before, trace = r.state, list(r.trace)
    out = r.do(gates.resolve_gate, step_id="s1", gate=gate, decision=again, note="again")
    assert out.events == []
    assert out.state is before
    assert r.trace == trace


def test_rejecting_an_approved_checkpoint_gate_is_recorded_and_leaves_it_open(run: Callable[..., Run]) -> None:
    """resolve_gate's description says so: only PAUSE_BEFORE and PAUSE_AFTER re-close (the reference's 6.3 table)."""
    r = run(one_step("CHECKPOINT"))
    r.do(gates.resolve_gate, step_id="s1", gate="CHECKPOINT", decision="approved")
    out = r.do(gates.resolve_gate, step_id="s1", gate="CHECKPOINT", decision="rejected")
    assert [(e["gate"], e["decision"]) for e in dumped(out)] == [("CHECKPOINT", "rejected")]
    assert r.state.gate_state["s1"].before == "approved"
    assert can_start_step(r.state, "s1") == {"ok": True}


def test_reapproving_an_open_pause_after_gate_records_nothing(run: Callable[..., Run]) -> None:
    r = run(chain("PAUSE_AFTER", "AUTO"))
    _to_status(r, "completed")
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="approved")
    before = r.state
    assert r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="approved").events == []
    assert r.state is before
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="rejected")
    assert r.state.gate_state["s1"].after == "pending"
    assert can_start_step(r.state, "s2")["reason"]["type"] == "predecessor_after_gate"


def test_resolve_keeps_checkpoints(run: Callable[..., Run]) -> None:
    r = run(one_step("CHECKPOINT"))
    _with_checkpoints(r, {"cp": "pending"})
    r.do(gates.resolve_gate, step_id="s1", gate="CHECKPOINT", decision="approved")
    assert _slots(r.state) == {"before": "approved", "after": "approved", "checkpoints": {"cp": "pending"}}


def test_resolve_gate_unknown_step(started: Callable[..., RunState], clock: CountingClock) -> None:
    call = lambda: gates.resolve_gate(started(), clock, step_id="ghost", gate="PAUSE_BEFORE", decision="approved")  # noqa: E731
    assert _code(call) is ErrorCode.UNKNOWN_STEP


@pytest.mark.parametrize(("gate", "decision"), [("AUTO", "approved"), ("PAUSE_BEFORE", "maybe"), ("PAUSE_BEFORE", "")])
@pytest.mark.parametrize("policy", ["PAUSE_BEFORE", "AUTO"])  # AUTO: the slot is open, so no "no-op" either
def test_resolve_gate_invalid_values_change_nothing(
    started: Callable[..., RunState], clock: CountingClock, gate: str, decision: str, policy: str
) -> None:
    state = started(one_step(policy))
    assert _code(lambda: gates.resolve_gate(state, clock, step_id="s1", gate=gate, decision=decision)) is (
        ErrorCode.INVALID_TRACE_EVENT
    )
    assert state.gate_state["s1"].before == ("pending" if policy == "PAUSE_BEFORE" else "approved")


def test_an_imported_closed_gate_on_an_auto_step_can_be_opened(run: Callable[..., Run]) -> None:
    """A run made by the reference can hold a rejected PAUSE_BEFORE on an AUTO step: it must not be stuck."""
    r = run(one_step("AUTO"))
    slots = r.state.gate_state["s1"].model_copy(update={"before": "pending"})
    r.state = r.state.evolve(gate_state={**r.state.gate_state, "s1": slots})
    assert can_start_step(r.state, "s1")["reason"]["gate"] == "PAUSE_BEFORE"
    _refused(r, gate="CHECKPOINT", decision="approved")
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_BEFORE", decision="approved")
    assert r.do(steps.begin_step, step_id="s1").result == {"ok": True}


# --- resolve_checkpoint (D27) --------------------------------------------------------------------


def _with_checkpoints(r: Run, checkpoints: dict[str, str]) -> None:
    """Named checkpoints as a run imported from the reference holds them (a rejection there makes one)."""
    slots = r.state.gate_state["s1"].model_copy(update={"checkpoints": checkpoints})
    r.state = r.state.evolve(gate_state={**r.state.gate_state, "s1": slots})


def test_resolve_checkpoint(run: Callable[..., Run]) -> None:
    r = run(one_step("AUTO"))
    _with_checkpoints(r, {"review-1": "pending", "other": "pending"})
    before = r.state
    out = r.do(
        gates.resolve_checkpoint, step_id="s1", checkpoint_id="review-1", decision="approved", correlation_id="c"
    )
    assert dumped(out) == [
        {
            "id": dumped(out)[0]["id"],
            "runId": before.run_id,
            "ts": dumped(out)[0]["ts"],
            "stepId": "s1",
            "correlationId": "c",
            "type": "human_gate_resolved",
            "gate": "CHECKPOINT",
            "decision": "approved",
            "note": "review-1",
        }
    ]
    assert _slots(r.state)["checkpoints"] == {"review-1": "approved", "other": "pending"}
    assert r.state.revision == before.revision + 1


def test_checkpoint_reapproval_records_nothing_and_rejection_reopens(run: Callable[..., Run]) -> None:
    r = run(one_step("AUTO"))
    _with_checkpoints(r, {"b": "approved"})
    before = r.state
    assert r.do(gates.resolve_checkpoint, step_id="s1", checkpoint_id="b", decision="approved").events == []
    assert r.state is before
    r.do(gates.resolve_checkpoint, step_id="s1", checkpoint_id="b", decision="rejected")
    assert r.state.gate_state["s1"].checkpoints == {"b": "pending"}
    assert r.state.gate_state["s1"].before == "approved"
    assert [e["decision"] for e in r.trace if e["type"] == "human_gate_resolved"] == ["rejected"]


def test_a_checkpoint_nothing_waits_for_is_refused(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "AUTO"))
    message = _refused(r, ErrorCode.UNKNOWN_CHECKPOINT, checkpoint_id="x", decision="approved")
    assert "next_actions" in message
    _refused(r, ErrorCode.UNKNOWN_CHECKPOINT, checkpoint_id="x", decision="rejected")


def test_resolve_checkpoint_names_the_call_that_opens_a_checkpoint_step(run: Callable[..., Run]) -> None:
    r = run(one_step("CHECKPOINT"))
    message = _refused(r, ErrorCode.UNKNOWN_CHECKPOINT, checkpoint_id="scope", decision="approved")
    assert 'resolve_gate(stepId="s1", gate="CHECKPOINT"' in message


def test_checkpoints_never_block(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "AUTO"))
    _with_checkpoints(r, {"x": "pending"})
    assert r.do(steps.begin_step, step_id="s1").result == {"ok": True}
    r.do(steps.complete_step, step_id="s1")
    assert can_start_step(r.state, "s2") == {"ok": True}


def test_resolve_checkpoint_unknown_step(started: Callable[..., RunState], clock: CountingClock) -> None:
    call = lambda: gates.resolve_checkpoint(started(), clock, step_id="ghost", checkpoint_id="c", decision="approved")  # noqa: E731
    assert _code(call) is ErrorCode.UNKNOWN_STEP


def test_gate_operations_leave_the_input_untouched(run: Callable[..., Run]) -> None:
    r = run(one_step("PAUSE_BEFORE"))
    _with_checkpoints(r, {"c": "pending"})
    state = r.state
    snapshot = dict(state.gate_state)
    gates.resolve_gate(state, r.clock, step_id="s1", gate="PAUSE_BEFORE", decision="approved")
    gates.resolve_checkpoint(state, r.clock, step_id="s1", checkpoint_id="c", decision="approved")
    assert dict(state.gate_state) == snapshot
    assert state.gate_state["s1"].checkpoints == {"c": "pending"}


def _gate_event(kind: str, step_id: str = "s1", gate: str = "PAUSE_BEFORE") -> dict[str, Any]:
    return {"type": f"human_gate_{kind}", "stepId": step_id, "gate": gate}


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ([], False),
        (["requested"], True),
        (["requested", "resolved"], False),
        (["requested", "resolved", "requested"], True),
        (["resolved"], False),
    ],
)
def test_a_request_counts_until_the_next_decision_of_that_gate(kinds: list[str], expected: bool) -> None:
    trace = [_gate_event(kind) for kind in kinds]
    trace += [_gate_event("requested", step_id="s2"), _gate_event("requested", gate="PAUSE_AFTER")]  # others
    assert gates.requested_since_decision(trace, "s1", "PAUSE_BEFORE") is expected
    # latest_decision is its converse: a decision counts until the next request.
    assert (gates.latest_decision(trace, "s1", "PAUSE_BEFORE") is not None) is (bool(kinds) and not expected)
