"""Output schemas of the tools: what `structuredContent` holds (and, as JSON, the text item).

These models only describe results the service already returns; member names are the wire
names, camelCase on purpose. Every model allows extra members, so adding a field to a result
never breaks a client that validates against an older schema.

The SDK validates every successful result against its model before sending it. For the bulky
members (a run's trace, a bundle's artifacts: thousands of objects the service itself built)
that check rebuilt every object and cost ~11% of an export_bundle call, so they are `Built`:
the advertised schema is unchanged, the per-call re-validation is skipped.
"""

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, WithJsonSchema

T = TypeVar("T")
Built = Annotated[T, SkipValidation]
"""A member the service built from validated state: described in the schema, not re-validated per call."""


Pairs = Annotated[
    list[list[Any]],
    WithJsonSchema({"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 2}}),
]
"""A map on the wire: [key, value] pairs, in insertion order."""


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Mutation(_Out):
    ok: bool
    runId: str
    revision: int


class RunMeta(_Out):
    id: str
    workflowId: str
    startedAt: str
    endedAt: str | None = None
    status: str
    tags: list[str] | None = None


class RunList(_Out):
    runs: Built[list[RunMeta]]
    nextCursor: str | None = None


# The protocol's 4.2 wire form: maps travel as arrays of [key, value] pairs, in insertion order. (Comments,
# not docstrings, on these models: a docstring would be advertised in every tools/list as a description.)
class SerializedRun(_Out):
    revision: int
    run: Built[dict[str, Any]]
    trace: Built[list[dict[str, Any]]]
    artifactsByKey: Built[Pairs]
    ruleSetsById: Built[Pairs]
    stepStatus: Built[Pairs]
    gateState: Built[Pairs]
    idempotency: Built[Pairs]


class RunStarted(_Out):
    runId: str
    workflowId: str
    status: str
    revision: int


class WorkflowSummary(_Out):
    id: str
    version: int
    title: str | None = None
    steps: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    ruleSetIds: list[str] = Field(description="Rule sets a new run starts with")


class WorkflowList(_Out):
    workflows: list[WorkflowSummary]


class NextActions(_Out):
    runId: str
    status: str
    pendingGates: list[dict[str, Any]]
    readySteps: list[str]
    runningSteps: list[str]
    blockedSteps: list[dict[str, Any]]
    canCompleteRun: bool
    revision: int


class AuditLog(_Out):
    runId: str
    records: Built[list[dict[str, Any]]]


class BudgetRaised(_Mutation):
    budget: dict[str, Any]


class GateResolved(_Mutation):
    stepId: str
    gate: str
    decision: str
    changed: bool = Field(description="false when the gate was already approved: nothing was recorded")


class ReviewAnswered(_Mutation):  # accept adds resolve_gate's members (decision, pending, approvers)
    stepId: str
    gate: str
    answer: Literal["accept", "decline", "cancel"]
    changed: bool


class GateRequested(_Mutation):
    stepId: str
    gate: str


class DecisionWaited(_Out):
    decided: bool = Field(description="false: the timeout passed first")
    runId: str
    stepId: str
    gate: str
    revision: int
    decision: str | None = None
    principal: str | None = None
    channel: str | None = Field(None, description="The tool or surface that recorded it")
    decidedAt: str | None = None
    note: str | None = None


class CheckpointResolved(_Mutation):
    stepId: str
    checkpointId: str
    decision: str
    changed: bool = Field(description="false when the checkpoint was already approved: nothing was recorded")


class StepResult(_Mutation):
    stepId: str
    reason: dict[str, Any] | None = Field(None, description="Why the step did not start (ok: false)")


class StepFailed(_Mutation):
    stepId: str
    runStatus: str


class RunEnded(_Mutation):
    status: str
    stepsNeverRun: list[str] = Field(
        default_factory=list,
        description="complete_run: steps still pending (never begun, never failed) when the run completed",
    )


class ArtifactWritten(_Mutation):
    artifactKey: str
    version: int
    replayed: bool = Field(description="true when an idempotency key replayed an earlier write (nothing new stored)")


class Recorded(_Mutation):
    eventId: str | None = None


class Bundle(_Out):  # a RunBundle with its integrity hash
    protocolVersion: Literal["1.0.0"]
    run: Built[dict[str, Any]]
    trace: Built[list[dict[str, Any]]]
    artifacts: Built[list[dict[str, Any]]]
    ruleSets: Built[list[dict[str, Any]]]
    engine: Built[dict[str, Any] | None] = None
    integrity: dict[str, Any] | None = None


class IntegrityVerdict(_Out):
    ok: bool
    sha256: str | None = None


class ValidationVerdict(_Out):
    ok: bool
    error: str | None = None
    code: str | None = None
