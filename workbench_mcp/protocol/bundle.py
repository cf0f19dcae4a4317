"""Run bundles (docs/protocol.md section 5): schema, parsing with migration, structural checks, integrity.

Bundles travel as plain JSON trees here. Parsing validates them against the pydantic models and
returns the *normalized* tree (unknown members dropped, defaults filled), because both export
and verification hash exactly that form (5.4).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import MISSING

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.artifacts import ArtifactVersion
from workbench_mcp.protocol.canonical_json import canonical_json, parse_json, sha256_hex
from workbench_mcp.protocol.engine_state import GateSlots, IdempotencyRecord, StepStatus
from workbench_mcp.protocol.json_depth import check_document_depth
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.run import RunInstance
from workbench_mcp.protocol.trace_events import TraceEvent
from workbench_mcp.protocol.validation import parse_model
from workbench_mcp.protocol.wire_model import NonEmptyStr, NonNegativeInt, Str, WireModel
from workbench_mcp.protocol.workflow import WorkflowSpec, check_workflow_structure

PROTOCOL_VERSION = "1.0.0"

Bundle = dict[str, Any]
"""A run bundle as a JSON tree (what is hashed, stored and sent)."""

MAX_BUNDLE_BYTES = 26_214_400
"""25 MiB of compact JSON, the reference's ceiling for a bundle handed in to be checked (and for REST bodies):
the one limit of every bundle check, the tools', the CLI's and the demo page's (offload.check_bundle)."""


class RunBundleEngine(WireModel):
    revision: NonNegativeInt
    step_status: list[tuple[Str, StepStatus]]
    gate_state: list[tuple[Str, GateSlots]]
    idempotency: list[tuple[Str, IdempotencyRecord]]


class Integrity(WireModel):
    sha256: NonEmptyStr


class RunBundle(WireModel):
    protocol_version: Literal["1.0.0"]
    run: RunInstance
    trace: list[TraceEvent]
    artifacts: list[ArtifactVersion]
    rule_sets: list[RuleSet]
    engine: RunBundleEngine | MISSING = MISSING
    integrity: Integrity | MISSING = MISSING


# --- integrity (5.5) -----------------------------------------------------------------------------


def hashed_body(bundle: Bundle) -> dict[str, Any]:
    """The members the integrity hash covers: protocolVersion and integrity are outside (D20)."""
    body = {key: bundle[key] for key in ("run", "trace", "artifacts", "ruleSets")}
    if bundle.get("engine") is not None:
        body["engine"] = bundle["engine"]
    return body


def compute_integrity(bundle: Bundle) -> str:
    return sha256_hex(canonical_json(hashed_body(bundle)))


def attach_integrity(bundle: Bundle) -> Bundle:
    return {**bundle, "integrity": {"sha256": compute_integrity(bundle)}}


def integrity_matches(normalized: Bundle) -> bool:
    """False when the bundle has no integrity hash or it differs (an uppercase digest never matches)."""
    claimed = (normalized.get("integrity") or {}).get("sha256")
    return bool(claimed) and claimed == compute_integrity(normalized)


# --- parsing (5.6) -------------------------------------------------------------------------------


def _check_version(value: Any) -> None:
    # No migrations are registered in 1.0.0: every other version is refused. Arrays are objects
    # in JavaScript, so the reference hands them to migration too (which finds no version).
    if isinstance(value, list):
        version = None
    elif not isinstance(value, dict) or value.get("protocolVersion") == PROTOCOL_VERSION:
        return
    else:
        version = value.get("protocolVersion")
    if not isinstance(version, str):
        raise WorkbenchError(
            ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
            "Run bundle is missing `protocolVersion` and cannot be migrated",
        )
    raise WorkbenchError(
        ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
        f'No migration path from protocolVersion "{version}" to "{PROTOCOL_VERSION}"',
    )


def normalize_bundle(value: Any) -> Bundle:
    """Schema-validate a parsed bundle and return its normalized JSON tree."""
    check_document_depth(value, "run bundle")
    _check_version(value)
    model = parse_model(RunBundle, value, ErrorCode.INVALID_RUN_BUNDLE)
    # Python mode, not JSON mode: JSON mode cannot encode member names holding lone surrogates.
    bundle = model.model_dump()
    if "engine" in bundle:  # [key, value] entries are tuples in the model, arrays on the wire
        bundle["engine"] = {k: [list(e) for e in v] if isinstance(v, list) else v for k, v in bundle["engine"].items()}
    return bundle


