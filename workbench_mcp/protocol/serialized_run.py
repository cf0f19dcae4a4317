"""The serialized run-store state (docs/protocol.md 4.2): what HttpRunRepository PUTs and GETs.

Maps travel as arrays of `[key, value]` entries in insertion order. Reading is lenient where the
reference is (missing revision is 0, missing arrays are empty, duplicate keys collapse with the
last one winning), and strict where it is not: every member is schema-checked (D17).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.artifacts import ArtifactVersion
from workbench_mcp.protocol.engine_state import GateSlots, IdempotencyRecord, StepStatus
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.run import RunInstance
from workbench_mcp.protocol.trace_events import TraceEvent
from workbench_mcp.protocol.validation import parse_model
from workbench_mcp.protocol.wire_model import NonNegativeInt, Str, WireModel
from workbench_mcp.protocol.workflow import check_workflow_structure

MAP_MEMBERS = ("artifactsByKey", "ruleSetsById", "stepStatus", "gateState", "idempotency")


class SerializedRun(WireModel):
    """SerializedRunStoreState: the whole state of one run, maps as `[key, value]` entries."""

    revision: NonNegativeInt = 0
    run: RunInstance
    trace: list[TraceEvent] = Field(default_factory=list)
    artifacts_by_key: list[tuple[Str, ArtifactVersion]] = Field(default_factory=list)
    rule_sets_by_id: list[tuple[Str, RuleSet]] = Field(default_factory=list)
    step_status: list[tuple[Str, StepStatus]] = Field(default_factory=list)
    gate_state: list[tuple[Str, GateSlots]] = Field(default_factory=list)
    idempotency: list[tuple[Str, IdempotencyRecord]] = Field(default_factory=list)


def _collapse(entries: list[Any], member: str) -> list[Any]:
    """Duplicate keys collapse, last wins, keeping the first key's position (JS Map semantics)."""
    collapsed: dict[Any, Any] = {}
    for entry in entries:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str):
            raise WorkbenchError(
                ErrorCode.INVALID_RUN_STATE,
                f"{member}: every entry must be a [key, value] pair with a string key",
            )
        collapsed[entry[0]] = entry[1]
    return [[key, value] for key, value in collapsed.items()]


def read_serialized_run(value: Any) -> SerializedRun:
    """Reference reading rules, then full schema validation (INVALID_RUN_STATE)."""
    if not isinstance(value, dict) or "run" not in value:
        raise WorkbenchError(ErrorCode.INVALID_RUN_STATE, "Body is not a serialized run (no `run` member)")
    revision = value.get("revision")  # the reference reads `row.revision ?? 0`: null counts as missing
    lenient: dict[str, Any] = {"run": value["run"], "revision": 0 if revision is None else revision}
    trace = value.get("trace")
    lenient["trace"] = trace if isinstance(trace, list) else []
    for member in MAP_MEMBERS:
        entries = value.get(member)
        lenient[member] = _collapse(entries, member) if isinstance(entries, list) else []
    return parse_model(SerializedRun, lenient, ErrorCode.INVALID_RUN_STATE, "Invalid run state: ")


def _state_error(message: str) -> WorkbenchError:
    return WorkbenchError(ErrorCode.INVALID_RUN_STATE, message)


def check_state_invariants(state: SerializedRun) -> None:
    """docs/protocol.md 4.4, in order; the first failure wins."""
    run = state.run
    workflow = run.workflow_snapshot
    check_workflow_structure(workflow)
    if run.workflow_id != workflow.id:
        raise _state_error(f'Run workflowId "{run.workflow_id}" does not match workflow snapshot id "{workflow.id}"')
    if run.workflow_version != workflow.version:
        raise _state_error(
            f"Run workflowVersion {run.workflow_version} does not match workflow snapshot version {workflow.version}"
        )
    statuses = dict(state.step_status)
    gates = dict(state.gate_state)
    step_ids = set(workflow.step_ids())
    for step in workflow.steps:
        if step.id not in statuses:
            raise _state_error(f'Run state is missing status for step "{step.id}"')
        if step.id not in gates:
            raise _state_error(f'Run state is missing gate state for step "{step.id}"')
    for label, keys in (("status", statuses), ("gate state", gates)):
        for step_id in keys:
            if step_id not in step_ids:
                raise _state_error(f'Run state has {label} for unknown step "{step_id}"')
    for event in state.trace:
        if event.run_id != run.id:
            raise _state_error(f'Trace event "{event.id}" belongs to run "{event.run_id}", expected "{run.id}"')
        if isinstance(event.step_id, str) and event.step_id and event.step_id not in step_ids:
            raise _state_error(f'Trace event "{event.id}" references unknown step "{event.step_id}"')
    for key, artifact in state.artifacts_by_key:
        if artifact.artifact_key != key:
            raise _state_error(f'Artifact map key "{key}" does not match artifactKey "{artifact.artifact_key}"')
    for key, rule_set in state.rule_sets_by_id:
        if rule_set.id != key:
            raise _state_error(f'RuleSet map key "{key}" does not match ruleSet id "{rule_set.id}"')
