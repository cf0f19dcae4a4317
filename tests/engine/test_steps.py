"""Step execution (6.5): begin, complete, fail (incl. fail-fast, D4, and unknown steps, D5)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.clocks import CountingClock
from tests.conftest import Run, chain, default_rule_set, dumped, edge, event_types, job_search, one_step, step, workflow
from workbench_mcp.engine import gates, lifecycle, steps
from workbench_mcp.engine.readiness import can_start_step
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError

REVIEW = "Review outputs before downstream steps proceed"


def _code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(WorkbenchError) as info:
        call()
    return info.value.code


# --- begin_step ----------------------------------------------------------------------------------


def test_begin_ready_step(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(one_step())
    out = steps.begin_step(state, clock, step_id="s1", correlation_id="c")
    assert out.result == {"ok": True}
    assert dumped(out) == [
        {
            "id": dumped(out)[0]["id"],
            "runId": state.run_id,
            "ts": dumped(out)[0]["ts"],
            "stepId": "s1",
            "correlationId": "c",
            "type": "step_started",
        }
    ]
    assert out.state.step_status["s1"] == "running"
    assert out.state.revision == state.revision + 1
    assert state.step_status["s1"] == "pending"  # the input is untouched


@pytest.mark.parametrize("policy", ["PAUSE_BEFORE", "CHECKPOINT"])
def test_begin_blocked_step_is_a_result_not_an_error(
    started: Callable[..., RunState], clock: CountingClock, policy: str
) -> None:
    state = started(one_step(policy))
    out = steps.begin_step(state, clock, step_id="s1")
    # The gate is named after the policy: the reference says PAUSE_BEFORE for a CHECKPOINT step (D26).
    assert out.result == {"ok": False, "reason": {"type": "gate", "stepId": "s1", "gate": policy}}
    assert out.events == []
    assert out.state is state


def test_begin_running_step_reports_not_pending(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = steps.begin_step(started(), clock, step_id="s1").state
    out = steps.begin_step(state, clock, step_id="s1")
    assert out.result == {"ok": False, "reason": {"type": "not_pending", "stepId": "s1", "status": "running"}}
    assert out.state is state


def test_begin_unknown_step(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    assert _code(lambda: steps.begin_step(state, clock, step_id="ghost")) is ErrorCode.UNKNOWN_STEP


def test_begin_waits_for_predecessors(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(chain("AUTO", "AUTO"))
    out = steps.begin_step(state, clock, step_id="s2")
    assert out.result == {"ok": False, "reason": {"type": "predecessor", "stepId": "s2", "waitingOn": ["s1"]}}


def test_steps_without_edges_run_in_parallel(run: Callable[..., Run]) -> None:
    r = run(workflow([step("a"), step("b")]))
    r.do(steps.begin_step, step_id="a")
    r.do(steps.begin_step, step_id="b")
    assert dict(r.state.step_status) == {"a": "running", "b": "running"}


# --- complete_step -------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["AUTO", "PAUSE_BEFORE"])
def test_complete_without_after_gate(run: Callable[..., Run], policy: str) -> None:
    r = run(one_step(policy))
    r.do(gates.record_gate_decision, step_id="s1", gate="PAUSE_BEFORE", decision="approved")
    r.do(steps.begin_step, step_id="s1")
    before = r.state
    out = r.do(steps.complete_step, step_id="s1", correlation_id="c")
    assert dumped(out) == [
        {
            "id": dumped(out)[0]["id"],
            "runId": before.run_id,
            "ts": dumped(out)[0]["ts"],
            "stepId": "s1",
            "correlationId": "c",
            "type": "step_completed",
            "ok": True,
        }
    ]
    assert r.state.step_status["s1"] == "completed"
    assert r.state.gate_state["s1"] == before.gate_state["s1"]
    assert r.state.revision == before.revision + 1
    assert out.result is None


@pytest.mark.parametrize("policy", ["PAUSE_AFTER", "CHECKPOINT"])
def test_complete_with_after_gate_requests_review_first(run: Callable[..., Run], policy: str) -> None:
    r = run(one_step(policy))
    r.do(gates.record_gate_decision, step_id="s1", gate="PAUSE_AFTER", decision="approved")  # useless before completion
    r.do(
        gates.record_gate_decision,
        step_id="s1",
        gate=policy if policy == "CHECKPOINT" else "PAUSE_BEFORE",
        decision="approved",
    )
    r.do(steps.begin_step, step_id="s1")
    before = r.state
    out = r.do(steps.complete_step, step_id="s1")
    assert event_types(out) == ["human_gate_requested", "step_completed"]
    request = dumped(out)[0]
    assert request == {
        "id": request["id"],
        "runId": before.run_id,
        "ts": request["ts"],
        "stepId": "s1",
        "type": "human_gate_requested",
        "gate": "PAUSE_AFTER",
        "reason": REVIEW,
    }
    assert r.state.gate_state["s1"].after == "pending"
    assert r.state.revision == before.revision + 2


def test_complete_unknown_step(started: Callable[..., RunState], clock: CountingClock) -> None:
    assert _code(lambda: steps.complete_step(started(), clock, step_id="ghost")) is ErrorCode.UNKNOWN_STEP


@pytest.mark.parametrize("prior", ["pending", "completed", "failed"])
def test_complete_requires_running(run: Callable[..., Run], prior: str) -> None:
    r = run(one_step())
    if prior == "completed":
        r.do(steps.begin_step, step_id="s1")
        r.do(steps.complete_step, step_id="s1")
    elif prior == "failed":
        r.do(steps.fail_step, step_id="s1", message="x")
    assert _code(lambda: steps.complete_step(r.state, r.clock, step_id="s1")) is ErrorCode.INVALID_STATE_TRANSITION


# --- fail_step -----------------------------------------------------------------------------------


@pytest.mark.parametrize("running", [False, True])
def test_fail_pending_or_running_step(run: Callable[..., Run], running: bool) -> None:
    r = run(one_step())
    if running:
        r.do(steps.begin_step, step_id="s1")
    before = r.state
    out = r.do(steps.fail_step, step_id="s1", message="bad", code="E42", correlation_id="c")
    completed, error = dumped(out)
    assert completed == {
        "id": completed["id"],
        "runId": before.run_id,
        "ts": completed["ts"],
        "stepId": "s1",
        "correlationId": "c",
        "type": "step_completed",
        "ok": False,
        "error": {"message": "bad", "code": "E42"},
    }
    assert error == {
        "id": error["id"],
        "runId": before.run_id,
        "ts": error["ts"],
        "stepId": "s1",
        "correlationId": "c",
        "type": "error",
        "message": "bad",
        "code": "E42",
        "fatal": False,
    }
    assert r.state.step_status["s1"] == "failed"
    assert r.state.run.status == "running"
    assert r.state.revision == before.revision + 2


def test_fail_without_code_omits_it_but_keeps_fatal(started: Callable[..., RunState], clock: CountingClock) -> None:
    completed, error = dumped(steps.fail_step(started(), clock, step_id="s1", message="bad"))
    assert completed["error"] == {"message": "bad"}
    assert "code" not in error
    assert error["fatal"] is False


@pytest.mark.parametrize("prior", ["completed", "failed"])
def test_fail_terminal_step(run: Callable[..., Run], prior: str) -> None:
    r = run(one_step())
    if prior == "completed":
        r.do(steps.begin_step, step_id="s1")
        r.do(steps.complete_step, step_id="s1")
    else:
        r.do(steps.fail_step, step_id="s1", message="x")
    assert (
        _code(lambda: steps.fail_step(r.state, r.clock, step_id="s1", message="y"))
        is ErrorCode.INVALID_STATE_TRANSITION
    )


def test_fail_unknown_step_d5(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    assert _code(lambda: steps.fail_step(state, clock, step_id="ghost", message="x")) is ErrorCode.UNKNOWN_STEP
    assert (
        _code(lambda: steps.fail_step(state, clock, step_id="ghost", message="x", fail_fast=True))
        is ErrorCode.UNKNOWN_STEP
    )


def test_fail_fast_fails_the_run(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "AUTO"))
    r.do(steps.begin_step, step_id="s1")
    before = r.state
    out = r.do(steps.fail_step, step_id="s1", message="bad", code="E1", fail_fast=True)
    assert event_types(out) == ["step_completed", "error", "run_status_changed", "error"]
    events = dumped(out)
    assert events[1]["fatal"] is True
    assert events[1]["stepId"] == "s1"
    assert events[2]["status"] == "failed"
    assert events[2]["reason"] == "bad"
    assert events[3] == {
        "id": events[3]["id"],
        "runId": before.run_id,
        "ts": r.state.run.ended_at,
        "type": "error",
        "message": "bad",
        "code": "E1",
        "fatal": True,
    }
    assert r.state.run.status == "failed"
    assert r.state.step_status["s1"] == "failed"
    assert r.state.revision == before.revision + 4


def test_fail_fast_with_another_step_running_changes_nothing_d4(run: Callable[..., Run]) -> None:
    r = run(workflow([step("a"), step("b")]))
    r.do(steps.begin_step, step_id="a")
    r.do(steps.begin_step, step_id="b")
    before = r.state
    assert _code(lambda: steps.fail_step(before, r.clock, step_id="a", message="x", fail_fast=True)) is (
        ErrorCode.INVALID_STATE_TRANSITION
    )
    # The refused call left no trace: the same state still lets `a` complete or fail normally.
    assert before.step_status["a"] == "running"
    out = steps.fail_step(before, r.clock, step_id="a", message="x")
    assert out.state.revision == before.revision + 2
    completed = steps.complete_step(before, r.clock, step_id="a")
    assert completed.state.step_status["a"] == "completed"


def test_fail_fast_of_a_pending_step_while_another_runs_is_refused_d4(run: Callable[..., Run]) -> None:
    r = run(workflow([step("a"), step("b")]))
    r.do(steps.begin_step, step_id="b")
    assert _code(lambda: steps.fail_step(r.state, r.clock, step_id="a", message="x", fail_fast=True)) is (
        ErrorCode.INVALID_STATE_TRANSITION
    )
    assert r.state.step_status["a"] == "pending"


def test_a_failed_predecessor_blocks_forever(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "AUTO"))
    r.do(steps.fail_step, step_id="s1", message="x")
    out = r.do(steps.begin_step, step_id="s2")
    assert out.result == {"ok": False, "reason": {"type": "predecessor", "stepId": "s2", "waitingOn": ["s1"]}}
    assert steps.begin_step(r.state, r.clock, step_id="s1").result["reason"]["type"] == "not_pending"


def test_job_search_happy_path(run: Callable[..., Run]) -> None:
    r = run(job_search(), rule_sets=[default_rule_set()])
    r.do(gates.resolve_gate, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    for step_id in ("parser1", "jobSearcher"):
        assert r.do(steps.begin_step, step_id=step_id).result == {"ok": True}
        r.do(steps.complete_step, step_id=step_id)
    blocked = r.do(steps.begin_step, step_id="output")
    assert blocked.result["reason"] == {
        "type": "predecessor_after_gate",
        "stepId": "output",
        "waitingOn": "jobSearcher",
    }
    r.do(gates.resolve_gate, step_id="jobSearcher", gate="PAUSE_AFTER", decision="approved")
    r.do(steps.begin_step, step_id="output")
    r.do(steps.complete_step, step_id="output")
    r.do(lifecycle.complete_run)
    assert [e["type"] for e in r.trace] == [
        "rule_changed",
        "human_gate_resolved",
        "step_started",
        "step_completed",
        "step_started",
        "human_gate_requested",
        "step_completed",
        "human_gate_resolved",
        "step_started",
        "step_completed",
        "run_status_changed",
    ]
    assert r.state.revision == len(r.trace) == 11
    assert len({e["id"] for e in r.trace}) == 11
    assert can_start_step(r.state, "output")["reason"]["type"] == "not_pending"


def test_parallel_edges_duplicate_waiting_on(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(workflow([step("a"), step("b")], [edge("e1", "a", "b"), edge("e2", "a", "b")]))
    assert steps.begin_step(state, clock, step_id="b").result["reason"]["waitingOn"] == ["a", "a"]
