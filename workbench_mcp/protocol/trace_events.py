"""The 16 trace event types (docs/protocol.md 3.5) as one tagged union, plus JSON Patch operations (3.4)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import MISSING, Field, TypeAdapter

from workbench_mcp.protocol.artifacts import ArtifactVersion
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.run import RunStatus
from workbench_mcp.protocol.wire_model import (
    Bool,
    JsonAny,
    JsonRecord,
    NonEmptyStr,
    NonNegativeInt,
    NonNegativeNumber,
    PositiveInt,
    Str,
    StrictWireModel,
    Timestamp,
    WireModel,
)
from workbench_mcp.protocol.workflow import GateKind, GatePolicy

Decision = Literal["approved", "rejected", "edited"]
ModelDirection = Literal["request", "response", "stream_chunk"]
SpanKind = Literal["internal", "client", "server", "producer", "consumer"]


# --- JSON Patch (RFC 6902) operations: strict objects -------------------------------------------


class PatchAdd(StrictWireModel):
    op: Literal["add"]
    path: Str
    value: JsonAny


class PatchRemove(StrictWireModel):
    op: Literal["remove"]
    path: Str


class PatchReplace(StrictWireModel):
    op: Literal["replace"]
    path: Str
    value: JsonAny


class PatchMove(StrictWireModel):
    op: Literal["move"]
    path: Str
    from_: Str = Field(alias="from")


class PatchCopy(StrictWireModel):
    op: Literal["copy"]
    path: Str
    from_: Str = Field(alias="from")


class PatchTest(StrictWireModel):
    op: Literal["test"]
    path: Str
    value: JsonAny


JsonPatchOp = Annotated[
    PatchAdd | PatchRemove | PatchReplace | PatchMove | PatchCopy | PatchTest,
    Field(discriminator="op"),
]


# --- shared pieces -------------------------------------------------------------------------------


class ErrorInfo(WireModel):
    message: Str
    code: Str | MISSING = MISSING


class ModelUsage(StrictWireModel):
    input_tokens: NonNegativeInt | MISSING = MISSING
    output_tokens: NonNegativeInt | MISSING = MISSING
    total_tokens: NonNegativeInt | MISSING = MISSING
    cached_input_tokens: NonNegativeInt | MISSING = MISSING
    reasoning_tokens: NonNegativeInt | MISSING = MISSING


class ModelCost(StrictWireModel):
    amount: NonNegativeNumber
    currency: NonEmptyStr


class TraceEventBase(WireModel):
    id: NonEmptyStr
    run_id: NonEmptyStr
    ts: Timestamp
    step_id: Str | MISSING = MISSING
    correlation_id: Str | MISSING = MISSING


# --- the 16 event types, in the reference's order ------------------------------------------------


class StepStarted(TraceEventBase):
    step_id: NonEmptyStr
    type: Literal["step_started"] = "step_started"


class StepCompleted(TraceEventBase):
    step_id: NonEmptyStr
    type: Literal["step_completed"] = "step_completed"
    ok: Bool
    error: ErrorInfo | MISSING = MISSING


class ArtifactWritten(TraceEventBase):
    type: Literal["artifact_written"] = "artifact_written"
    artifact: ArtifactVersion
    idempotency_key: Str | MISSING = MISSING


class ArtifactPatched(TraceEventBase):
    type: Literal["artifact_patch"] = "artifact_patch"
    artifact_key: NonEmptyStr
    from_version: PositiveInt
    to_version: PositiveInt
    patch: list[JsonPatchOp]
    idempotency_key: Str | MISSING = MISSING


class ModelIO(TraceEventBase):
    type: Literal["model_io"] = "model_io"
    direction: ModelDirection
    provider: NonEmptyStr | MISSING = MISSING
    model: NonEmptyStr | MISSING = MISSING
    usage: ModelUsage | MISSING = MISSING
    cost: ModelCost | MISSING = MISSING
    duration_ms: NonNegativeNumber | MISSING = MISSING
    summary: Str | MISSING = MISSING
    payload: JsonAny | MISSING = MISSING


class ToolCall(TraceEventBase):
    type: Literal["tool_call"] = "tool_call"
    name: Str
    args: JsonAny | MISSING = MISSING
    result: JsonAny | MISSING = MISSING


class HumanGateRequested(TraceEventBase):
    step_id: NonEmptyStr
    type: Literal["human_gate_requested"] = "human_gate_requested"
    gate: GateKind
    reason: Str | MISSING = MISSING


class HumanGateResolved(TraceEventBase):
    step_id: NonEmptyStr
    type: Literal["human_gate_resolved"] = "human_gate_resolved"
    gate: GateKind
    decision: Decision
    note: Str | MISSING = MISSING


class RuleChanged(TraceEventBase):
    type: Literal["rule_changed"] = "rule_changed"
    rule_set_id: NonEmptyStr
    snapshot: RuleSet


class PolicyChanged(TraceEventBase):
    """Reserved by the protocol: never emitted, changes no state (D19)."""

    step_id: NonEmptyStr
    type: Literal["policy_changed"] = "policy_changed"
    policy: GatePolicy


class ErrorEvent(TraceEventBase):
    type: Literal["error"] = "error"
    message: Str
    code: Str | MISSING = MISSING
    fatal: Bool | MISSING = MISSING


class RunForked(TraceEventBase):
    type: Literal["run_forked"] = "run_forked"
    parent_run_id: NonEmptyStr
    parent_run_ids: list[NonEmptyStr] | MISSING = Field(default=MISSING, min_length=1)
    forked_from_step_id: Str | MISSING = MISSING


class Annotation(TraceEventBase):
    type: Literal["annotation"] = "annotation"
    text: Str
    tags: list[Str] | MISSING = MISSING


class RunStatusChanged(TraceEventBase):
    type: Literal["run_status_changed"] = "run_status_changed"
    status: RunStatus
    reason: Str | MISSING = MISSING


class SpanStarted(TraceEventBase):
    type: Literal["span_started"] = "span_started"
    span_id: NonEmptyStr
    parent_span_id: NonEmptyStr | MISSING = MISSING
    name: NonEmptyStr
    kind: SpanKind | MISSING = MISSING
    attributes: JsonRecord | MISSING = MISSING


class SpanEnded(TraceEventBase):
    type: Literal["span_ended"] = "span_ended"
    span_id: NonEmptyStr
    status: Literal["ok", "error"] | MISSING = MISSING
    duration_ms: NonNegativeNumber | MISSING = MISSING
    attributes: JsonRecord | MISSING = MISSING
    error: ErrorInfo | MISSING = MISSING


TraceEvent = Annotated[
    StepStarted
    | StepCompleted
    | ArtifactWritten
    | ArtifactPatched
    | ModelIO
    | ToolCall
    | HumanGateRequested
    | HumanGateResolved
    | RuleChanged
    | PolicyChanged
    | ErrorEvent
    | RunForked
    | Annotation
    | RunStatusChanged
    | SpanStarted
    | SpanEnded,
    Field(discriminator="type"),
]

TRACE_EVENT_TYPES: tuple[str, ...] = (
    "step_started",
    "step_completed",
    "artifact_written",
    "artifact_patch",
    "model_io",
    "tool_call",
    "human_gate_requested",
    "human_gate_resolved",
    "rule_changed",
    "policy_changed",
    "error",
    "run_forked",
    "annotation",
    "run_status_changed",
    "span_started",
    "span_ended",
)

TRACE_EVENT: TypeAdapter[Any] = TypeAdapter(TraceEvent)
TRACE_EVENTS: TypeAdapter[list[Any]] = TypeAdapter(list[TraceEvent])
PATCH_OPS: TypeAdapter[list[Any]] = TypeAdapter(list[JsonPatchOp])
