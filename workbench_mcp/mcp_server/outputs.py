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

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

T = TypeVar("T")
Built = Annotated[T, SkipValidation]
"""A member the service built from validated state: described in the schema, not re-validated per call."""


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Mutation(_Out):
    ok: bool = Field(description="true when the operation was applied")
    runId: str
    revision: int = Field(description="The run's revision after the call; pass it as expectedRevision next time")


class RunMeta(_Out):
    id: str
    workflowId: str
    startedAt: str
    endedAt: str | None = None
    status: str
    tags: list[str] | None = None


class RunList(_Out):
    runs: Built[list[RunMeta]] = Field(description="SavedRunMeta objects, newest first")
    nextCursor: str | None = Field(None, description="Pass as `cursor` to get the next page; absent on the last page")


class SerializedRun(_Out):
    """docs/protocol.md 4.2: maps travel as arrays of [key, value] pairs, in insertion order."""

    revision: int
    run: Built[dict[str, Any]]
    trace: Built[list[dict[str, Any]]]
    artifactsByKey: Built[list[list[Any]]]
    ruleSetsById: Built[list[list[Any]]]
    stepStatus: Built[list[list[Any]]]
    gateState: Built[list[list[Any]]]
    idempotency: Built[list[list[Any]]]


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
    ruleSetIds: list[str] = Field(description="Rule sets a new run of this workflow starts with")


class WorkflowList(_Out):
    workflows: list[WorkflowSummary]


class NextActions(_Out):
    runId: str
    status: str
    pendingGates: list[dict[str, Any]] = Field(
        description="{stepId, gate}: resolve_gate takes a decision on it now; "
        "{stepId, gate, checkpointId}: resolve_checkpoint does"
    )
    readySteps: list[str] = Field(description="Steps begin_step would start now")
    runningSteps: list[str]
    blockedSteps: list[dict[str, Any]] = Field(description="Pending steps that cannot start yet, with the reason")
    canCompleteRun: bool = Field(description="Every step completed or failed and none running")
    revision: int


class GateResolved(_Mutation):
    stepId: str
    gate: str
    decision: str
    changed: bool = Field(description="false when the gate was already approved: nothing was recorded")


class GateRequested(_Mutation):
    stepId: str
    gate: str


class CheckpointResolved(_Mutation):
    stepId: str
    checkpointId: str
    decision: str
    changed: bool = Field(description="false when the checkpoint was already approved: nothing was recorded")


class StepResult(_Mutation):
    stepId: str
    reason: dict[str, Any] | None = Field(None, description="Why begin_step did not start the step (ok: false)")


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
    eventId: str | None = Field(None, description="Id of the trace event written")


class Bundle(_Out):
    """A RunBundle (docs/protocol.md 5.1) with its integrity hash."""

    protocolVersion: Literal["1.0.0"]
    run: Built[dict[str, Any]]
    trace: Built[list[dict[str, Any]]]
    artifacts: Built[list[dict[str, Any]]]
    ruleSets: Built[list[dict[str, Any]]]
    engine: Built[dict[str, Any] | None] = None
    integrity: dict[str, Any] | None = None


class IntegrityVerdict(_Out):
    ok: bool = Field(description="true when integrity.sha256 matches the bundle's canonical JSON")
    sha256: str | None = Field(None, description="The hash the bundle claims; absent if it has none")


class ValidationVerdict(_Out):
    ok: bool
    error: str | None = None
    code: str | None = None
