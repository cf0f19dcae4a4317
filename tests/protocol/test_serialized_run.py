"""The serialized run-store state: lenient reading (4.2), invariants in order (4.4), full schema (D17)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.serialized_run import check_state_invariants, read_serialized_run

TS = "2026-01-05T10:00:00.000Z"
OPEN = {"before": "approved", "after": "approved", "checkpoints": {}}


def _state() -> dict[str, Any]:
    return {
        "revision": 3,
        "run": {
            "id": "run_1",
            "workflowId": "wf",
            "workflowVersion": 1,
            "workflowSnapshot": {
                "id": "wf",
                "version": 1,
                "steps": [
                    {"id": "a", "gatePolicy": "AUTO", "inputs": [], "outputs": []},
                    {"id": "b", "gatePolicy": "PAUSE_BEFORE", "inputs": [], "outputs": []},
                ],
                "edges": [{"id": "e1", "from": "a", "to": "b"}],
            },
            "startedAt": TS,
            "status": "running",
        },
        "trace": [
            {"id": "evt_1", "runId": "run_1", "ts": TS, "type": "step_started", "stepId": "a"},
            {"id": "evt_2", "runId": "run_1", "ts": TS, "type": "annotation", "text": "hi", "stepId": ""},
            {
                "id": "evt_3",
                "runId": "run_1",
                "ts": TS,
                "type": "artifact_written",
                "artifact": {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS, "data": None},
                "idempotencyKey": "i1",
            },
        ],
        "artifactsByKey": [["k", {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS, "data": None}]],
        "ruleSetsById": [["default", {"id": "default", "ruleSchemaId": "s", "rules": []}]],
        "stepStatus": [["a", "running"], ["b", "pending"]],
        "gateState": [["a", OPEN], ["b", {**OPEN, "before": "pending"}]],
        "idempotency": [["i1", {"artifactKey": "k", "version": 1}]],
    }


def _dump(value: Any) -> dict[str, Any]:
    return read_serialized_run(value).model_dump(mode="json")


def _fails(state: dict[str, Any]) -> WorkbenchError:
    """Reading plus the 4.4 invariants, as every load and save does."""
    with pytest.raises(WorkbenchError) as info:
        check_state_invariants(read_serialized_run(state))
    return info.value


# --- reading rules (4.2) -------------------------------------------------------------------------


def test_a_valid_state_reads_back_unchanged() -> None:
    state = _state()
    parsed = read_serialized_run(state)
    check_state_invariants(parsed)
    assert parsed.model_dump(mode="json") == state


@pytest.mark.parametrize("value", [None, [], "x", 1, {}, {"revision": 1, "trace": []}])
def test_not_a_serialized_run(value: Any) -> None:
    with pytest.raises(WorkbenchError) as info:
        read_serialized_run(value)
    assert info.value.code is ErrorCode.INVALID_RUN_STATE


def test_missing_revision_reads_as_zero() -> None:
    state = _state()
    del state["revision"]
    assert _dump(state)["revision"] == 0


def test_null_revision_reads_as_zero() -> None:
    # The reference reads `row.revision ?? 0`.
    state = _state()
    state["revision"] = None
    assert _dump(state)["revision"] == 0


@pytest.mark.parametrize("trace", ["absent", None, {}, "events", 5])
def test_missing_or_non_array_trace_reads_as_empty(trace: Any) -> None:
    state = _state()
    if trace == "absent":
        del state["trace"]
    else:
        state["trace"] = trace
    assert _dump(state)["trace"] == []


@pytest.mark.parametrize("member", ["artifactsByKey", "ruleSetsById", "stepStatus", "gateState", "idempotency"])
@pytest.mark.parametrize("value", ["absent", None, {"a": "running"}, "x"])
def test_missing_or_non_array_maps_read_as_empty(member: str, value: Any) -> None:
    state = _state()
    if value == "absent":
        del state[member]
    else:
        state[member] = value
    assert _dump(state)[member] == []


def test_duplicate_keys_collapse_last_wins_at_first_position() -> None:
    state = _state()
    state["stepStatus"] = [["a", "pending"], ["b", "pending"], ["a", "completed"]]
    state["idempotency"] = [["i1", {"artifactKey": "k", "version": 1}], ["i1", {"artifactKey": "k", "version": 2}]]
    dumped = _dump(state)
    assert dumped["stepStatus"] == [["a", "completed"], ["b", "pending"]]
    assert dumped["idempotency"] == [["i1", {"artifactKey": "k", "version": 2}]]


def test_unknown_top_level_members_are_dropped() -> None:
    state = _state()
    state["protocolVersion"] = "1.0.0"
    state["artifacts"] = []
    assert _dump(state) == _state()


def test_unknown_keys_inside_artifacts_are_dropped() -> None:
    # The reference runtime may store them (writeArtifact keeps extra caller members).
    state = _state()
    state["artifactsByKey"][0][1]["extra"] = 1
    assert _dump(state) == _state()


@pytest.mark.parametrize(
    "entries",
    [
        [["a", "running", "extra"]],
        [["a"]],
        ["a"],
        [[1, "running"]],
        [{"a": "running"}],
    ],
)
def test_entries_must_be_string_keyed_pairs(entries: Any) -> None:
    state = _state()
    state["stepStatus"] = entries
    with pytest.raises(WorkbenchError) as info:
        read_serialized_run(state)
    assert info.value.code is ErrorCode.INVALID_RUN_STATE


# --- full schema validation (D17) ----------------------------------------------------------------


def _with(mutate: Any) -> dict[str, Any]:
    state = _state()
    mutate(state)
    return state


@pytest.mark.parametrize(
    "state",
    [
        _with(lambda s: s.update(stepStatus=[["a", "done"], ["b", "pending"]])),
        _with(lambda s: s.update(gateState=[["a", {**OPEN, "before": "rejected"}], ["b", OPEN]])),
        _with(lambda s: s.update(gateState=[["a", {"before": "approved"}], ["b", OPEN]])),
        _with(lambda s: s.update(gateState=[["a", {**OPEN, "checkpoints": {"c": "no"}}], ["b", OPEN]])),
        _with(lambda s: s["run"].update(status="paused")),
        _with(lambda s: s["run"].update(startedAt="yesterday")),
        _with(lambda s: s["run"].update(id="")),
        _with(lambda s: s["run"].pop("id")),
        _with(lambda s: s["run"].pop("workflowSnapshot")),
        _with(lambda s: s["run"].update(context={})),
        _with(lambda s: s["run"].update(subject={"userId": "u", "x": 1})),
        _with(lambda s: s["trace"].append({"id": "evt_9", "runId": "run_1", "ts": TS, "type": "nope"})),
        _with(lambda s: s["trace"].append({"id": "evt_9", "runId": "run_1", "ts": TS, "type": "step_started"})),
        _with(lambda s: s["artifactsByKey"][0][1].update(version=0)),
        _with(lambda s: s["ruleSetsById"][0][1].pop("ruleSchemaId")),
        _with(lambda s: s.update(idempotency=[["i1", {"artifactKey": "k", "version": 0}]])),
        _with(lambda s: s.update(revision=-1)),
        _with(lambda s: s.update(revision=1.5)),
        _with(lambda s: s.update(revision="3")),
    ],
)
def test_schema_failures_are_invalid_run_state(state: dict[str, Any]) -> None:
    with pytest.raises(WorkbenchError) as info:
        read_serialized_run(state)
    assert info.value.code is ErrorCode.INVALID_RUN_STATE


# --- state invariants (4.4), each with its code ---------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "code", "fragment"),
    [
        (
            lambda s: s["run"]["workflowSnapshot"]["edges"].append({"id": "e2", "from": "b", "to": "a"}),
            ErrorCode.INVALID_WORKFLOW,
            "cycle",
        ),
        (
            lambda s: s["run"]["workflowSnapshot"]["steps"].append({"id": "a"}),
            ErrorCode.INVALID_WORKFLOW,
            "Duplicate workflow step",
        ),
        (lambda s: s["run"].update(workflowId="other"), ErrorCode.INVALID_RUN_STATE, "workflowId"),
        (lambda s: s["run"].update(workflowVersion=2), ErrorCode.INVALID_RUN_STATE, "workflowVersion"),
        (lambda s: s.update(stepStatus=[["a", "running"]]), ErrorCode.INVALID_RUN_STATE, 'missing status for step "b"'),
        (lambda s: s.update(gateState=[["a", OPEN]]), ErrorCode.INVALID_RUN_STATE, 'missing gate state for step "b"'),
        (
            lambda s: s["stepStatus"].append(["ghost", "pending"]),
            ErrorCode.INVALID_RUN_STATE,
            'status for unknown step "ghost"',
        ),
        (
            lambda s: s["gateState"].append(["ghost", OPEN]),
            ErrorCode.INVALID_RUN_STATE,
            'gate state for unknown step "ghost"',
        ),
        (lambda s: s["trace"][1].update(runId="run_2"), ErrorCode.INVALID_RUN_STATE, 'belongs to run "run_2"'),
        (
            lambda s: s["trace"][0].update(stepId="ghost"),
            ErrorCode.INVALID_RUN_STATE,
            'references unknown step "ghost"',
        ),
        (lambda s: s["artifactsByKey"][0].__setitem__(0, "other"), ErrorCode.INVALID_RUN_STATE, "other"),
        (lambda s: s["ruleSetsById"][0].__setitem__(0, "other"), ErrorCode.INVALID_RUN_STATE, "other"),
    ],
)
def test_each_invariant(mutate: Any, code: ErrorCode, fragment: str) -> None:
    state = _state()
    mutate(state)
    error = _fails(state)
    assert error.code is code
    assert fragment in error.message


def _violating(*names: str) -> dict[str, Any]:
    """A state that breaks every named invariant at once."""
    state = _state()
    mutations = {
        "workflow": lambda s: s["run"]["workflowSnapshot"]["edges"].append({"id": "e1", "from": "b", "to": "a"}),
        "workflowId": lambda s: s["run"].update(workflowId="other"),
        "workflowVersion": lambda s: s["run"].update(workflowVersion=9),
        "missingStatus": lambda s: s.update(stepStatus=[["a", "running"]]),
        "missingGate": lambda s: s.update(gateState=[["b", OPEN]]),
        "unknownStatus": lambda s: s["stepStatus"].append(["ghost", "pending"]),
        "unknownGate": lambda s: s["gateState"].append(["ghost", OPEN]),
        "runId": lambda s: s["trace"][2].update(runId="run_2"),
        "stepId": lambda s: s["trace"][0].update(stepId="ghost"),
        "artifactKey": lambda s: s["artifactsByKey"][0].__setitem__(0, "other"),
        "ruleSetId": lambda s: s["ruleSetsById"][0].__setitem__(0, "other"),
    }
    for name in names:
        mutations[name](state)
    return state


ORDER = [
    ("workflow", "Duplicate workflow edge id"),
    ("workflowId", "workflowId"),
    ("workflowVersion", "workflowVersion"),
    ("missingGate", 'missing gate state for step "a"'),  # step a comes before step b
    ("missingStatus", 'missing status for step "b"'),
    ("unknownStatus", 'has status for unknown step "ghost"'),
    ("unknownGate", 'has gate state for unknown step "ghost"'),
    ("stepId", 'Trace event "evt_1" references unknown step'),  # trace order: evt_1 before evt_3
    ("runId", 'Trace event "evt_3" belongs to run'),
    ("artifactKey", "artifact"),
    ("ruleSetId", "ruleSet"),
]


@pytest.mark.parametrize("first", range(len(ORDER)))
def test_first_failure_wins_in_protocol_order(first: int) -> None:
    names = [name for name, _ in ORDER[first:]]
    error = _fails(_violating(*names))
    assert ORDER[first][1] in error.message
    expected = ErrorCode.INVALID_WORKFLOW if ORDER[first][0] == "workflow" else ErrorCode.INVALID_RUN_STATE
    assert error.code is expected


def test_status_checked_before_gate_state_for_the_same_step() -> None:
    state = _state()
    state["stepStatus"] = [["a", "running"]]
    state["gateState"] = [["a", OPEN]]
    assert 'missing status for step "b"' in _fails(state).message


def test_not_checked_revision_run_status_endedat_trace_order_idempotency_targets() -> None:
    state = _state()
    state["revision"] = 999
    state["run"]["status"] = "completed"  # without endedAt
    state["trace"].reverse()
    state["idempotency"] = [["i9", {"artifactKey": "nowhere", "version": 7}]]
    state["stepStatus"] = [["b", "completed"], ["a", "failed"]]  # any order, any status combination
    check_state_invariants(read_serialized_run(state))


def test_reading_does_not_mutate_the_input() -> None:
    state = _state()
    state["stepStatus"].append(["a", "completed"])
    before = copy.deepcopy(state)
    read_serialized_run(state)
    assert state == before
