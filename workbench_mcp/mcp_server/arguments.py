"""Argument types shared by the tools: constraints and descriptions live here, once.

Parameters are named exactly as the protocol names them (`runId`, `stepId`, ...): the SDK
(2.3.0) crashes on `Field(alias=...)` parameters. Every string has a maximum length, so a huge
argument is refused by the schema (INVALID_INPUT) before it reaches the service.

A description is advertised in every tool that takes the argument, on every session, so an argument
gets one only when it says something its name, type and the tool's description do not: ids are
self-explanatory, and `expectedRevision`/`correlationId` (on every tool that changes a run) are
explained once in the server instructions.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from workbench_mcp.mcp_server.schemas import JSON_VALUE
from workbench_mcp.protocol.wire_model import MAX_SAFE_INTEGER

_ID = 256

RunId = Annotated[str, Field(min_length=1, max_length=128)]
StepId = Annotated[str, Field(min_length=1, max_length=_ID)]
# Which gates a step has, and what each decision does, is said once: resolve_gate's description.
Gate = Literal["PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"]
Decision = Literal["approved", "rejected", "edited"]
CheckpointDecision = Literal["approved", "rejected"]
Note = Annotated[str, Field(max_length=10_000, description="Recorded in the trace")]
Reason = Annotated[str, Field(max_length=10_000, description="Why; recorded in the trace")]
Message = Annotated[str, Field(min_length=1, max_length=10_000, description="Error message recorded in the trace")]
ErrorCodeText = Annotated[str, Field(min_length=1, max_length=_ID, description="Your own error code, e.g. TIMEOUT")]
ExpectedRevision = Annotated[
    int,
    Field(ge=0, le=MAX_SAFE_INTEGER),
    # On every mutating tool, so advertised without the 2^53-1 bound every integer has (instructions say so),
    # with a short description for hosts that do not show the model the server instructions.
    WithJsonSchema({"type": "integer", "minimum": 0, "description": "Else REVISION_CONFLICT"}),
]
CorrelationId = Annotated[str, Field(min_length=1, max_length=_ID, description="Stamped on the events written")]
Limit = Annotated[int, Field(ge=1, le=500, description="Default 100")]
Cursor = Annotated[str, Field(min_length=1, max_length=1024, description="nextCursor of the previous page")]
RequestId = Annotated[
    str,
    Field(min_length=1, max_length=_ID, description="Retry key: a repeat with the same arguments returns the same run"),
]
Tags = Annotated[list[Annotated[str, Field(max_length=_ID)]], Field(max_length=64)]
Metadata = Annotated[dict[str, Any], Field(description="Stored on the run")]
BudgetLimits = Annotated[
    dict[str, Any], Field(description="{maxTotalTokens?, maxCost?: {amount, currency}, maxModelCalls?, maxToolCalls?}")
]
ArtifactKey = Annotated[str, Field(min_length=1, max_length=_ID, description="Artifact name, e.g. compiledProfile")]
TypeId = Annotated[str, Field(min_length=1, max_length=_ID, description="Artifact type id, e.g. compiledProfile")]
IdempotencyKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=_ID,
        description="Retry key: a repeat with the same content returns the earlier version (replayed: true)",
    ),
]
JsonValue = Annotated[Any, WithJsonSchema(JSON_VALUE)]
"""Any JSON value; advertised with a `type` on every branch (schemas.JSON_VALUE)."""
ArtifactData = Annotated[JsonValue, Field(description="The artifact's JSON value (any JSON, up to 1 MiB)")]
Profile = Annotated[
    Literal["full", "user"],
    Field(description="full: everything plus the engine snapshot; user: redacted for sharing, no engine"),
]
Attestation = Annotated[
    bool,
    Field(description="true: also return a signed DSSE envelope (in-toto Statement) attesting the full bundle"),
]
BundleArg = Annotated[
    Any,
    # Advertised as an object (a bundle is one); anything else still gets a verdict, not INVALID_INPUT.
    WithJsonSchema({"type": "object"}),
    Field(description="A RunBundle, as export_bundle returns it"),
]
Text = Annotated[str, Field(min_length=1, max_length=100_000)]
ToolName = Annotated[str, Field(min_length=1, max_length=_ID, description="The tool that was called")]
AnyJson = JsonValue
Summary = Annotated[str, Field(max_length=10_000)]
Name = Annotated[str, Field(min_length=1, max_length=_ID)]
DurationMs = Annotated[float, Field(ge=0)]


TokenCount = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER), WithJsonSchema({"type": "integer", "minimum": 0})]
"""Advertised without the 2^53-1 bound every integer has (the instructions say so once)."""


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputTokens: TokenCount | None = None
    outputTokens: TokenCount | None = None
    totalTokens: TokenCount | None = None
    cachedInputTokens: TokenCount | None = None
    reasoningTokens: TokenCount | None = None


class Cost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0)
    currency: str = Field(min_length=1, max_length=16, description="e.g. USD")


class Rule(BaseModel):
    id: str = Field(min_length=1, max_length=_ID)
    priority: int = Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)
    enabled: bool
    label: str | None = Field(None, max_length=10_000)
    payload: JsonValue


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
    """`add`/`replace`/`test` need `value`, `move`/`copy` need `from`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str = Field(max_length=4096, description="JSON Pointer, e.g. /skills/0 ('' = whole document)")
    value: JsonValue = None
    from_: str | None = Field(None, alias="from", max_length=4096)

    def to_wire(self) -> dict[str, Any]:
        # Only the members the caller sent: `value: null` is meaningful, an absent value is not.
        return self.model_dump(by_alias=True, exclude_unset=True)
