"""Readiness (6.4) in its exact rule order, and next_actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.conftest import Run, chain, default_rule_set, edge, job_search, one_step, step, workflow
from workbench_mcp.engine import gates, lifecycle, steps
from workbench_mcp.engine.readiness import can_start_step, next_actions
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError


def _reason(state: RunState, step_id: str) -> dict[str, object]:
    verdict = can_start_step(state, step_id)
    assert verdict["ok"] is False
    reason: dict[str, object] = verdict["reason"]
    return reason


def test_ready(started: Callable[..., RunState]) -> None:
    assert can_start_step(started(one_step()), "s1") == {"ok": True}


def test_rule_1_not_pending_comes_first(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "PAUSE_BEFORE"))
    r.do(steps.begin_step, step_id="s1")
    assert _reason(r.state, "s1") == {"type": "not_pending", "stepId": "s1", "status": "running"}
    r.do(steps.complete_step, step_id="s1")
    assert _reason(r.state, "s1") == {"type": "not_pending", "stepId": "s1", "status": "completed"}
    r.do(steps.fail_step, step_id="s2", message="x")
    assert _reason(r.state, "s2") == {"type": "not_pending", "stepId": "s2", "status": "failed"}


def test_rule_2_unknown_step(started: Callable[..., RunState]) -> None:
    with pytest.raises(WorkbenchError) as info:
        can_start_step(started(), "ghost")
    assert info.value.code is ErrorCode.UNKNOWN_STEP


@pytest.mark.parametrize("policy", ["PAUSE_BEFORE", "CHECKPOINT"])
def test_rule_3_gate_before_predecessors(started: Callable[..., RunState], policy: str) -> None:
    state = started(chain("AUTO", policy))
    assert _reason(state, "s2") == {"type": "gate", "stepId": "s2", "gate": policy}  # the policy's name (D26)


def test_rule_3_missing_gate_state_blocks(started: Callable[..., RunState]) -> None:
    state = started(one_step())
    state = state.evolve(gate_state={})
    assert _reason(state, "s1") == {"type": "gate", "stepId": "s1", "gate": "PAUSE_BEFORE"}


def test_rule_4_predecessors_in_edge_order(run: Callable[..., Run]) -> None:
    r = run(
        workflow(
            [step("a"), step("b"), step("c"), step("d")],
            [edge("e1", "c", "d"), edge("e2", "a", "d"), edge("e3", "b", "d"), edge("e4", "c", "d")],
        )
    )
    assert _reason(r.state, "d") == {"type": "predecessor", "stepId": "d", "waitingOn": ["c", "a", "b", "c"]}
    r.do(steps.begin_step, step_id="a")
    r.do(steps.complete_step, step_id="a")
    r.do(steps.begin_step, step_id="b")  # running is not completed
    assert _reason(r.state, "d")["waitingOn"] == ["c", "b", "c"]


def test_rule_4_comes_before_rule_5(run: Callable[..., Run]) -> None:
    r = run(workflow([step("p", "PAUSE_AFTER"), step("q"), step("x")], [edge("e1", "p", "x"), edge("e2", "q", "x")]))
    r.do(steps.begin_step, step_id="p")
    r.do(steps.complete_step, step_id="p")  # after pending
    assert _reason(r.state, "x") == {"type": "predecessor", "stepId": "x", "waitingOn": ["q"]}


def test_rule_5_first_unapproved_after_gate_in_edge_order(run: Callable[..., Run]) -> None:
    r = run(
        workflow(
            [step("auto"), step("pa", "PAUSE_AFTER"), step("cp", "CHECKPOINT"), step("x")],
            [edge("e1", "auto", "x"), edge("e2", "cp", "x"), edge("e3", "pa", "x")],
        )
    )
    r.do(gates.resolve_gate, step_id="cp", gate="CHECKPOINT", decision="approved")
    for step_id in ("auto", "pa", "cp"):
        r.do(steps.begin_step, step_id=step_id)
        r.do(steps.complete_step, step_id=step_id)
    r.do(gates.record_gate_decision, step_id="auto", gate="PAUSE_AFTER", decision="rejected")  # AUTO: ignored
    assert _reason(r.state, "x") == {"type": "predecessor_after_gate", "stepId": "x", "waitingOn": "cp"}
    r.do(gates.resolve_gate, step_id="cp", gate="PAUSE_AFTER", decision="approved")
    assert _reason(r.state, "x") == {"type": "predecessor_after_gate", "stepId": "x", "waitingOn": "pa"}
    r.do(gates.resolve_gate, step_id="pa", gate="PAUSE_AFTER", decision="approved")
    assert can_start_step(r.state, "x") == {"ok": True}


def test_readiness_does_not_require_a_running_run(run: Callable[..., Run]) -> None:
    r = run(one_step())
    r.do(lifecycle.cancel_run)
    assert can_start_step(r.state, "s1") == {"ok": True}


# --- next_actions --------------------------------------------------------------------------------


def test_next_actions_fresh_job_search(started: Callable[..., RunState]) -> None:
    state = started(job_search(), rule_sets=[default_rule_set()])
    assert next_actions(state).to_json() == {
        "runId": state.run_id,
        "status": "running",
        "pendingGates": [{"stepId": "parser1", "gate": "PAUSE_BEFORE"}],
        "readySteps": [],
        "runningSteps": [],
        "blockedSteps": [
            {"type": "gate", "stepId": "parser1", "gate": "PAUSE_BEFORE"},
            {"type": "predecessor", "stepId": "jobSearcher", "waitingOn": ["parser1"]},
            {"type": "predecessor", "stepId": "output", "waitingOn": ["jobSearcher"]},
        ],
        "canCompleteRun": False,  # no step ran yet (D19)
    }


def test_next_actions_through_a_run(run: Callable[..., Run]) -> None:
    r = run(job_search(), rule_sets=[default_rule_set()])
    r.do(gates.resolve_gate, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    actions = next_actions(r.state)
    assert actions.ready_steps == ["parser1"]
    assert actions.pending_gates == []
    r.do(steps.begin_step, step_id="parser1")
    actions = next_actions(r.state)
    assert actions.running_steps == ["parser1"]
    assert actions.can_complete_run is False
    r.do(steps.complete_step, step_id="parser1")
    r.do(steps.begin_step, step_id="jobSearcher")
    r.do(steps.complete_step, step_id="jobSearcher")
    r.do(
        gates.record_checkpoint_decision, step_id="output", checkpoint_id="cp", decision="rejected"
    )  # as the reference
    actions = next_actions(r.state)
    assert actions.pending_gates == [
        {"stepId": "jobSearcher", "gate": "PAUSE_AFTER"},
        {"stepId": "output", "gate": "CHECKPOINT", "checkpointId": "cp"},
    ]
    assert actions.blocked_steps == [{"type": "predecessor_after_gate", "stepId": "output", "waitingOn": "jobSearcher"}]
    assert actions.ready_steps == []


def test_next_actions_checkpoint_policy_reports_checkpoint_gate(started: Callable[..., RunState]) -> None:
    actions = next_actions(started(one_step("CHECKPOINT")))
    assert actions.pending_gates == [{"stepId": "s1", "gate": "CHECKPOINT"}]


@pytest.mark.parametrize("end", [lifecycle.cancel_run, lifecycle.complete_run])
def test_next_actions_of_a_terminal_run_shows_nothing_to_do(run: Callable[..., Run], end: Any) -> None:
    r = run(job_search(), rule_sets=[default_rule_set()])
    r.do(end)
    assert next_actions(r.state).to_json() == {
        "runId": r.state.run_id,
        "status": r.state.run.status,
        "pendingGates": [],
        "readySteps": [],
        "runningSteps": [],
        "blockedSteps": [],
        "canCompleteRun": False,
    }


def test_can_complete_run_only_when_every_step_ran_or_was_skipped(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "PAUSE_AFTER", "AUTO"))
    assert next_actions(r.state).can_complete_run is False
    r.do(steps.begin_step, step_id="s1")
    r.do(steps.complete_step, step_id="s1")
    r.do(steps.begin_step, step_id="s2")
    assert next_actions(r.state).can_complete_run is False  # s2 running, s3 pending
    r.do(steps.complete_step, step_id="s2")
    assert next_actions(r.state).can_complete_run is False  # s3 never ran
    r.do(steps.fail_step, step_id="s3", message="skipped: nothing to ship")
    actions = next_actions(r.state)
    assert actions.can_complete_run is True
    assert actions.pending_gates == [{"stepId": "s2", "gate": "PAUSE_AFTER"}]  # it only holds successors back


def test_pending_gates_are_exactly_what_resolve_gate_accepts(run: Callable[..., Run]) -> None:
    """An AUTO step's `after` slot can be pending (a reference-made run): nothing waits on it, so it is not listed."""
    r = run(chain("AUTO", "AUTO"))
    r.do(steps.begin_step, step_id="s1")
    r.do(steps.complete_step, step_id="s1")
    r.do(gates.record_gate_decision, step_id="s1", gate="PAUSE_AFTER", decision="rejected")
    assert next_actions(r.state).pending_gates == []


def test_next_actions_has_no_side_effects(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(chain("AUTO", "AUTO"))
    before = (clock.ticks, clock.uuids, state.revision)
    next_actions(state)
    assert (clock.ticks, clock.uuids, state.revision) == before