def parse_bundle_json(text: str | bytes) -> Bundle:
    """parseRunBundleJson: JSON text -> normalized bundle (INVALID_JSON, UNSUPPORTED_..., INVALID_RUN_BUNDLE)."""
    return normalize_bundle(read_bundle_json(text))


def read_bundle_json(text: str | bytes) -> Any:
    """The JSON tree of a bundle's text, not yet checked (INVALID_JSON naming the bundle)."""
    try:
        return parse_json(text)
    except WorkbenchError as exc:
        if exc.code is ErrorCode.INVALID_JSON:
            raise WorkbenchError(
                ErrorCode.INVALID_JSON, f"Run bundle is not valid JSON: {exc.details.get('reason', exc.message)}"
            ) from None
        raise


def _duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    dupes: set[str] = set()
    for value in values:
        (dupes if value in seen else seen).add(value)
    return sorted(dupes, key=lambda s: s.encode("utf-16-be", "surrogatepass"))


def _refuse_duplicates(values: list[str], label: str) -> None:
    dupes = _duplicates(values)
    if dupes:
        raise WorkbenchError(ErrorCode.INVALID_RUN_BUNDLE, f"Duplicate {label}: {', '.join(dupes)}")


def check_bundle_structure(bundle: Bundle) -> None:
    """The structural invariants of 5.6 on a normalized bundle (the reference skips them in validate, D7)."""
    run = bundle["run"]
    workflow = WorkflowSpec.model_validate(run["workflowSnapshot"])
    check_workflow_structure(workflow)
    if run["workflowId"] != workflow.id:
        raise WorkbenchError(
            ErrorCode.INVALID_RUN_BUNDLE,
            f'Run workflowId "{run["workflowId"]}" does not match workflow snapshot id "{workflow.id}"',
        )
    if run["workflowVersion"] != workflow.version:
        raise WorkbenchError(
            ErrorCode.INVALID_RUN_BUNDLE,
            f"Run workflowVersion {run['workflowVersion']} does not match workflow snapshot version {workflow.version}",
        )
    step_ids = set(workflow.step_ids())
    for event in bundle["trace"]:
        if event["runId"] != run["id"]:
            raise WorkbenchError(
                ErrorCode.INVALID_RUN_BUNDLE,
                f'Trace event "{event["id"]}" belongs to run "{event["runId"]}", expected "{run["id"]}"',
            )
        step_id = event.get("stepId")
        if step_id and step_id not in step_ids:
            raise WorkbenchError(
                ErrorCode.INVALID_RUN_BUNDLE,
                f'Trace event "{event["id"]}" references unknown workflow step "{step_id}"',
            )
    _refuse_duplicates([rs["id"] for rs in bundle["ruleSets"]], "ruleSet ids")
    for rule_set in bundle["ruleSets"]:
        _refuse_duplicates([r["id"] for r in rule_set["rules"]], f'rule ids in ruleSet "{rule_set["id"]}"')
    seen_versions: set[tuple[str, int]] = set()
    for artifact in bundle["artifacts"]:
        key = (artifact["artifactKey"], artifact["version"])
        if key in seen_versions:
            raise WorkbenchError(ErrorCode.INVALID_RUN_BUNDLE, f"Duplicate artifact version: {key[0]}@{key[1]}")
        seen_versions.add(key)
    engine = bundle.get("engine")
    if engine is None:
        return
    _refuse_duplicates([s for s, _ in engine["stepStatus"]], "engine stepStatus keys")
    _refuse_duplicates([s for s, _ in engine["gateState"]], "engine gateState keys")
    for label, entries in (("stepStatus", engine["stepStatus"]), ("gateState", engine["gateState"])):
        for step_id, _ in entries:
            if step_id not in step_ids:
                raise WorkbenchError(
                    ErrorCode.INVALID_RUN_BUNDLE, f'Engine {label} references unknown step "{step_id}"'
                )


def verify_bundle(value: Any) -> bool:
    """verify_run_integrity semantics: parse (5.6 steps 1-3), then compare the hash. Raises on parse errors."""
    normalized = normalize_bundle(value)
    return integrity_matches(normalized)


def validate_bundle(value: Any) -> Bundle:
    """Schema AND structural checks (unlike the reference's validate_run_bundle, D7)."""
    normalized = normalize_bundle(value)
    check_bundle_structure(normalized)
    return normalized
