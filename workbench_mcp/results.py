"""The results of the service, declared once: what RunService returns and what the MCP tools advertise as
their output schemas (`structuredContent`, and as JSON the text item).

Member names are the wire names, camelCase on purpose. Every model allows extra members, so adding a field
to a result never breaks a client that validates against an older schema. A result carries only the members
it was built with (`wire()`): an optional member the service did not set is absent, not null, as before.

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


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")
    # The order the members were given in: a plain slot, not a pydantic PrivateAttr, whose setter would cost
    # more than the rest of building a small result (a result validated from JSON has none: schema order).
    __slots__ = ("_order",)

    def __init__(self, **members: Any) -> None:
        super().__init__(**members)
        object.__setattr__(self, "_order", tuple(members))

    def wire(self) -> dict[str, Any]:
        """The JSON-ready result: the members it was built with (extras included), in the order they were
        given (the text item's order, unchanged since results were dicts), then any set later."""
        dumped = self.model_dump(exclude_unset=True)
        order: tuple[str, ...] = getattr(self, "_order", ())
        ordered = {member: dumped.pop(member) for member in order if member in dumped}
        return ordered | dumped

    # Results were plain dicts before they were typed; callers (tests, the review channels) still read
    # members by wire name, so a result answers `result["runId"]` and `"note" in result` the same way.
    def __getitem__(self, member: str) -> Any:
        if member in self.model_fields_set:
            return getattr(self, member)
        extra = self.__pydantic_extra__ or {}
        if member in extra:
            return extra[member]
        raise KeyError(member)

    def __contains__(self, member: object) -> bool:
        return member in self.model_fields_set or member in (self.__pydantic_extra__ or {})

    def keys(self) -> list[str]:
        """With __getitem__, what `dict(result)` and `{**result}` need."""
        return list(self.wire())

    def get(self, member: str, default: Any = None) -> Any:
        try:
            return self[member]
        except KeyError:
            return default


class Mutation(Result):
    ok: bool
    runId: str
    revision: int


class RunMeta(Result):
    id: str
    workflowId: str
    startedAt: str
    endedAt: str | None = None
    status: str
    tags: list[str] | None = None


class RunList(Result):
    runs: Built[list[RunMeta]]
    nextCursor: str | None = None


# The protocol's 4.2 wire form: maps travel as arrays of [key, value] pairs, in insertion order. (Comments,
# not docstrings, on these models: a docstring would be advertised in every tools/list as a description.)
class SerializedRun(Result):
    revision: int
    run: Built[dict[str, Any]]
    trace: Built[list[dict[str, Any]]]
    artifactsByKey: Built[Pairs]
    ruleSetsById: Built[Pairs]
    stepStatus: Built[Pairs]
    gateState: Built[Pairs]
    idempotency: Built[Pairs]


class RunStarted(Result):
    runId: str
    workflowId: str
    status: str
    revision: int


class WorkflowSummary(Result):
    id: str
    version: int
    title: str | None = None
    steps: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    ruleSetIds: list[str] = Field(description="Rule sets a new run starts with")


class WorkflowList(Result):
    workflows: list[WorkflowSummary]


# The lists are the engine's (readiness.py), built from validated state on every next_actions call.
class NextActions(Result):
    runId: str
    status: str
    pendingGates: Built[list[dict[str, Any]]]
    readySteps: Built[list[str]]
    runningSteps: Built[list[str]]
    blockedSteps: Built[list[dict[str, Any]]]
    canCompleteRun: bool
    revision: int


class AuditLog(Result):
    runId: str
    records: Built[list[dict[str, Any]]]


class BudgetRaised(Mutation):
    budget: dict[str, Any]


class GateResolved(Mutation):
    stepId: str
    gate: str
    decision: str
    changed: bool = Field(description="false when the gate was already approved: nothing was recorded")


class ReviewAnswered(Mutation):  # accept adds resolve_gate's members (decision, pending, approvers)
    stepId: str
    gate: str
    answer: Literal["accept", "decline", "cancel"]
    changed: bool


class GateRequested(Mutation):
    stepId: str
    gate: str


# Also stepId, gate, requestId, gateRequested: left out of the advertised schema (tools/list size budget).
class ReviewRequested(Mutation):
    notified: list[str]
    expiresAt: str


class DecisionWaited(Result):
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


class CheckpointResolved(Mutation):
    stepId: str
    checkpointId: str
    decision: str
    changed: bool = Field(description="false when the checkpoint was already approved: nothing was recorded")


class StepResult(Mutation):
    stepId: str
    reason: dict[str, Any] | None = Field(None, description="Why the step did not start (ok: false)")


class StepFailed(Mutation):
    stepId: str
    runStatus: str


class RunEnded(Mutation):
    status: str
    stepsNeverRun: list[str] = Field(
        default_factory=list,
        description="complete_run: steps still pending (never begun, never failed) when the run completed",
    )


class ArtifactWritten(Mutation):
    artifactKey: str
    version: int
    replayed: bool = Field(description="true when an idempotency key replayed an earlier write (nothing new stored)")


class Recorded(Mutation):
    eventId: str | None = None


class Bundle(Result):  # a RunBundle with its integrity hash
    protocolVersion: Literal["1.0.0"]
    run: Built[dict[str, Any]]
    trace: Built[list[dict[str, Any]]]
    artifacts: Built[list[dict[str, Any]]]
    ruleSets: Built[list[dict[str, Any]]]
    engine: Built[dict[str, Any] | None] = None
    integrity: dict[str, Any] | None = None


class IntegrityVerdict(Result):
    ok: bool
    sha256: str | None = None


class ValidationVerdict(Result):
    ok: bool
    error: str | None = None
    code: str | None = None
