"""Run instances (docs/protocol.md 3.1) and run listing metadata (4.3)."""

from __future__ import annotations

from typing import Literal

from pydantic import MISSING, Field, model_validator

from workbench_mcp.protocol.wire_model import (
    JsonRecord,
    NonEmptyStr,
    NonNegativeInt,
    PositiveInt,
    Str,
    StrictWireModel,
    Timestamp,
    WireModel,
)
from workbench_mcp.protocol.workflow import WorkflowSpec

RunStatus = Literal["running", "completed", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class PinnedArtifact(WireModel):
    artifact_key: Str
    version: PositiveInt


class RunContextRef(WireModel):
    parent_run_id: NonEmptyStr | MISSING = MISSING
    parent_run_ids: list[NonEmptyStr] | MISSING = Field(default=MISSING, min_length=1)
    forked_from_step_id: Str | MISSING = MISSING
    pinned_artifacts: list[PinnedArtifact] | MISSING = MISSING

    @model_validator(mode="after")
    def _names_a_parent(self) -> RunContextRef:
        has_single = self.parent_run_id is not MISSING
        has_plural = self.parent_run_ids is not MISSING and len(self.parent_run_ids) > 0
        if not has_single and not has_plural:
            raise ValueError("RunContextRef requires parentRunId or non-empty parentRunIds")
        if has_single and has_plural and self.parent_run_ids[0] != self.parent_run_id:  # type: ignore[index]
            raise ValueError("RunContextRef.parentRunIds[0] must equal parentRunId when both are set")
        return self


class RunSubjectRef(StrictWireModel):
    user_id: NonEmptyStr | MISSING = MISSING
    tenant_id: NonEmptyStr | MISSING = MISSING
    account_id: NonEmptyStr | MISSING = MISSING
    plan_id: NonEmptyStr | MISSING = MISSING


class RunAnnotation(WireModel):
    """Defined by the protocol but never written by any operation (D19)."""

    at: Timestamp
    text: Str


class RunInstance(WireModel):
    id: NonEmptyStr
    workflow_id: NonEmptyStr
    workflow_version: NonNegativeInt
    workflow_snapshot: WorkflowSpec
    started_at: Timestamp
    ended_at: Timestamp | MISSING = MISSING
    status: RunStatus
    context: RunContextRef | MISSING = MISSING
    subject: RunSubjectRef | MISSING = MISSING
    metadata: JsonRecord | MISSING = MISSING
    tags: list[Str] | MISSING = MISSING
    annotations: list[RunAnnotation] | MISSING = MISSING

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class SavedRunMeta(WireModel):
    """One row of a run listing, newest first."""

    id: Str
    workflow_id: Str
    started_at: Str
    ended_at: Str | MISSING = MISSING
    status: Str
    tags: list[Str] | MISSING = MISSING
