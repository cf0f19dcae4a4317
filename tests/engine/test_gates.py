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


# --- resolve_gate: the table of 6.3 --------------------------------------------------------------

PENDING = {"before": "pending", "after": "pending", "checkpoints": {}}


@pytest.mark.parametrize(
    ("gate", "decision", "expected"),
    [
        ("PAUSE_BEFORE", "approved", {"before": "approved", "after": "pending"}),
        ("PAUSE_BEFORE", "edited", {"before": "approved", "after": "pending"}),
        ("PAUSE_BEFORE", "rejected", {"before": "pending", "after": "pending"}),
        ("PAUSE_AFTER", "approved", {"before": "pending", "after": "approved"}),
        ("PAUSE_AFTER", "edited", {"before": "pending", "after": "approved"}),
        ("PAUSE_AFTER", "rejected", {"before": "pending", "after": "pending"}),
        ("CHECKPOINT", "approved", {"before": "approved", "after": "pending"}),
        ("CHECKPOINT", "edited", {"before": "approved", "after": "pending"}),
        ("CHECKPOINT", "rejected", {"before": "pending", "after": "pending"}),
    ],
)
def test_resolve_from_all_pending(run: Callable[..., Run], gate: str, decision: str, expected: dict[str, str]) -> None:
    r = run(chain("PAUSE_AFTER", "AUTO"))
    r.state = r.state.evolve(gate_state={**r.state.gate_state, "s1": r.state.gate_state["s1"].model_validate(PENDING)})
    out = r.do(gates.resolve_gate, step_id="s1", gate=gate, decision=decision, note="n")
    assert _slots(r.state) == {**expected, "checkpoints": {}}
    (event,) = dumped(out)
    assert {k: event[k] for k in ("type", "stepId", "gate", "decision", "note")} == {
        "type": "human_gate_resolved",
        "stepId": "s1",
        "gate": gate,
        "decision": decision,
        "note": "n",
    }


@pytest.mark.parametrize(
    ("gate", "decision", "expected"),
    [
        ("PAUSE_BEFORE", "rejected", {"before": "pending", "after": "approved"}),
        ("PAUSE_AFTER", "rejected", {"before": "approved", "after": "pending"}),
        ("CHECKPOINT", "rejected", {"before": "approved", "after": "approved"}),  # no change
        ("PAUSE_BEFORE", "approved", {"before": "approved", "after": "approved"}),
    ],
)
def test_resolve_from_all_approved(
    started: Callable[..., RunState], clock: CountingClock, gate: str, decision: str, expected: dict[str, str]
) -> None:
    state = started(one_step("AUTO"))
    out = gates.resolve_gate(state, clock, step_id="s1", gate=gate, decision=decision)
    assert _slots(out.state) == {**expected, "checkpoints": {}}
    assert "note" not in dumped(out)[0]
    assert out.state.revision == state.revision + 1


def test_resolve_keeps_checkpoints(run: Callable[..., Run]) -> None:
    r = run(one_step("CHECKPOINT"))
    r.do(gates.resolve_checkpoint, step_id="s1", checkpoint_id="cp", decision="approved")
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_BEFORE", decision="approved")
    assert _slots(r.state) == {"before": "approved", "after": "approved", "checkpoints": {"cp": "approved"}}


def test_resolve_gate_unknown_step(started: Callable[..., RunState], clock: CountingClock) -> None:
    call = lambda: gates.resolve_gate(started(), clock, step_id="ghost", gate="PAUSE_BEFORE", decision="approved")  # noqa: E731
    assert _code(call) is ErrorCode.UNKNOWN_STEP


@pytest.mark.parametrize(("gate", "decision"), [("AUTO", "approved"), ("PAUSE_BEFORE", "maybe"), ("PAUSE_BEFORE", "")])
def test_resolve_gate_invalid_values_change_nothing(
    started: Callable[..., RunState], clock: CountingClock, gate: str, decision: str
) -> None:
    state = started(one_step("PAUSE_BEFORE"))
    assert _code(lambda: gates.resolve_gate(state, clock, step_id="s1", gate=gate, decision=decision)) is (
        ErrorCode.INVALID_TRACE_EVENT
    )
    assert state.gate_state["s1"].before == "pending"


def test_no_prior_request_is_needed_and_policy_is_not_consulted(
    started: Callable[..., RunState], clock: CountingClock
) -> None:
    state = started(one_step("AUTO"))
    out = gates.resolve_gate(state, clock, step_id="s1", gate="CHECKPOINT", decision="approved")
    assert _slots(out.state)["before"] == "approved"


