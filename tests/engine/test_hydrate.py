"""Between RunState + trace and the wire forms: serialized states (4.2) and bundles (5.6, D11)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Run, chain, default_rule_set, edge, job_search, one_step, step, workflow
from workbench_mcp.engine import artifacts, gates, steps, telemetry
from workbench_mcp.engine.export import export_bundle
from workbench_mcp.engine.hydrate import from_bundle, from_serialized, open_spans_in, to_serialized
from workbench_mcp.engine.run_state import IdempotencyEntry, RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.bundle import validate_bundle
from workbench_mcp.protocol.serialized_run import read_serialized_run
from workbench_mcp.protocol.trace_events import SpanEnded


def _busy_run(run: Callable[..., Run]) -> Run:
    """A run that touched every kind of state: statuses, gates, checkpoints, artifacts, rules, spans."""
    r = run(job_search(), rule_sets=[default_rule_set()])
    r.do(gates.resolve_gate, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    r.do(steps.begin_step, step_id="parser1")
    r.do(
        artifacts.write_artifact,
        artifact_key="compiledProfile",
        type_id="compiledProfile",
        data={"a": 1},
        idempotency_key="i1",
    )
    r.do(
        artifacts.patch_artifact,
        artifact_key="compiledProfile",
        patch=[{"op": "add", "path": "/b", "value": 2}],
        idempotency_key="i2",
    )
    r.do(artifacts.write_artifact, artifact_key="notes", type_id="text", data=None)
    r.do(steps.complete_step, step_id="parser1")
    r.do(gates.record_checkpoint_decision, step_id="output", checkpoint_id="cp", decision="rejected")
    r.do(steps.begin_step, step_id="jobSearcher")
    r.do(telemetry.begin_span, name="search", step_id="jobSearcher", correlation_id="c")
    r.do(telemetry.log_model_io, direction="request", step_id="jobSearcher", payload={"p": 1}, detail="full")
    return r


def _round_trip(state: RunState, trace: list[dict[str, Any]]) -> tuple[RunState, list[dict[str, Any]]]:
    return from_serialized(read_serialized_run(copy.deepcopy(to_serialized(state, trace))))


# --- to_serialized / from_serialized (4.2) -------------------------------------------------------


def test_serialized_shape(run: Callable[..., Run]) -> None:
    r = _busy_run(run)
    serialized = to_serialized(r.state, r.trace)
    assert list(serialized) == [
        "revision",
        "run",
        "trace",
        "artifactsByKey",
        "ruleSetsById",
        "stepStatus",
        "gateState",
        "idempotency",
    ]
    assert serialized["revision"] == len(r.trace) == r.state.revision
    assert serialized["trace"] == r.trace
    assert serialized["stepStatus"] == [["parser1", "completed"], ["jobSearcher", "running"], ["output", "pending"]]
    assert serialized["gateState"] == [
        ["parser1", {"before": "approved", "after": "approved", "checkpoints": {}}],
        ["jobSearcher", {"before": "approved", "after": "approved", "checkpoints": {}}],
        ["output", {"before": "approved", "after": "approved", "checkpoints": {"cp": "pending"}}],
    ]
    assert [k for k, _ in serialized["artifactsByKey"]] == ["compiledProfile", "notes"]
    assert serialized["artifactsByKey"][0][1]["version"] == 2
    assert serialized["artifactsByKey"][1][1]["data"] is None
    assert serialized["ruleSetsById"] == [["default", default_rule_set()]]
    assert serialized["idempotency"] == [
        ["i1", {"artifactKey": "compiledProfile", "version": 1}],
        ["i2", {"artifactKey": "compiledProfile", "version": 2}],
    ]


def test_serialized_round_trip(run: Callable[..., Run]) -> None:
    r = _busy_run(run)
    state, trace = _round_trip(r.state, r.trace)
    assert to_serialized(state, trace) == to_serialized(r.state, r.trace)
    assert state.step_status == r.state.step_status
    assert state.gate_state == r.state.gate_state
    assert state.artifacts == r.state.artifacts
    assert state.rule_sets == r.state.rule_sets
    assert list(state.open_spans) == list(r.state.open_spans)
    # Only the digests stay behind: the wire form has no member for them.
    assert state.idempotency == {
        "i1": IdempotencyEntry("compiledProfile", 1),
        "i2": IdempotencyEntry("compiledProfile", 2),
    }


def test_a_loaded_state_keeps_working(run: Callable[..., Run]) -> None:
    r = _busy_run(run)
    state, trace = _round_trip(r.state, r.trace)
    span_id = next(iter(state.open_spans))
    ended = telemetry.end_span(state, r.clock, span_id=span_id)
    (event,) = ended.events
    assert isinstance(event, SpanEnded)
    assert event.step_id == "jobSearcher"
    assert event.correlation_id == "c"
    assert isinstance(event.duration_ms, int | float)
    assert event.duration_ms >= 0
    done = steps.complete_step(ended.state, r.clock, step_id="jobSearcher")
    assert done.state.gate_state["jobSearcher"].after == "pending"
    assert done.state.revision == len(trace) + 3


def test_from_serialized_runs_the_invariants(run: Callable[..., Run]) -> None:
    r = _busy_run(run)
    serialized = to_serialized(r.state, r.trace)
    serialized["stepStatus"].append(["ghost", "pending"])
    with pytest.raises(WorkbenchError) as info:
        from_serialized(read_serialized_run(serialized))
    assert info.value.code is ErrorCode.INVALID_RUN_STATE


def test_replayed_keys_after_load_have_no_digest(run: Callable[..., Run]) -> None:
    # Records from the wire form carry no payload digest, so they replay by key alone (as the reference).
    r = _busy_run(run)
    state, _ = _round_trip(r.state, r.trace)
    out = artifacts.patch_artifact(state, r.clock, artifact_key="compiledProfile", patch=[], idempotency_key="i2")
    assert out.events == []
    assert out.result.version == 2


# --- from_bundle (5.6) ---------------------------------------------------------------------------


def _bundle_of(r: Run, *, engine: bool) -> dict[str, Any]:
    return validate_bundle(export_bundle(r.state, r.trace, include_engine=engine))


def test_from_bundle_with_engine(run: Callable[..., Run]) -> None:
    r = _busy_run(run)
    state, trace = from_bundle(_bundle_of(r, engine=True))
    assert to_serialized(state, trace) == to_serialized(r.state, r.trace)


def test_from_bundle_without_engine_replays_the_live_rules(run: Callable[..., Run]) -> None:
    r = _busy_run(run)
    state, trace = from_bundle(_bundle_of(r, engine=False))
    assert state.revision == len(trace)
    assert state.step_status == r.state.step_status
    assert state.gate_state == r.state.gate_state
    assert state.idempotency == {
        "i1": IdempotencyEntry("compiledProfile", 1),
        "i2": IdempotencyEntry("compiledProfile", 2),
    }
    assert list(state.open_spans) == list(r.state.open_spans)


def test_replay_honours_rejections_d11(run: Callable[..., Run]) -> None:
    r = run(workflow([step("pb", "PAUSE_BEFORE"), step("pa", "PAUSE_AFTER"), step("x")], [edge("e", "pa", "x")]))
    r.do(gates.resolve_gate, step_id="pb", gate="PAUSE_BEFORE", decision="approved")
    r.do(gates.resolve_gate, step_id="pb", gate="PAUSE_BEFORE", decision="rejected")
    r.do(steps.begin_step, step_id="pa")
    r.do(steps.complete_step, step_id="pa")
    r.do(gates.resolve_gate, step_id="pa", gate="PAUSE_AFTER", decision="approved")
    r.do(gates.resolve_gate, step_id="pa", gate="PAUSE_AFTER", decision="rejected")
    state, _ = from_bundle(_bundle_of(r, engine=False))
    assert state.gate_state["pb"].before == "pending"  # the reference's inference says approved
    assert state.gate_state["pa"].after == "pending"
    assert state.gate_state == r.state.gate_state


def test_replay_of_checkpoints(run: Callable[..., Run]) -> None:
    r = run(workflow([step("c", "CHECKPOINT"), step("d", "CHECKPOINT"), step("e", "CHECKPOINT")]))
    r.do(gates.record_checkpoint_decision, step_id="c", checkpoint_id="named", decision="approved")
    r.do(gates.record_checkpoint_decision, step_id="c", checkpoint_id="other", decision="rejected")
    r.do(gates.resolve_gate, step_id="d", gate="CHECKPOINT", decision="approved")  # no note: approves before
    r.do(gates.resolve_gate, step_id="e", gate="CHECKPOINT", decision="edited", note="fixed typo")  # edited: before
    state, _ = from_bundle(_bundle_of(r, engine=False))
    assert state.gate_state == r.state.gate_state
    assert state.gate_state["c"].checkpoints == {"named": "approved", "other": "pending"}
    assert state.gate_state["c"].before == "pending"
    assert state.gate_state["d"].before == "approved"
    assert state.gate_state["e"].before == "approved"


def test_checkpoint_note_ambiguity_is_documented(run: Callable[..., Run]) -> None:
    # resolve_gate(CHECKPOINT, approved, note=...) and resolve_checkpoint(...) write identical events,
    # so without an engine snapshot replay reads the former as a named checkpoint (docs/protocol.md D11).
    r = run(one_step("CHECKPOINT"))
    r.do(gates.resolve_gate, step_id="s1", gate="CHECKPOINT", decision="approved", note="looks good")
    state, _ = from_bundle(_bundle_of(r, engine=False))
    assert r.state.gate_state["s1"].before == "approved"
    assert state.gate_state["s1"].before == "pending"
    assert state.gate_state["s1"].checkpoints == {"looks good": "approved"}


def test_replay_skips_empty_idempotency_keys(run: Callable[..., Run]) -> None:
    r = run()
    r.do(artifacts.write_artifact, artifact_key="k", type_id="t", data=1, idempotency_key="")
    assert r.trace[-1]["idempotencyKey"] == ""
    state, _ = from_bundle(_bundle_of(r, engine=False))
    assert dict(state.idempotency) == {}
    assert dict(r.state.idempotency) == {}


def test_replay_of_failures_and_terminal_runs(run: Callable[..., Run]) -> None:
    r = run(chain("AUTO", "PAUSE_AFTER", "AUTO"))
    r.do(steps.begin_step, step_id="s1")
    r.do(steps.complete_step, step_id="s1")
    r.do(steps.begin_step, step_id="s2")
    r.do(steps.fail_step, step_id="s2", message="boom", fail_fast=True)
    state, _ = from_bundle(_bundle_of(r, engine=False))
    assert state.step_status == r.state.step_status == {"s1": "completed", "s2": "failed", "s3": "pending"}
    assert state.gate_state["s2"].after == "approved"  # a failed completion does not close `after`
    assert state.run.status == "failed"


def test_from_bundle_keeps_the_highest_artifact_version(run: Callable[..., Run]) -> None:
    r = run()
    r.do(artifacts.write_artifact, artifact_key="k", type_id="t", data=1)
    r.do(artifacts.write_artifact, artifact_key="k", type_id="t", data=2)
    bundle = _bundle_of(r, engine=True)
    v2 = bundle["artifacts"][0]
    bundle["artifacts"] = [{**v2, "version": 3, "data": 3}, v2, {**v2, "version": 1, "data": 1}]
    state, _ = from_bundle(validate_bundle(bundle))
    assert state.artifacts["k"].version == 3
    assert state.artifacts["k"].data == 3


def test_engine_missing_steps_get_defaults(run: Callable[..., Run]) -> None:
    r = run(workflow([step("a", "PAUSE_BEFORE"), step("b", "CHECKPOINT")]))
    bundle = _bundle_of(r, engine=True)
    bundle["engine"]["stepStatus"] = [["b", "failed"]]
    bundle["engine"]["gateState"] = []
    state, _ = from_bundle(validate_bundle(bundle))
    assert dict(state.step_status) == {"b": "failed", "a": "pending"}
    assert state.gate_state["a"].before == "pending"
    assert state.gate_state["b"].before == "pending"


def test_from_bundle_does_not_alias_the_bundle(run: Callable[..., Run]) -> None:
    r = _busy_run(run)
    bundle = _bundle_of(r, engine=False)
    _, trace = from_bundle(bundle)
    trace.append({"x": 1})
    assert len(bundle["trace"]) == len(r.trace)


def test_open_spans_in() -> None:
    ts = "2026-01-01T00:00:01.500Z"
    trace = [
        {"type": "span_started", "spanId": "a", "ts": ts, "stepId": "s", "correlationId": "c"},
        {"type": "span_started", "spanId": "b", "ts": ts},
        {"type": "span_ended", "spanId": "a", "ts": ts},
        {"type": "span_ended", "spanId": "zzz", "ts": ts},
    ]
    spans = open_spans_in(trace)
    assert list(spans) == ["b"]
    assert spans["b"].started_ms == 1767225601500.0
    assert spans["b"].step_id is None


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("1970-01-01T00:00:00Z", 0.0),
        ("2026-01-01T02:00:01.5+02:00", 1767225601500.0),
        ("1969-12-31T23:59:59.999Z", -1.0),
        ("2024-02-29T12:00:00.123456789-01:30", 1709213400123.0),
        ("0000-01-01T00:00:00.000Z", -62167219200000.0),  # JavaScript's Date.parse of year 0
        ("0001-01-01T00:00:00+23:59", -62135683140000.0),
        ("9999-12-31T23:59:59.999-23:59", 253402387139999.0),
    ],
)
def test_span_start_times_of_every_valid_timestamp(ts: str, expected: float) -> None:
    # Any timestamp the schema accepts must load; a span's start time is its epoch milliseconds.
    spans = open_spans_in([{"type": "span_started", "spanId": "s", "ts": ts}])
    assert spans["s"].started_ms == pytest.approx(expected, abs=1.0)


def test_a_bundle_with_a_year_zero_span_imports(run: Callable[..., Run]) -> None:
    r = run()
    r.do(telemetry.begin_span, name="old")
    bundle = _bundle_of(r, engine=False)
    bundle["trace"][0]["ts"] = "0000-01-01T00:00:00.000Z"
    state, _ = from_bundle(validate_bundle(bundle))
    ended = telemetry.end_span(state, r.clock, span_id=next(iter(state.open_spans)))
    (event,) = ended.events
    assert isinstance(event, SpanEnded)
    assert isinstance(event.duration_ms, int | float)
    assert event.duration_ms >= 0
