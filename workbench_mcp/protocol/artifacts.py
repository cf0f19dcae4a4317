"""Artifact versions and pointers (docs/protocol.md 3.3)."""

from __future__ import annotations

from typing import Literal

from pydantic import MISSING, Field, model_validator

from workbench_mcp.protocol.wire_model import (
    JsonAny,
    NonEmptyStr,
    NonNegativeInt,
    PositiveInt,
    Str,
    Timestamp,
    WireModel,
)


class ArtifactPointer(WireModel):
    kind: Literal["inline", "external"]
    ref: Str | MISSING = MISSING
    payload_hash: Str | MISSING = Field(default=MISSING, pattern=r"^[0-9a-f]{64}$")
    sha256: Str | MISSING = MISSING
    byte_length: NonNegativeInt | MISSING = MISSING

    @model_validator(mode="after")
    def _consistent(self) -> ArtifactPointer:
        # MISSING is truthy: test for presence explicitly (JavaScript's `p.x && ...` on undefined).
        payload_hash = self.payload_hash if self.payload_hash is not MISSING else ""
        sha256 = self.sha256 if self.sha256 is not MISSING else ""
        if payload_hash and sha256 and payload_hash != sha256:
            raise ValueError("ArtifactPointer.payloadHash and sha256 must be equal when both are set")
        if self.kind == "external" and (self.ref is MISSING or not self.ref):
            raise ValueError('ArtifactPointer.ref is required when kind === "external"')
        return self


class ArtifactVersion(WireModel):
    artifact_key: NonEmptyStr
    type_id: NonEmptyStr
    version: PositiveInt
    created_at: Timestamp
    pointer: ArtifactPointer | MISSING = MISSING
    data: JsonAny | MISSING = MISSING
