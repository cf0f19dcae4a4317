"""Between RunState (+ its trace) and the wire forms: serialized states (4.2) and bundles (5.6)."""

from __future__ import annotations

from typing import Any

from workbench_mcp.engine.run_state import IdempotencyEntry, OpenSpan, RunState
from workbench_mcp.protocol.artifacts import ArtifactVersion
from workbench_mcp.protocol.bundle import Bundle
from workbench_mcp.protocol.engine_state import GateSlots, StepStatus, initial_gate_slots
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.run import RunInstance
from workbench_mcp.protocol.serialized_run import SerializedRun, check_state_invariants
from workbench_mcp.protocol.timestamps import epoch_micros
from workbench_mcp.protocol.workflow import POLICIES_WITH_AFTER_GATE, WorkflowSpec

Trace = list[dict[str, Any]]


def engine_entries(state: RunState) -> dict[str, Any]:
    """The engine members shared by the serialized state and the bundle's engine snapshot."""
    return {
        "revision": state.revision,
        "stepStatus": [[step, status] for step, status in state.step_status.items()],
        "gateState": [[step, slots.model_dump()] for step, slots in state.gate_state.items()],
        "idempotency": [
            [key, {"artifactKey": entry.artifact_key, "version": entry.version}]
            for key, entry in state.idempotency.items()
        ],
    }


def to_serialized(state: RunState, trace: Trace) -> dict[str, Any]:
    """The exact wire form HttpRunRepository expects."""
    engine = engine_entries(state)
    return {
        "revision": engine["revision"],
        "run": state.run.model_dump(),
        "trace": trace,
        "artifactsByKey": [[key, a.model_dump()] for key, a in state.artifacts.items()],
        "ruleSetsById": [[key, rs.model_dump()] for key, rs in state.rule_sets.items()],
        "stepStatus": engine["stepStatus"],
        "gateState": engine["gateState"],
        "idempotency": engine["idempotency"],
    }


def from_serialized(serialized: SerializedRun) -> tuple[RunState, Trace]:
    """Checks the 4.4 invariants, then rebuilds the engine state (INVALID_RUN_STATE / INVALID_WORKFLOW)."""
    check_state_invariants(serialized)
    trace = [event.model_dump() for event in serialized.trace]
    state = RunState(
        revision=serialized.revision,
        run=serialized.run,
        step_status=dict(serialized.step_status),
        gate_state=dict(serialized.gate_state),
        artifacts=dict(serialized.artifacts_by_key),
        rule_sets=dict(serialized.rule_sets_by_id),
        idempotency={
            key: IdempotencyEntry(record.artifact_key, record.version) for key, record in serialized.idempotency
        },
        open_spans=open_spans_in(trace),
    )
    return state, trace


def from_bundle(bundle: Bundle) -> tuple[RunState, Trace]:
    """A normalized, structurally checked bundle -> state. Without an engine snapshot the state
    is replayed from the trace with the live transition rules (the reference's inference differs, D11)."""
    run = RunInstance.model_validate(bundle["run"])
    workflow = run.workflow_snapshot
    trace: Trace = bundle["trace"]
    engine = bundle.get("engine")
    if engine is not None:
        revision = engine["revision"]
        step_status: dict[str, StepStatus] = dict(engine["stepStatus"])
        gate_state = {step: GateSlots.model_validate(slots) for step, slots in engine["gateState"]}
        idempotency = {k: IdempotencyEntry(v["artifactKey"], v["version"]) for k, v in engine["idempotency"]}
    else:
        revision = len(trace)
        step_status, gate_state = _replay_steps(workflow, trace)
        idempotency = _replay_idempotency(trace)
    for step in workflow.steps:  # steps missing from an engine snapshot get their defaults
        step_status.setdefault(step.id, "pending")
        gate_state.setdefault(step.id, initial_gate_slots(step.gate_policy))
    artifacts: dict[str, ArtifactVersion] = {}
    for raw in bundle["artifacts"]:
        artifact = ArtifactVersion.model_validate(raw)
        kept = artifacts.get(artifact.artifact_key)
        if kept is None or artifact.version > kept.version:
            artifacts[artifact.artifact_key] = artifact
    state = RunState(
        revision=revision,
        run=run,
        step_status=step_status,
        gate_state=gate_state,
        artifacts=artifacts,
        rule_sets={rs["id"]: RuleSet.model_validate(rs) for rs in bundle["ruleSets"]},
        idempotency=idempotency,
        open_spans=open_spans_in(trace),
    )
    return state, list(trace)


def _replay_steps(workflow: WorkflowSpec, trace: Trace) -> tuple[dict[str, StepStatus], dict[str, GateSlots]]:
    status: dict[str, StepStatus] = {s.id: "pending" for s in workflow.steps}
    gates = {s.id: initial_gate_slots(s.gate_policy) for s in workflow.steps}
    policy = {s.id: s.gate_policy for s in workflow.steps}
    for event in trace:
        step_id = event.get("stepId")
        if step_id not in status:
            continue
        kind = event["type"]
        if kind == "step_started":
            status[step_id] = "running"
        elif kind == "step_completed":
            status[step_id] = "completed" if event["ok"] else "failed"
            if event["ok"] and policy[step_id] in POLICIES_WITH_AFTER_GATE:
                gates[step_id] = gates[step_id].model_copy(update={"after": "pending"})
        elif kind == "human_gate_resolved":
            gates[step_id] = _replay_gate(gates[step_id], event)
    return status, gates


def _replay_gate(slots: GateSlots, event: dict[str, Any]) -> GateSlots:
    approved = event["decision"] != "rejected"
    gate, note = event["gate"], event.get("note")
    if gate == "PAUSE_BEFORE":
        return slots.model_copy(update={"before": "approved" if approved else "pending"})
    if gate == "PAUSE_AFTER":
        return slots.model_copy(update={"after": "approved" if approved else "pending"})
    # resolveCheckpoint writes note=checkpointId and never "edited"; resolveGate(CHECKPOINT) may carry
    # a free-text note. The events are otherwise identical, so this is the closest reading.
    if note and event["decision"] != "edited":
        checkpoints = {**slots.checkpoints, note: "approved" if approved else "pending"}
        return slots.model_copy(update={"checkpoints": checkpoints})
    return slots.model_copy(update={"before": "approved"}) if approved else slots


def _replay_idempotency(trace: Trace) -> dict[str, IdempotencyEntry]:
    """The reference drops idempotency records on inference (D11); the events carry them."""
    records: dict[str, IdempotencyEntry] = {}
    for event in trace:
        key = event.get("idempotencyKey")
        if not key:
            continue
        if event["type"] == "artifact_written":
            records[key] = IdempotencyEntry(event["artifact"]["artifactKey"], event["artifact"]["version"])
        elif event["type"] == "artifact_patch":
            records[key] = IdempotencyEntry(event["artifactKey"], event["toVersion"])
    return records


def open_spans_in(trace: Trace) -> dict[str, OpenSpan]:
    """Spans started and not yet ended; their start time is read from the event timestamp."""
    spans: dict[str, OpenSpan] = {}
    for event in trace:
        if event["type"] == "span_started":
            started_ms = _epoch_ms(event["ts"])
            spans[event["spanId"]] = OpenSpan(
                event["spanId"], started_ms, event.get("stepId"), event.get("correlationId")
            )
        elif event["type"] == "span_ended":
            spans.pop(event["spanId"], None)
    return spans


def _epoch_ms(timestamp: str) -> float:
    return epoch_micros(timestamp) / 1000.0
