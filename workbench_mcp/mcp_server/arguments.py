"""Argument types shared by the tools: constraints and descriptions live here, once.

Parameters are named exactly as the protocol names them (`runId`, `stepId`, ...): the SDK
(2.3.0) crashes on `Field(alias=...)` parameters. Every string has a maximum length, so a huge
argument is refused by the schema (INVALID_INPUT) before it reaches the service.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench_mcp.protocol.wire_model import MAX_SAFE_INTEGER

_ID = 256

RunId = Annotated[
    str,
    Field(min_length=1, max_length=128, description="Run id as returned by start_run or list_runs (run_...)"),
]
StepId = Annotated[str, Field(min_length=1, max_length=_ID, description="Workflow step id, e.g. parser1")]
Gate = Annotated[
    Literal["PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"],
    Field(description="Which gate of the step: PAUSE_BEFORE (before it starts), PAUSE_AFTER (after it completes)"),
]
Decision = Annotated[
    Literal["approved", "rejected", "edited"],
    Field(description="approved or edited open the gate; rejected closes it (PAUSE_BEFORE/PAUSE_AFTER)"),
]
CheckpointDecision = Literal["approved", "rejected"]
Note = Annotated[str, Field(max_length=10_000, description="Free text kept in the trace")]
Reason = Annotated[str, Field(max_length=10_000, description="Why; recorded in the trace")]
Message = Annotated[str, Field(min_length=1, max_length=10_000, description="Error message recorded in the trace")]
ErrorCodeText = Annotated[str, Field(min_length=1, max_length=_ID, description="Your own error code, e.g. TIMEOUT")]
ExpectedRevision = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_SAFE_INTEGER,
        description="Refuse with REVISION_CONFLICT unless the run is still at this revision (optimistic concurrency)",
    ),
]
CorrelationId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=_ID,
        description="Your id for a multi-call action; stamped on every trace event this call writes",
    ),
]
Limit = Annotated[int, Field(ge=1, le=500, description="Page size, 1..500 (default 100)")]
Cursor = Annotated[str, Field(min_length=1, max_length=1024, description="nextCursor of the previous page")]
RequestId = Annotated[
    str,
    Field(min_length=1, max_length=_ID, description="Retry key: repeating start_run with it returns the same run"),
]
Tags = Annotated[list[Annotated[str, Field(max_length=_ID)]], Field(max_length=64, description="Labels for the run")]
Metadata = Annotated[dict[str, Any], Field(description="Free-form JSON object stored on the run")]
ArtifactKey = Annotated[str, Field(min_length=1, max_length=_ID, description="Artifact name, e.g. compiledProfile")]
TypeId = Annotated[str, Field(min_length=1, max_length=_ID, description="Artifact type id, e.g. compiledProfile")]
IdempotencyKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=_ID,
        description="Retry key: the same key with the same data returns the earlier version instead of a new one",
    ),
]
ArtifactData = Annotated[Any, Field(description="The artifact's JSON value (any JSON, up to 1 MiB)")]
Profile = Annotated[
    Literal["full", "user"],
    Field(description="full: everything plus the engine snapshot; user: redacted for sharing, no engine"),
]
Attestation = Annotated[
    bool,
    Field(description="true: also return a signed DSSE envelope (in-toto Statement) attesting the full bundle"),
]
BundleArg = Annotated[Any, Field(description="A RunBundle JSON object (as export_bundle returns)")]
Text = Annotated[str, Field(min_length=1, max_length=100_000, description="Annotation text")]
ToolName = Annotated[str, Field(min_length=1, max_length=_ID, description="Name of the tool that was called")]
AnyJson = Annotated[Any, Field(description="Any JSON value")]
Summary = Annotated[str, Field(max_length=10_000, description="Short human-readable summary")]
Name = Annotated[str, Field(min_length=1, max_length=_ID)]
DurationMs = Annotated[float, Field(ge=0, description="Duration in milliseconds")]


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputTokens: int | None = Field(None, ge=0, le=MAX_SAFE_INTEGER)
    outputTokens: int | None = Field(None, ge=0, le=MAX_SAFE_INTEGER)
    totalTokens: int | None = Field(None, ge=0, le=MAX_SAFE_INTEGER)
    cachedInputTokens: int | None = Field(None, ge=0, le=MAX_SAFE_INTEGER)
    reasoningTokens: int | None = Field(None, ge=0, le=MAX_SAFE_INTEGER)


class Cost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0)
    currency: str = Field(min_length=1, max_length=16, description="e.g. USD")


class Rule(BaseModel):
    id: str = Field(min_length=1, max_length=_ID)
    priority: int = Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)
    enabled: bool
    label: str | None = Field(None, max_length=10_000)
    payload: Any = Field(description="The rule's JSON payload (null allowed)")


class RuleSetArg(BaseModel):
    id: str = Field(min_length=1, max_length=_ID)
    ruleSchemaId: str = Field(min_length=1, max_length=_ID)
    rules: list[Rule] = Field(max_length=10_000)

    def to_wire(self) -> dict[str, Any]:
        rules = [
            {k: v for k, v in rule.model_dump().items() if not (k == "label" and v is None)} for rule in self.rules
        ]
        return {"id": self.id, "ruleSchemaId": self.ruleSchemaId, "rules": rules}


class PatchOp(BaseModel):
    """One RFC 6902 operation: `add`/`replace`/`test` need `value`, `move`/`copy` need `from`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str = Field(max_length=4096, description="JSON Pointer, e.g. /skills/0 ('' = whole document)")
    value: Any = None
    from_: str | None = Field(None, alias="from", max_length=4096)

    def to_wire(self) -> dict[str, Any]:
        # Only the members the caller sent: `value: null` is meaningful, an absent value is not.
        return self.model_dump(by_alias=True, exclude_unset=True)
