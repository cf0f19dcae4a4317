"""Artifact tools: write a new version (core); patch the latest version with JSON Patch (telemetry)."""

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp import results as o
from workbench_mcp.commands import PatchArtifact, WriteArtifact
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server.tool_spec import ToolFn, ToolSpec, executed
from workbench_mcp.service import RunService

Patch = Annotated[list[a.PatchOp], Field(max_length=10_000, description="Applied in order")]


def _write_artifact(service: RunService) -> ToolFn:
    async def write_artifact(
        runId: a.RunId,
        artifactKey: a.ArtifactKey,
        typeId: a.TypeId,
        data: a.ArtifactData,
        idempotencyKey: a.IdempotencyKey | None = None,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.ArtifactWritten]:
        command = WriteArtifact(artifact_key=artifactKey, type_id=typeId, data=data, idempotency_key=idempotencyKey)
        return await executed(service, runId, command, expectedRevision, correlationId)

    return write_artifact


def _patch_artifact(service: RunService) -> ToolFn:
    async def patch_artifact(
        runId: a.RunId,
        artifactKey: a.ArtifactKey,
        patch: Patch,
        idempotencyKey: a.IdempotencyKey | None = None,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.ArtifactWritten]:
        ops = [op.to_wire() for op in patch]
        command = PatchArtifact(artifact_key=artifactKey, patch=ops, idempotency_key=idempotencyKey)
        return await executed(service, runId, command, expectedRevision, correlationId)

    return patch_artifact


TOOLS = [
    ToolSpec(
        "write_artifact",
        Toolset.CORE,
        "Write an artifact",
        "Store a new version of a run's artifact (version = previous + 1; earlier versions stay in the trace). "
        "Returns {ok, runId, artifactKey, version, replayed, revision}. Errors: IDEMPOTENCY_CONFLICT (key used for "
        "other data or another artifact, or its version since superseded).",
        read_only=False,
        build=_write_artifact,
        idempotent=False,  # without an idempotencyKey every call stores a new version
        destructive=False,
    ),
    ToolSpec(
        "patch_artifact",
        Toolset.TELEMETRY,
        "Patch an artifact",
        "Apply RFC 6902 JSON Patch operations to the latest version of an artifact, storing the result as a new "
        "version. Errors: UNKNOWN_ARTIFACT, PATCH_FAILED (nothing changed), IDEMPOTENCY_CONFLICT.",
        read_only=False,
        build=_patch_artifact,
        idempotent=False,
        destructive=False,
    ),
]
