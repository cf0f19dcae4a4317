"""Wire models: timestamps (1.3), numbers (1.4), strict vs. lenient objects (5.4), absent vs. null."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.artifacts import ArtifactPointer, ArtifactVersion
from workbench_mcp.protocol.engine_state import GateSlots, IdempotencyRecord, initial_gate_slots
from workbench_mcp.protocol.rules import RuleRecord, RuleSet
from workbench_mcp.protocol.run import PinnedArtifact, RunContextRef, RunInstance, RunSubjectRef
from workbench_mcp.protocol.trace_events import (
    PATCH_OPS,
    TRACE_EVENT,
    TRACE_EVENT_TYPES,
    ModelCost,
    ModelUsage,
    TraceEvent,
)
from workbench_mcp.protocol.wire_model import (
    JsInt,
    JsNumber,
    NonNegativeInt,
    NonNegativeNumber,
    PositiveInt,
    Timestamp,
)
from workbench_mcp.protocol.workflow import WorkflowEdge, WorkflowSpec, WorkflowStep

TS = "2026-01-05T10:00:00.000Z"
HASH = "0123456789abcdef" * 4


def _base(event_type: str, **fields: Any) -> dict[str, Any]:
    return {"id": "evt_1", "runId": "run_1", "ts": TS, "type": event_type, **fields}


# --- timestamps (1.3) ----------------------------------------------------------------------------

TIMESTAMP = TypeAdapter(Timestamp)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T04:25:40.105Z",
        "2026-01-05T10:00:00Z",
        "2026-01-05T10:00:00.1Z",
        "2026-01-05T10:00:00.123456789Z",
        "2026-01-05T10:00:00+02:00",
        "2026-01-05T10:00:00.5-23:59",
        "2026-01-05T23:59:59+00:00",
        "2024-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",
        "0000-01-01T00:00:00Z",
    ],
)
def test_timestamp_accepted(text: str) -> None:
    assert TIMESTAMP.validate_python(text) == text  # kept verbatim


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29T00:00:00Z",  # not a leap year
        "1900-02-29T00:00:00Z",  # century rule
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-05T24:00:00Z",
        "2026-01-05T23:60:00Z",
        "2026-01-05T23:59:60Z",  # no leap second
        "2026-01-05T10:00:00+0200",
        "2026-01-05T10:00:00+02",
        "2026-01-05T10:00:00+24:00",
        "2026-01-05T10:00:00",  # no zone
        "2026-01-05 10:00:00Z",  # space separator
        "2026-01-05T10:00:00,5Z",  # comma decimals
        "2026-01-05T10:00:00.Z",  # dot without digits
        "+012024-01-05T10:00:00Z",  # expanded year
        "2026-01-05t10:00:00Z",  # lowercase t
        "2026-01-05T10:00:00z",  # lowercase z
        "2026-01-05T10:00Z",  # seconds are mandatory
        "2026-1-05T10:00:00Z",
        "",
    ],
)
def test_timestamp_rejected(text: str) -> None:
    with pytest.raises(ValidationError):
        TIMESTAMP.validate_python(text)


@pytest.mark.parametrize("value", [1767607200000, None, b"2026-01-05T10:00:00Z"])
def test_timestamp_must_be_a_string(value: Any) -> None:
    with pytest.raises(ValidationError):
        TIMESTAMP.validate_python(value)


# --- numbers (1.4) -------------------------------------------------------------------------------

JS_INT = TypeAdapter(JsInt)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (1.0, 1), (-7, -7), (0.0, 0), (-0.0, 0), (2**53 - 1, 2**53 - 1), (-(2**53 - 1), -(2**53 - 1))],
)
def test_js_int_accepts_integral_numbers(value: Any, expected: int) -> None:
    parsed = JS_INT.validate_python(value)
    assert parsed == expected
    assert type(parsed) is int


@pytest.mark.parametrize(
    "value", ["1", True, False, 1.5, 2**53, -(2**53), float(2**53), float("nan"), float("inf"), None, [1]]
)
def test_js_int_rejects_non_integers_and_unsafe_values(value: Any) -> None:
    with pytest.raises(ValidationError):
        JS_INT.validate_python(value)


def test_bounded_integers() -> None:
    assert TypeAdapter(NonNegativeInt).validate_python(0) == 0
    with pytest.raises(ValidationError):
        TypeAdapter(NonNegativeInt).validate_python(-1)
    assert TypeAdapter(PositiveInt).validate_python(1.0) == 1
    with pytest.raises(ValidationError):
        TypeAdapter(PositiveInt).validate_python(0)


def test_integer_fields_dump_as_integers() -> None:
    artifact = ArtifactVersion.model_validate(
        {"artifactKey": "k", "typeId": "t", "version": 2.0, "createdAt": TS, "data": 1.0}
    )
    dumped = artifact.model_dump(mode="json")
    assert dumped["version"] == 2
    assert type(dumped["version"]) is int
    assert type(dumped["data"]) is float  # free-form values are not touched


@pytest.mark.parametrize("value", [0, 1.5, 1e300, 2**53 - 1])
def test_js_number_accepts_finite_numbers(value: Any) -> None:
    assert TypeAdapter(JsNumber).validate_python(value) == value


@pytest.mark.parametrize("value", ["1", True, None, float("nan"), float("-inf"), 2**53])
def test_js_number_rejects_non_numbers(value: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(JsNumber).validate_python(value)


def test_non_negative_number_rejects_negative() -> None:
    assert TypeAdapter(NonNegativeNumber).validate_python(0.25) == 0.25
    with pytest.raises(ValidationError):
        TypeAdapter(NonNegativeNumber).validate_python(-0.5)


def test_free_form_json_refuses_unsafe_integers() -> None:
    with pytest.raises(WorkbenchError) as info:
        ArtifactVersion.model_validate(
            {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS, "data": {"n": 2**53}}
        )
    assert info.value.code is ErrorCode.UNSAFE_NUMBER


# --- strict objects reject unknown keys ------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        {"op": "add", "path": "/a", "value": 1, "extra": 1},
        {"op": "remove", "path": "/a", "value": 1},
        {"op": "replace", "path": "/a", "value": 1, "from": "/b"},
        {"op": "move", "path": "/a", "from": "/b", "value": 1},
        {"op": "copy", "path": "/a", "from": "/b", "x": None},
        {"op": "test", "path": "/a", "value": 1, "y": 2},
    ],
)
def test_patch_ops_are_strict(op: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PATCH_OPS.validate_python([op])


@pytest.mark.parametrize(
    "op",
    [
        {"op": "add", "path": "/a"},  # value key required
        {"op": "replace", "path": "/a"},
        {"op": "test", "path": "/a"},
        {"op": "move", "path": "/a"},  # from required
        {"op": "copy", "path": "/a"},
        {"op": "remove"},  # path required
        {"op": "frobnicate", "path": "/a"},
        {"path": "/a", "value": 1},
        {"op": "add", "path": 1, "value": 1},
    ],
)
def test_patch_ops_require_their_members(op: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PATCH_OPS.validate_python([op])


def test_patch_ops_accept_null_values_and_keep_them() -> None:
    ops = [
        {"op": "add", "path": "/a", "value": None},
        {"op": "remove", "path": "/b"},
        {"op": "replace", "path": "", "value": {"x": [1, None]}},
        {"op": "move", "path": "/c", "from": "/d"},
        {"op": "copy", "path": "/e", "from": "/f"},
        {"op": "test", "path": "/g", "value": None},
    ]
    parsed = PATCH_OPS.validate_python(ops)
    assert [p.model_dump(mode="json") for p in parsed] == ops


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (ModelUsage, {"inputTokens": 1, "promptTokens": 2}),
        (ModelCost, {"amount": 1, "currency": "USD", "tax": 0}),
        (RunSubjectRef, {"userId": "u", "email": "x@y"}),
    ],
)
def test_strict_objects_reject_unknown_keys(model: Any, data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_usage_and_cost_constraints() -> None:
    usage = ModelUsage.model_validate({"inputTokens": 1.0, "outputTokens": 0, "totalTokens": 3})
    assert usage.model_dump(mode="json") == {"inputTokens": 1, "outputTokens": 0, "totalTokens": 3}
    for bad in ({"inputTokens": -1}, {"reasoningTokens": 1.5}, {"cachedInputTokens": "1"}):
        with pytest.raises(ValidationError):
            ModelUsage.model_validate(bad)
    assert ModelCost.model_validate({"amount": 0.5, "currency": "USD"}).amount == 0.5
    for bad_cost in (
        {"amount": 1},
        {"currency": "USD"},
        {"amount": -1, "currency": "USD"},
        {"amount": 1, "currency": ""},
    ):
        with pytest.raises(ValidationError):
            ModelCost.model_validate(bad_cost)


def test_subject_members_are_non_empty_strings() -> None:
    subject = RunSubjectRef.model_validate({"userId": "u", "tenantId": "t", "accountId": "a", "planId": "p"})
    assert subject.model_dump(mode="json") == {"userId": "u", "tenantId": "t", "accountId": "a", "planId": "p"}
    assert RunSubjectRef.model_validate({}).model_dump(mode="json") == {}
    with pytest.raises(ValidationError):
        RunSubjectRef.model_validate({"userId": ""})


# --- other objects drop unknown keys -------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        (
            ArtifactVersion,
            {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS, "bogus": True},
            {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS},
        ),
        (ArtifactPointer, {"kind": "inline", "extra": 1}, {"kind": "inline"}),
        (
            WorkflowStep,
            {"id": "a", "color": "red"},
            {"id": "a", "gatePolicy": "AUTO", "inputs": [], "outputs": []},
        ),
        (WorkflowEdge, {"id": "e", "from": "a", "to": "b", "weight": 2}, {"id": "e", "from": "a", "to": "b"}),
        (RunContextRef, {"parentRunId": "p", "why": "x"}, {"parentRunId": "p"}),
        (
            RuleRecord,
            {"id": "r", "priority": -1, "enabled": False, "payload": None, "x": 1},
            {"id": "r", "priority": -1, "enabled": False, "payload": None},
        ),
        (
            GateSlots,
            {"before": "approved", "after": "pending", "note": "x"},
            {"before": "approved", "after": "pending", "checkpoints": {}},
        ),
        (IdempotencyRecord, {"artifactKey": "k", "version": 1, "digest": "x"}, {"artifactKey": "k", "version": 1}),
        (PinnedArtifact, {"artifactKey": "k", "version": 3, "x": 0}, {"artifactKey": "k", "version": 3}),
    ],
)
def test_non_strict_objects_drop_unknown_keys(model: Any, data: dict[str, Any], expected: dict[str, Any]) -> None:
    assert model.model_validate(data).model_dump(mode="json") == expected


def test_trace_events_drop_unknown_keys_but_never_inside_free_form_values() -> None:
    event = TRACE_EVENT.validate_python(
        _base("tool_call", name="search", args={"deep": {"unknown": 1}}, result=[{"x": None}], extra="drop me")
    )
    assert event.model_dump(mode="json") == _base(
        "tool_call", name="search", args={"deep": {"unknown": 1}}, result=[{"x": None}]
    )


def test_artifact_data_keeps_unknown_nested_keys() -> None:
    data = {"a": {"b": [1, {"c": None}]}, "extra": True}
    artifact = ArtifactVersion.model_validate(
        {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS, "data": data}
    )
    assert artifact.model_dump(mode="json")["data"] == data


# --- absent vs. null -----------------------------------------------------------------------------


def test_null_data_is_kept_and_absent_data_stays_absent() -> None:
    base = {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS}
    with_null = ArtifactVersion.model_validate({**base, "data": None}).model_dump(mode="json")
    without = ArtifactVersion.model_validate(base).model_dump(mode="json")
    assert with_null == {**base, "data": None}
    assert "data" not in without
    assert "pointer" not in without


def test_optional_event_members_absent_when_not_given() -> None:
    event = TRACE_EVENT.validate_python(_base("model_io", direction="request"))
    assert event.model_dump(mode="json") == _base("model_io", direction="request")
    with_null_payload = TRACE_EVENT.validate_python(_base("model_io", direction="request", payload=None))
    assert with_null_payload.model_dump(mode="json")["payload"] is None


def test_rule_payload_key_is_required_but_may_be_null() -> None:
    assert RuleRecord.model_validate({"id": "r", "priority": 0, "enabled": True, "payload": None}).payload is None
    with pytest.raises(ValidationError):
        RuleRecord.model_validate({"id": "r", "priority": 0, "enabled": True})


def test_rule_set_shape() -> None:
    rs = RuleSet.model_validate({"id": "x", "ruleSchemaId": "s", "rules": []})
    assert rs.model_dump(mode="json") == {"id": "x", "ruleSchemaId": "s", "rules": []}
    for bad in (
        {"id": "", "ruleSchemaId": "s", "rules": []},
        {"id": "x", "ruleSchemaId": "", "rules": []},
        {"id": "x", "ruleSchemaId": "s"},
        {"id": "x", "ruleSchemaId": "s", "rules": [{"id": "r", "priority": 0.5, "enabled": True, "payload": 1}]},
        {"id": "x", "ruleSchemaId": "s", "rules": [{"id": "r", "priority": 0, "enabled": 1, "payload": 1}]},
    ):
        with pytest.raises(ValidationError):
            RuleSet.model_validate(bad)


# --- RunContextRef (3.1) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "context",
    [
        {"parentRunId": "p"},
        {"parentRunIds": ["p"]},
        {"parentRunIds": ["p", "q"]},
        {"parentRunId": "p", "parentRunIds": ["p", "q"]},
        {"parentRunId": "p", "forkedFromStepId": "", "pinnedArtifacts": [{"artifactKey": "k", "version": 1}]},
    ],
)
def test_context_accepted(context: dict[str, Any]) -> None:
    assert RunContextRef.model_validate(context).model_dump(mode="json") == context


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"forkedFromStepId": "s"},
        {"parentRunIds": []},
        {"parentRunId": ""},
        {"parentRunIds": [""]},
        {"parentRunId": "p", "parentRunIds": ["q", "p"]},  # [0] must equal parentRunId
        {"parentRunId": "p", "pinnedArtifacts": [{"artifactKey": "k", "version": 0}]},
        {"parentRunId": "p", "pinnedArtifacts": [{"artifactKey": "k"}]},
    ],
)
def test_context_rejected(context: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RunContextRef.model_validate(context)


# --- ArtifactPointer (3.3) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pointer",
    [
        {"kind": "inline"},
        {"kind": "inline", "payloadHash": HASH, "byteLength": 0},
        {"kind": "inline", "sha256": "not-hex-at-all"},  # the deprecated alias has no format check
        {"kind": "inline", "payloadHash": HASH, "sha256": HASH},
        {"kind": "external", "ref": "blob/1", "payloadHash": HASH, "byteLength": 262144},
    ],
)
def test_pointer_accepted(pointer: dict[str, Any]) -> None:
    assert ArtifactPointer.model_validate(pointer).model_dump(mode="json") == pointer


@pytest.mark.parametrize(
    "pointer",
    [
        {"kind": "inline", "payloadHash": HASH.upper()},
        {"kind": "inline", "payloadHash": HASH[:-1]},
        {"kind": "inline", "payloadHash": HASH + "0"},
        {"kind": "inline", "payloadHash": HASH, "sha256": "f" * 64},
        {"kind": "external"},
        {"kind": "external", "ref": ""},
        {"kind": "inline", "byteLength": -1},
        {"kind": "inline", "byteLength": 1.5},
        {"kind": "blob"},
        {},
    ],
)
def test_pointer_rejected(pointer: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ArtifactPointer.model_validate(pointer)


def test_artifact_version_constraints() -> None:
    base = {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS}
    for bad in ({"artifactKey": ""}, {"typeId": ""}, {"version": 0}, {"createdAt": "yesterday"}):
        with pytest.raises(ValidationError):
            ArtifactVersion.model_validate({**base, **bad})


# --- trace events (3.5) --------------------------------------------------------------------------


def test_the_union_has_exactly_the_16_types() -> None:
    assert len(TRACE_EVENT_TYPES) == 16
    members = TraceEvent.__origin__.__args__  # type: ignore[attr-defined]
    assert [m.model_fields["type"].default for m in members] == list(TRACE_EVENT_TYPES)


@pytest.mark.parametrize(
    "event",
    [
        _base("step_started", stepId="s"),
        _base("step_completed", stepId="s", ok=False, error={"message": "m"}),
        _base("step_completed", stepId="s", ok=True),
        _base(
            "artifact_written",
            artifact={"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS},
            idempotencyKey="",
        ),
        _base("artifact_patch", artifactKey="k", fromVersion=1, toVersion=2, patch=[]),
        _base(
            "model_io",
            direction="stream_chunk",
            provider="p",
            model="m",
            usage={},
            cost={"amount": 0, "currency": "EUR"},
            durationMs=0.25,
            summary="",
            payload=[1],
        ),
        _base("tool_call", name=""),
        _base("human_gate_requested", stepId="s", gate="CHECKPOINT", reason="r"),
        _base("human_gate_resolved", stepId="s", gate="PAUSE_AFTER", decision="edited", note="n"),
        _base("rule_changed", ruleSetId="x", snapshot={"id": "x", "ruleSchemaId": "s", "rules": []}),
        _base("policy_changed", stepId="s", policy="AUTO"),
        _base("error", message="m", code="C", fatal=True),
        _base("run_forked", parentRunId="p", parentRunIds=["q"], forkedFromStepId="s"),
        _base("annotation", text="", tags=[]),
        _base("run_status_changed", status="running"),
        _base("span_started", spanId="sp", parentSpanId="pp", name="n", kind="consumer", attributes={"a": None}),
        _base("span_ended", spanId="sp", status="error", durationMs=1.5, attributes={}, error={"message": "m"}),
        _base("annotation", text="t", stepId="", correlationId="c"),
    ],
)
def test_valid_events_round_trip(event: dict[str, Any]) -> None:
    assert TRACE_EVENT.validate_python(event).model_dump(mode="json") == event


@pytest.mark.parametrize(
    "event",
    [
        _base("step_started"),  # stepId required for step types
        _base("step_started", stepId=""),
        _base("step_completed", stepId="s"),
        _base("human_gate_requested", stepId="s", gate="AUTO"),
        _base("human_gate_resolved", stepId="s", gate="PAUSE_BEFORE", decision="maybe"),
        _base("human_gate_resolved", gate="PAUSE_BEFORE", decision="approved"),
        _base("policy_changed", stepId="s", policy="NEVER"),
        _base("model_io", direction="sideways"),
        _base("model_io", direction="request", provider=""),
        _base("model_io", direction="request", durationMs=-1),
        _base("model_io", direction="request", usage={"inputTokens": 1, "foo": 2}),
        _base("tool_call"),
        _base("artifact_patch", artifactKey="k", fromVersion=0, toVersion=1, patch=[]),
        _base(
            "artifact_patch", artifactKey="k", fromVersion=1, toVersion=2, patch=[{"op": "remove", "path": "", "v": 1}]
        ),
        _base("rule_changed", ruleSetId="", snapshot={"id": "x", "ruleSchemaId": "s", "rules": []}),
        _base("run_forked", parentRunId="p", parentRunIds=[]),
        _base("run_forked", parentRunId=""),
        _base("run_status_changed", status="paused"),
        _base("span_started", spanId="sp", name=""),
        _base("span_started", spanId="sp", name="n", kind="batch"),
        _base("span_ended", spanId="sp", status="cancelled"),
        _base("error"),
        _base("nonsense"),
        {"runId": "run_1", "ts": TS, "type": "annotation", "text": "no id"},
        {"id": "evt_1", "runId": "", "ts": TS, "type": "annotation", "text": "t"},
        {"id": "evt_1", "runId": "run_1", "ts": "2026-01-05", "type": "annotation", "text": "t"},
    ],
)
def test_invalid_events_rejected(event: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TRACE_EVENT.validate_python(event)


def test_run_forked_does_not_enforce_first_parent() -> None:
    event = _base("run_forked", parentRunId="p", parentRunIds=["q", "r"])
    assert TRACE_EVENT.validate_python(event).model_dump(mode="json") == event


# --- key order after parsing (2.1, 3.1) ----------------------------------------------------------


def test_workflow_key_order_after_parsing() -> None:
    spec = WorkflowSpec.model_validate(
        {
            "edges": [{"to": "b", "from": "a", "id": "e"}],
            "steps": [{"outputs": ["o"], "id": "a", "description": "d", "title": "t"}, {"id": "b"}],
            "version": 0,
            "id": "w",
            "title": "T",
        }
    )
    dumped = spec.model_dump(mode="json")
    assert list(dumped) == ["id", "version", "title", "steps", "edges"]
    assert list(dumped["steps"][0]) == ["id", "title", "description", "gatePolicy", "inputs", "outputs"]
    assert list(dumped["edges"][0]) == ["id", "from", "to"]


def test_run_instance_key_order_is_the_schema_order() -> None:
    run = RunInstance.model_validate(
        {
            "tags": [],
            "status": "completed",
            "endedAt": TS,
            "workflowSnapshot": {"id": "w", "version": 1, "steps": [{"id": "a"}]},
            "metadata": {"z": 1, "a": 2},
            "subject": {"userId": "u"},
            "context": {"parentRunId": "p"},
            "startedAt": TS,
            "workflowVersion": 1,
            "workflowId": "w",
            "id": "run_1",
            "annotations": [{"at": TS, "text": "x"}],
        }
    )
    dumped = run.model_dump(mode="json")
    assert list(dumped) == [
        "id",
        "workflowId",
        "workflowVersion",
        "workflowSnapshot",
        "startedAt",
        "endedAt",
        "status",
        "context",
        "subject",
        "metadata",
        "tags",
        "annotations",
    ]
    assert list(dumped["metadata"]) == ["z", "a"]  # free-form members keep their order


def test_run_status_values() -> None:
    base = {
        "id": "run_1",
        "workflowId": "w",
        "workflowVersion": 1,
        "workflowSnapshot": {"id": "w", "version": 1, "steps": [{"id": "a"}]},
        "startedAt": TS,
    }
    for status in ("running", "completed", "failed", "cancelled"):
        assert RunInstance.model_validate({**base, "status": status}).status == status
    with pytest.raises(ValidationError):
        RunInstance.model_validate({**base, "status": "paused"})
    with pytest.raises(ValidationError):
        RunInstance.model_validate({**base, "status": "running", "metadata": []})


# --- gate slots ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "before"),
    [("AUTO", "approved"), ("PAUSE_BEFORE", "pending"), ("PAUSE_AFTER", "approved"), ("CHECKPOINT", "pending")],
)
def test_initial_gate_slots(policy: str, before: str) -> None:
    assert initial_gate_slots(policy).model_dump(mode="json") == {
        "before": before,
        "after": "approved",
        "checkpoints": {},
    }


@pytest.mark.parametrize(
    "slots",
    [
        {"before": "rejected", "after": "approved"},
        {"before": "approved"},
        {"before": "approved", "after": "approved", "checkpoints": {"c": "done"}},
    ],
)
def test_gate_slot_values(slots: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GateSlots.model_validate(slots)


def test_records_drop_a_proto_member_like_zod() -> None:
    """The reference's z.record drops `__proto__`; the normalized (hashed) form must too."""
    from workbench_mcp.protocol.engine_state import GateSlots
    from workbench_mcp.protocol.trace_events import TRACE_EVENT

    slots = GateSlots.model_validate(
        {"before": "approved", "after": "approved", "checkpoints": {"__proto__": "approved", "c": "pending"}}
    )
    assert slots.model_dump()["checkpoints"] == {"c": "pending"}
    span = TRACE_EVENT.validate_python(
        {
            "id": "e",
            "runId": "r",
            "ts": "2026-01-01T00:00:00.000Z",
            "type": "span_started",
            "spanId": "s",
            "name": "n",
            "attributes": {"__proto__": {"x": 1}, "k": 1},
        }
    )
    assert span.model_dump()["attributes"] == {"k": 1}
