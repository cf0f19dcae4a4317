"""Engine snapshot members shared by bundles (5.2) and serialized run states (4.2)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from workbench_mcp.protocol.wire_model import PositiveInt, Str, WireModel, without_proto_key

StepStatus = Literal["pending", "running", "completed", "failed"]
GateStatus = Literal["approved", "pending"]


class GateSlots(WireModel):
    """A step's gate state: `before` blocks its start, `after` blocks its successors."""

    before: GateStatus
    after: GateStatus
    checkpoints: Annotated[dict[Str, GateStatus], AfterValidator(without_proto_key)] = Field(default_factory=dict)


class IdempotencyRecord(WireModel):
    artifact_key: Str
    version: PositiveInt


def initial_gate_slots(policy: str) -> GateSlots:
    """docs/protocol.md 2.3: PAUSE_BEFORE and CHECKPOINT start with `before` pending."""
    before: GateStatus = "pending" if policy in ("PAUSE_BEFORE", "CHECKPOINT") else "approved"
    return GateSlots(before=before, after="approved", checkpoints={})
