"""Artifact writes and JSON patches with idempotency keys (docs/protocol.md 6.7)."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import MISSING

from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.guards import require_running
from workbench_mcp.engine.json_patch import PatchError, apply_patch
from workbench_mcp.engine.outcome import Outcome, absent_if_none, appended, make_event
from workbench_mcp.engine.run_state import IdempotencyEntry, RunState, with_entry, with_record
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.artifacts import ArtifactVersion
from workbench_mcp.protocol.canonical_json import canonical_json
from workbench_mcp.protocol.trace_events import ArtifactPatched, ArtifactWritten


def payload_digest(kind: str, body: dict[str, Any]) -> str:
    """What an idempotency key promises: the same key always carries the same request (D12)."""
    present = {key: value for key, value in body.items() if value is not MISSING}
    return hashlib.sha256(canonical_json({"kind": kind, **present}).encode()).hexdigest()


def _require_key(value: str, name: str) -> None:
    if not value.strip():
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"{name} must be a non-empty string")


def _replayed(state: RunState, key: str | None, artifact_key: str, digest: str) -> ArtifactVersion | None:
    """The current version if `key` already produced it; None if the key is new (or empty)."""
    if not key:
        return None
    entry = state.idempotency.get(key)
    if entry is None:
        return None
    if entry.artifact_key != artifact_key:
        raise WorkbenchError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            f'Idempotency key "{key}" was already used for artifact "{entry.artifact_key}"',
        )
    current = state.artifacts.get(artifact_key)
    if current is None or current.version != entry.version:
        now = current.version if current else "missing"
        raise WorkbenchError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            f'Idempotency key "{key}" is stale (artifact "{artifact_key}" is now version {now})',
        )
    if entry.payload_digest is not None and entry.payload_digest != digest:
        raise WorkbenchError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            f'Idempotency key "{key}" was already used with a different payload for artifact "{artifact_key}"',
        )
    return current


def _recorded(state: RunState, key: str | None, artifact_key: str, version: int, digest: str) -> Any:
    if not key:
        return state.idempotency
    return with_record(state.idempotency, key, IdempotencyEntry(artifact_key, version, digest))


def write_artifact(
    state: RunState,
    clock: Clock,
    *,
    artifact_key: str,
    type_id: str,
    data: Any = MISSING,
    pointer: Any = MISSING,
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    """A new version (previous + 1); a replayed key returns the current version and appends nothing."""
    require_running(state, "write artifact")
    _require_key(artifact_key, "artifactKey")
    _require_key(type_id, "typeId")
    digest = payload_digest("write", {"typeId": type_id, "data": data, "pointer": pointer})
    replay = _replayed(state, idempotency_key, artifact_key, digest)
    if replay is not None:
        return Outcome(state, [], replay)
    previous = state.artifacts.get(artifact_key)
    version = (previous.version if previous else 0) + 1
    created_at = clock.now_iso()
    fields = {"artifact_key": artifact_key, "type_id": type_id, "version": version, "created_at": created_at}
    artifact_data: dict[str, Any] = {**fields, "pointer": pointer, "data": data}
    event = make_event(
        ArtifactWritten,
        clock,
        state,
        ts=created_at,
        correlation_id=absent_if_none(correlation_id),
        artifact={k: v for k, v in artifact_data.items() if v is not MISSING},
        idempotency_key=absent_if_none(idempotency_key),
    )
    artifact = event.artifact
    new_state = appended(
        state,
        [event],
        artifacts=with_entry(state.artifacts, artifact_key, artifact),
        idempotency=_recorded(state, idempotency_key, artifact_key, version, digest),
    )
    return Outcome(new_state, [event], artifact)


def patch_artifact(
    state: RunState,
    clock: Clock,
    *,
    artifact_key: str,
    patch: list[Any],
    idempotency_key: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    """Apply RFC 6902 ops to the current data; every check runs before anything changes (D4)."""
    require_running(state, "patch artifact")
    _require_key(artifact_key, "artifactKey")
    if not isinstance(patch, list) or not all(isinstance(op, dict) for op in patch):
        raise WorkbenchError(ErrorCode.INVALID_INPUT, "patch must be an array of JSON Patch operation objects")
    digest = payload_digest("patch", {"patch": patch})
    replay = _replayed(state, idempotency_key, artifact_key, digest)
    if replay is not None:
        return Outcome(state, [], replay)
    previous = state.artifacts.get(artifact_key)
    if previous is None:
        raise WorkbenchError(ErrorCode.UNKNOWN_ARTIFACT, f"Unknown artifactKey: {artifact_key}")
    # The previous pointer's hash describes the previous bytes; it is dropped, not copied (D13).
    pointer = _pointer_without_hash(previous.pointer)
    base = previous.data if previous.data is not MISSING and previous.data is not None else {}
    try:
        new_data = apply_patch(base, patch)
    except PatchError as exc:
        raise WorkbenchError(ErrorCode.PATCH_FAILED, f'JSON Patch failed for "{artifact_key}": {exc}') from None
    version = previous.version + 1
    created_at = clock.now_iso()
    artifact_fields: dict[str, Any] = {
        "artifact_key": artifact_key,
        "type_id": previous.type_id,
        "version": version,
        "created_at": created_at,
        "pointer": pointer,
        "data": new_data,
    }
    event = make_event(
        ArtifactPatched,
        clock,
        state,
        ts=created_at,
        correlation_id=absent_if_none(correlation_id),
        artifact_key=artifact_key,
        from_version=previous.version,
        to_version=version,
        patch=patch,  # strict op schemas are checked here, after the patch applied, as in the reference
        idempotency_key=absent_if_none(idempotency_key),
    )
    artifact = ArtifactVersion.model_validate({k: v for k, v in artifact_fields.items() if v is not MISSING})
    new_state = appended(
        state,
        [event],
        artifacts=with_entry(state.artifacts, artifact_key, artifact),
        idempotency=_recorded(state, idempotency_key, artifact_key, version, digest),
    )
    return Outcome(new_state, [event], artifact)


def _pointer_without_hash(pointer: Any) -> Any:
    if pointer is MISSING:
        return MISSING
    if pointer.kind == "external":
        raise WorkbenchError(
            ErrorCode.INVALID_STATE_TRANSITION,
            "Cannot patch an external artifact: its payload is not held inline (D13)",
        )
    return {"kind": "inline"}
