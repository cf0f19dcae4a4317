"""Starting runs (6.2) and terminal transitions (6.6), including D19 (terminal runs take no appends)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import MISSING

from tests.clocks import CountingClock
from tests.conftest import Run, chain, default_rule_set, dumped, event_types, job_search, one_step, step, workflow
from workbench_mcp.engine import gates, lifecycle, rules, steps, telemetry
from workbench_mcp.engine.lifecycle import InitialArtifact, StartRun, start_run
from workbench_mcp.engine.run_state import RunState, with_entry, without_entry
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.reference_workflow import JOB_SEARCH_WORKFLOW
from workbench_mcp.protocol.workflow import WorkflowSpec

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _refused(call: Callable[[], Any], code: ErrorCode) -> None:
    with pytest.raises(WorkbenchError) as info:
        call()
    assert info.value.code is code


# --- start_run (6.2) -----------------------------------------------------------------------------


def test_start_job_search_run(clock: CountingClock) -> None:
    out = start_run(clock, StartRun(workflow=job_search(), rule_sets=[default_rule_set()]))
    state = out.state
    run_id = out.result["runId"]
    assert out.result == {"runId": state.run_id}
    assert run_id.startswith("run_")
    assert UUID.match(run_id.removeprefix("run_"))
    assert state.run.workflow_snapshot.model_dump(mode="json") == JOB_SEARCH_WORKFLOW
    assert state.run.workflow_id == "jobSearchWorkflow"
    assert state.run.workflow_version == 1
    assert state.run.status == "running"
    assert state.run.ended_at is MISSING
    assert dict(state.step_status) == {"parser1": "pending", "jobSearcher": "pending", "output": "pending"}
    assert list(state.step_status) == ["parser1", "jobSearcher", "output"]
    assert {k: v.model_dump(mode="json") for k, v in state.gate_state.items()} == {
        "parser1": {"before": "pending", "after": "approved", "checkpoints": {}},
        "jobSearcher": {"before": "approved", "after": "approved", "checkpoints": {}},
        "output": {"before": "approved", "after": "approved", "checkpoints": {}},
    }
    assert event_types(out) == ["rule_changed"]
    assert dumped(out)[0] == {
        "id": dumped(out)[0]["id"],
        "runId": run_id,
        "ts": state.run.started_at,
        "type": "rule_changed",
        "ruleSetId": "default",
        "snapshot": default_rule_set(),
    }
    assert state.revision == 1
    assert dict(state.artifacts) == {}
    assert dict(state.idempotency) == {}
    assert dict(state.open_spans) == {}
    assert list(state.rule_sets) == ["default"]


def test_run_dump_has_reference_members_only(clock: CountingClock) -> None:
    state = start_run(clock, StartRun(workflow=one_step())).state
    assert list(state.run.model_dump(mode="json")) == [
        "id",
        "workflowId",
        "workflowVersion",
        "workflowSnapshot",
        "startedAt",
        "status",
    ]


def test_start_without_rule_sets_emits_nothing(clock: CountingClock) -> None:
    out = start_run(clock, StartRun(workflow=chain("PAUSE_BEFORE", "CHECKPOINT", "PAUSE_AFTER")))
    assert out.events == []
    assert out.state.revision == 0


def test_snapshot_is_normalized(clock: CountingClock) -> None:
    state = start_run(clock, StartRun(workflow={"id": "w", "version": 0, "steps": [{"id": "a", "x": 1}]})).state
    assert state.run.workflow_snapshot.model_dump(mode="json") == {
        "id": "w",
        "version": 0,
        "steps": [{"id": "a", "gatePolicy": "AUTO", "inputs": [], "outputs": []}],
        "edges": [],
    }


def test_start_accepts_a_parsed_workflow(clock: CountingClock) -> None:
    spec = WorkflowSpec.model_validate(one_step("CHECKPOINT"))
    state = start_run(clock, StartRun(workflow=spec)).state
    assert state.gate_state["s1"].before == "pending"


def test_initial_artifacts_then_rule_sets(clock: CountingClock) -> None:
    out = start_run(
        clock,
        StartRun(
            workflow=one_step(),
            rule_sets=[default_rule_set(), {"id": "b", "ruleSchemaId": "s", "rules": []}],
            initial_artifacts=[
                InitialArtifact("k", "t1", data={"v": 1}),
                InitialArtifact("j", "t", data=None, pointer={"kind": "inline"}),
                InitialArtifact("k", "t2", data={"v": 2}),  # same key: both version 1, the later one kept
                InitialArtifact("m", "t"),
            ],
        ),
    )
    started_at = out.state.run.started_at
    assert event_types(out) == ["artifact_written"] * 4 + ["rule_changed"] * 2
    events = dumped(out)
    assert all(e["ts"] == started_at for e in events)
    assert all("idempotencyKey" not in e for e in events)
    assert [e["artifact"] for e in events[:4]] == [
        {"artifactKey": "k", "typeId": "t1", "version": 1, "createdAt": started_at, "data": {"v": 1}},
        {
            "artifactKey": "j",
            "typeId": "t",
            "version": 1,
            "createdAt": started_at,
            "pointer": {"kind": "inline"},
            "data": None,
        },
        {"artifactKey": "k", "typeId": "t2", "version": 1, "createdAt": started_at, "data": {"v": 2}},
        {"artifactKey": "m", "typeId": "t", "version": 1, "createdAt": started_at},
    ]
    assert [e["ruleSetId"] for e in events[4:]] == ["default", "b"]
    assert list(out.state.artifacts) == ["k", "j", "m"]
    assert out.state.artifacts["k"].type_id == "t2"
    assert out.state.revision == 6
    assert len({e["id"] for e in events}) == 6


def test_duplicate_rule_set_ids_last_wins_but_both_are_recorded(clock: CountingClock) -> None:
    first = {"id": "x", "ruleSchemaId": "one", "rules": []}
    second = {"id": "x", "ruleSchemaId": "two", "rules": []}
    out = start_run(clock, StartRun(workflow=one_step(), rule_sets=[first, second]))
    assert out.state.rule_sets["x"].rule_schema_id == "two"
    assert [e["snapshot"]["ruleSchemaId"] for e in dumped(out)] == ["one", "two"]


def test_context_subject_metadata_tags_are_stored(clock: CountingClock) -> None:
    out = start_run(
        clock,
        StartRun(
            workflow=one_step(),
            context={"parentRunId": "run_p", "parentRunIds": ["run_p"], "forkedFromStepId": "s1", "x": 1},
            subject={"userId": "u", "tenantId": "t"},
            metadata={"any": [1, {"thing": None}]},
            tags=["a", "b"],
            correlation_id="corr",
            rule_sets=[default_rule_set()],
        ),
    )
    run = out.state.run.model_dump(mode="json")
    assert run["context"] == {"parentRunId": "run_p", "parentRunIds": ["run_p"], "forkedFromStepId": "s1"}
    assert run["subject"] == {"userId": "u", "tenantId": "t"}
    assert run["metadata"] == {"any": [1, {"thing": None}]}
    assert run["tags"] == ["a", "b"]
    assert list(run)[-4:] == ["context", "subject", "metadata", "tags"]
    assert dumped(out)[0]["correlationId"] == "corr"
    assert event_types(out) == ["rule_changed"]  # no run_forked even with a parent in the context


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (StartRun(workflow={"id": "w", "version": 1, "steps": []}), ErrorCode.INVALID_WORKFLOW),
        (StartRun(workflow="jobSearchWorkflow"), ErrorCode.INVALID_WORKFLOW),
        (StartRun(workflow=workflow([step("a"), step("a")])), ErrorCode.INVALID_WORKFLOW),
        (
            StartRun(workflow=chain("AUTO", "AUTO") | {"edges": [{"id": "e", "from": "s2", "to": "s2"}]}),
            ErrorCode.INVALID_WORKFLOW,
        ),
        (StartRun(workflow=one_step(), context={}), ErrorCode.INVALID_INPUT),
        (StartRun(workflow=one_step(), context={"parentRunId": "a", "parentRunIds": ["b"]}), ErrorCode.INVALID_INPUT),
        (StartRun(workflow=one_step(), subject={"userId": "u", "role": "admin"}), ErrorCode.INVALID_INPUT),
        (StartRun(workflow=one_step(), metadata=["not", "an", "object"]), ErrorCode.INVALID_INPUT),
        (StartRun(workflow=one_step(), metadata={"big": 2**53}), ErrorCode.UNSAFE_NUMBER),
        (StartRun(workflow=one_step(), tags=[1]), ErrorCode.INVALID_INPUT),  # type: ignore[list-item]
        (
            StartRun(workflow=one_step(), rule_sets=[{"id": "", "ruleSchemaId": "s", "rules": []}]),
            ErrorCode.INVALID_TRACE_EVENT,
        ),
        (StartRun(workflow=one_step(), rule_sets=[{"id": "x", "ruleSchemaId": "s"}]), ErrorCode.INVALID_TRACE_EVENT),
        (StartRun(workflow=one_step(), initial_artifacts=[InitialArtifact("", "t")]), ErrorCode.INVALID_TRACE_EVENT),
        (StartRun(workflow=one_step(), initial_artifacts=[InitialArtifact("k", "")]), ErrorCode.INVALID_TRACE_EVENT),
        (
            StartRun(workflow=one_step(), initial_artifacts=[InitialArtifact("k", "t", pointer={"kind": "external"})]),
            ErrorCode.INVALID_TRACE_EVENT,
        ),
        (
            StartRun(
                workflow=one_step(),
                initial_artifacts=[InitialArtifact("k", "t", pointer={"kind": "inline", "payloadHash": "ABC"})],
            ),
            ErrorCode.INVALID_TRACE_EVENT,
        ),
    ],
)
def test_start_errors(clock: CountingClock, command: StartRun, code: ErrorCode) -> None:
    _refused(lambda: start_run(clock, command), code)


def test_fresh_ids_per_run(clock: CountingClock) -> None:
    a = start_run(clock, StartRun(workflow=one_step())).state
    b = start_run(clock, StartRun(workflow=one_step())).state
    assert a.run_id != b.run_id


# --- terminal transitions (6.6) ------------------------------------------------------------------


def test_complete_run(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    out = lifecycle.complete_run(state, clock, reason="done", correlation_id="c")
    run = out.state.run
    assert run.status == "completed"
    assert isinstance(run.ended_at, str)
    assert dumped(out) == [
        {
            "id": dumped(out)[0]["id"],
            "runId": state.run_id,
            "ts": run.ended_at,
            "correlationId": "c",
            "type": "run_status_changed",
            "status": "completed",
            "reason": "done",
        }
    ]
    assert out.state.revision == state.revision + 1
    assert out.result == {"stepsNeverRun": ["s1"]}  # the reference says nothing (D19)


def test_complete_run_after_every_step_ran_or_was_skipped(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "AUTO"))
    r.do(steps.begin_step, step_id="s1")
    r.do(steps.complete_step, step_id="s1")
    r.do(steps.fail_step, step_id="s2", message="not needed")  # a deliberate skip
    assert r.do(lifecycle.complete_run).result is None  # as the reference's


def test_cancel_run_without_reason(started: Callable[..., RunState], clock: CountingClock) -> None:
    out = lifecycle.cancel_run(started(), clock)
    assert out.state.run.status == "cancelled"
    (event,) = dumped(out)
    assert event["status"] == "cancelled"
    assert "reason" not in event
    assert "correlationId" not in event
    assert event["ts"] == out.state.run.ended_at


def test_fail_run(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    out = lifecycle.fail_run(state, clock, message="boom", code="E1")
    ended_at = out.state.run.ended_at
    assert out.state.run.status == "failed"
    assert event_types(out) == ["run_status_changed", "error"]
    status_event, error_event = dumped(out)
    assert status_event == {
        "id": status_event["id"],
        "runId": state.run_id,
        "ts": ended_at,
        "type": "run_status_changed",
        "status": "failed",
        "reason": "boom",
    }
    assert error_event == {
        "id": error_event["id"],
        "runId": state.run_id,
        "ts": ended_at,
        "type": "error",
        "message": "boom",
        "code": "E1",
        "fatal": True,
    }
    assert out.state.revision == state.revision + 2


def test_fail_run_without_code(started: Callable[..., RunState], clock: CountingClock) -> None:
    out = lifecycle.fail_run(started(), clock, message="boom")
    assert "code" not in dumped(out)[1]


def test_ended_at_is_the_last_run_member_but_schema_ordered(
    started: Callable[..., RunState], clock: CountingClock
) -> None:
    run = lifecycle.complete_run(started(), clock).state.run.model_dump(mode="json")
    assert run["endedAt"] >= run["startedAt"]


@pytest.mark.parametrize("end", ["complete", "cancel", "fail"])
def test_pending_and_failed_steps_do_not_prevent_ending(run: Callable[..., Run], end: str) -> None:
    r = run(chain("AUTO", "AUTO", "AUTO"))
    r.do(steps.fail_step, step_id="s2", message="x")
    _end(r.state, r.clock, end)  # s1 and s3 pending, s2 failed


def _end(state: RunState, clock: CountingClock, end: str) -> Any:
    if end == "complete":
        return lifecycle.complete_run(state, clock)
    if end == "cancel":
        return lifecycle.cancel_run(state, clock)
    return lifecycle.fail_run(state, clock, message="m")


@pytest.mark.parametrize("end", ["complete", "cancel", "fail"])
def test_running_steps_prevent_ending(run: Callable[..., Run], end: str) -> None:
    r = run(workflow([step("a"), step("b"), step("c")]))
    r.do(steps.begin_step, step_id="a")
    r.do(steps.begin_step, step_id="c")
    before = r.state
    with pytest.raises(WorkbenchError) as info:
        _end(before, r.clock, end)
    assert info.value.code is ErrorCode.INVALID_STATE_TRANSITION
    assert "(a, c)" in info.value.message
    # nothing changed: the step can still complete, and then the run can end
    r.do(steps.complete_step, step_id="a")
    r.do(steps.complete_step, step_id="c")
    assert _end(r.state, r.clock, end).state.run.status != "running"


@pytest.mark.parametrize("first", ["complete", "cancel", "fail"])
@pytest.mark.parametrize("second", ["complete", "cancel", "fail"])
def test_no_way_back_from_a_terminal_status(
    started: Callable[..., RunState], clock: CountingClock, first: str, second: str
) -> None:
    ended = _end(started(), clock, first).state
    _refused(lambda: _end(ended, clock, second), ErrorCode.INVALID_STATE_TRANSITION)


def test_check_can_end_run(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    lifecycle.check_can_end_run(state, "completed")
    ended = lifecycle.cancel_run(state, clock).state
    _refused(lambda: lifecycle.check_can_end_run(ended, "failed"), ErrorCode.INVALID_STATE_TRANSITION)


def test_ending_closes_open_spans(run: Callable[..., Run]) -> None:
    r = run()
    r.do(telemetry.begin_span, name="work")
    assert len(r.state.open_spans) == 1
    r.do(lifecycle.complete_run)
    assert dict(r.state.open_spans) == {}


# --- terminal runs take no appends (6.1, D19) ----------------------------------------------------

MUTATIONS: dict[str, Callable[[RunState, CountingClock], Any]] = {
    "request_gate": lambda s, c: gates.request_gate(s, c, step_id="s1", gate="PAUSE_BEFORE"),
    "resolve_gate": lambda s, c: gates.resolve_gate(s, c, step_id="s1", gate="PAUSE_BEFORE", decision="rejected"),
    "resolve_checkpoint": lambda s, c: gates.record_checkpoint_decision(
        s, c, step_id="s1", checkpoint_id="c", decision="approved"
    ),
    "begin_step": lambda s, c: steps.begin_step(s, c, step_id="s1"),
    "complete_step": lambda s, c: steps.complete_step(s, c, step_id="s1"),
    "fail_step": lambda s, c: steps.fail_step(s, c, step_id="s1", message="m"),
    "log_model_io": lambda s, c: telemetry.log_model_io(s, c, direction="request"),
    "log_tool_call": lambda s, c: telemetry.log_tool_call(s, c, name="t"),
    "begin_span": lambda s, c: telemetry.begin_span(s, c, name="n"),
    "end_span": lambda s, c: telemetry.end_span(s, c, span_id=next(iter(s.open_spans), "span_x")),
    "annotate": lambda s, c: telemetry.annotate(s, c, text="t"),
    "fork_notice": lambda s, c: telemetry.fork_notice(s, c, parent_run_id="run_p"),
    "replace_rule_set": lambda s, c: rules.replace_rule_set(s, c, rule_set=default_rule_set()),
    "reorder_rules": lambda s, c: rules.reorder_rules(s, c, rule_set_id="default", ordered_rule_ids=["r2", "r1"]),
    "complete_run": lambda s, c: lifecycle.complete_run(s, c),
    "cancel_run": lambda s, c: lifecycle.cancel_run(s, c),
    "fail_run": lambda s, c: lifecycle.fail_run(s, c, message="m"),
}


@pytest.mark.parametrize("operation", sorted(MUTATIONS))
def test_every_mutation_works_on_a_running_run(
    started: Callable[..., RunState], clock: CountingClock, operation: str
) -> None:
    live = started(one_step("PAUSE_BEFORE"), rule_sets=[default_rule_set()])
    if operation in ("complete_step", "begin_step"):
        live = gates.resolve_gate(live, clock, step_id="s1", gate="PAUSE_BEFORE", decision="approved").state
    if operation == "complete_step":
        live = steps.begin_step(live, clock, step_id="s1").state
    if operation == "end_span":
        live = telemetry.begin_span(live, clock, name="n").state
    out = MUTATIONS[operation](live, clock)
    assert out.state.revision > live.revision


@pytest.mark.parametrize("end", ["complete", "cancel", "fail"])
@pytest.mark.parametrize("operation", sorted(MUTATIONS))
def test_terminal_runs_refuse_every_mutation(
    started: Callable[..., RunState], clock: CountingClock, end: str, operation: str
) -> None:
    live = started(one_step("PAUSE_BEFORE"), rule_sets=[default_rule_set()])
    if operation == "end_span":  # D19: even a span opened while the run was live cannot end afterwards
        live = telemetry.begin_span(live, clock, name="n").state
    ended = _end(live, clock, end).state
    if operation == "end_span":
        ended = ended.evolve(open_spans=live.open_spans)  # as if the span had survived the transition
    with pytest.raises(WorkbenchError) as info:
        MUTATIONS[operation](ended, clock)
    assert info.value.code is ErrorCode.INVALID_STATE_TRANSITION


def test_terminal_refusal_message_names_the_action(started: Callable[..., RunState], clock: CountingClock) -> None:
    ended = lifecycle.cancel_run(started(), clock).state
    with pytest.raises(WorkbenchError) as info:
        telemetry.log_model_io(ended, clock, direction="request")
    assert info.value.message == f"Cannot log model I/O: run {ended.run_id} is cancelled"


def test_workflow_snapshot_never_changes(run: Callable[..., Run]) -> None:
    r = run(job_search(), rule_sets=[default_rule_set()])
    snapshot = r.state.run.workflow_snapshot
    r.do(gates.resolve_gate, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    r.do(steps.begin_step, step_id="parser1")
    r.do(steps.complete_step, step_id="parser1")
    r.do(lifecycle.complete_run)
    assert r.state.run.workflow_snapshot == snapshot
    assert r.state.revision == len(r.trace)


# --- RunState plumbing ---------------------------------------------------------------------------


def test_run_state_is_frozen(started: Callable[..., RunState]) -> None:
    state = started()
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.revision = 5  # type: ignore[misc]


def test_with_entry_keeps_js_map_insertion_order() -> None:
    original = {"a": 1, "b": 2, "c": 3}
    updated = with_entry(original, "b", 20)
    assert list(updated.items()) == [("a", 1), ("b", 20), ("c", 3)]
    assert list(with_entry(updated, "d", 4)) == ["a", "b", "c", "d"]
    assert original == {"a": 1, "b": 2, "c": 3}  # a copy, never in place
    assert list(without_entry(updated, "a")) == ["b", "c"]
    assert without_entry(updated, "zzz") == updated
    assert list(original) == ["a", "b", "c"]