def test_approving_pause_after_before_completion_is_useless(run: Callable[..., Run]) -> None:
    r = run(chain("PAUSE_AFTER", "AUTO"))
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="approved")
    r.do(steps.begin_step, step_id="s1")
    r.do(steps.complete_step, step_id="s1")
    assert can_start_step(r.state, "s2") == {
        "ok": False,
        "reason": {"type": "predecessor_after_gate", "stepId": "s2", "waitingOn": "s1"},
    }
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="edited")
    assert can_start_step(r.state, "s2") == {"ok": True}


def test_rejecting_pause_after_recloses_the_gate(run: Callable[..., Run]) -> None:
    r = run(chain("CHECKPOINT", "AUTO"))
    r.do(gates.resolve_gate, step_id="s1", gate="CHECKPOINT", decision="approved")
    r.do(steps.begin_step, step_id="s1")
    r.do(steps.complete_step, step_id="s1")
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="approved")
    assert can_start_step(r.state, "s2") == {"ok": True}
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="rejected")
    assert can_start_step(r.state, "s2")["reason"]["type"] == "predecessor_after_gate"


def test_rejecting_pause_before_on_auto_blocks_until_approved(run: Callable[..., Run]) -> None:
    r = run(one_step("AUTO"))
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_BEFORE", decision="rejected")
    assert r.do(steps.begin_step, step_id="s1").result["ok"] is False
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_BEFORE", decision="approved")
    assert r.do(steps.begin_step, step_id="s1").result == {"ok": True}


def test_rejecting_pause_after_on_auto_does_not_block_successors(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "AUTO"))
    r.do(steps.begin_step, step_id="s1")
    r.do(steps.complete_step, step_id="s1")
    r.do(gates.resolve_gate, step_id="s1", gate="PAUSE_AFTER", decision="rejected")
    assert r.state.gate_state["s1"].after == "pending"
    assert can_start_step(r.state, "s2") == {"ok": True}


# --- resolve_checkpoint --------------------------------------------------------------------------


def test_resolve_checkpoint(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(one_step("AUTO"))
    out = gates.resolve_checkpoint(
        state, clock, step_id="s1", checkpoint_id="review-1", decision="approved", correlation_id="c"
    )
    assert dumped(out) == [
        {
            "id": dumped(out)[0]["id"],
            "runId": state.run_id,
            "ts": dumped(out)[0]["ts"],
            "stepId": "s1",
            "correlationId": "c",
            "type": "human_gate_resolved",
            "gate": "CHECKPOINT",
            "decision": "approved",
            "note": "review-1",
        }
    ]
    assert _slots(out.state) == {"before": "approved", "after": "approved", "checkpoints": {"review-1": "approved"}}


def test_checkpoint_rejection_and_map_order(run: Callable[..., Run]) -> None:
    r = run(one_step("CHECKPOINT"))
    r.do(gates.resolve_checkpoint, step_id="s1", checkpoint_id="b", decision="approved")
    r.do(gates.resolve_checkpoint, step_id="s1", checkpoint_id="a", decision="rejected")
    r.do(gates.resolve_checkpoint, step_id="s1", checkpoint_id="b", decision="rejected")
    assert list(r.state.gate_state["s1"].checkpoints.items()) == [("b", "pending"), ("a", "pending")]
    assert r.state.gate_state["s1"].before == "pending"  # checkpoints never open the step itself
    assert [e["decision"] for e in r.trace] == ["approved", "rejected", "rejected"]


def test_checkpoints_never_block(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "AUTO"))
    r.do(gates.resolve_checkpoint, step_id="s1", checkpoint_id="x", decision="rejected")
    assert r.do(steps.begin_step, step_id="s1").result == {"ok": True}
    r.do(steps.complete_step, step_id="s1")
    assert can_start_step(r.state, "s2") == {"ok": True}


def test_resolve_checkpoint_unknown_step(started: Callable[..., RunState], clock: CountingClock) -> None:
    call = lambda: gates.resolve_checkpoint(started(), clock, step_id="ghost", checkpoint_id="c", decision="approved")  # noqa: E731
    assert _code(call) is ErrorCode.UNKNOWN_STEP


def test_gate_operations_leave_the_input_untouched(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(one_step("PAUSE_BEFORE"))
    snapshot = dict(state.gate_state)
    gates.resolve_gate(state, clock, step_id="s1", gate="PAUSE_BEFORE", decision="approved")
    gates.resolve_checkpoint(state, clock, step_id="s1", checkpoint_id="c", decision="approved")
    assert dict(state.gate_state) == snapshot
    assert state.gate_state["s1"].checkpoints == {}
