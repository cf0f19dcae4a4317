"""What a reviewer decides on: the decision context of one gate of one run (the review link's page).

`decision_context` is pure: it reads a serialized run state (docs/protocol.md 4.2, `RunService.get_run`)
and never touches the store, so the page shows exactly the state the service handed out. Artifact
versions before the latest are not kept in the serialized state; they are replayed from the trace
(`artifact_written` carries each written version, `artifact_patch` the ops the engine applied), which is
the record a bundle's verifier trusts too.
"""

from __future__ import annotations

import copy
import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench_mcp.engine.json_patch import PatchError, apply_patch
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService

MAX_ARTIFACT_CHARS = 20_000
"""A version's text shown on the page beyond this is cut (the bundle holds all of it)."""
MAX_DIFF_LINES = 400
MAX_TRACE_EVENTS = 40
"""The step's (and the run-level) events shown, the most recent ones."""

ArtifactRole = Literal["input", "output", "other"]
_MISSING = object()


@dataclass(frozen=True, slots=True)
class StepView:
    """One workflow step and where it stands."""

    id: str
    title: str
    status: str
    gate_policy: str
    before: str
    """The start gate's slot: `pending` / `approved` (docs/protocol.md 6.3)."""
    after: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ArtifactView:
    """The latest version of one artifact and how it differs from the version before."""

    key: str
    type_id: str
    version: int
    created_at: str
    role: ArtifactRole
    text: str
    """Pretty JSON (or the string itself), cut at MAX_ARTIFACT_CHARS; for external data, a note."""
    truncated: bool
    previous_version: int | None
    diff: str | None
    """Unified diff previous -> latest; None for a first version or when the previous one is unknown."""


@dataclass(frozen=True, slots=True)
class RuleView:
    id: str
    priority: int
    enabled: bool
    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class RuleSetView:
    id: str
    rule_schema_id: str
    rules: tuple[RuleView, ...]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    position: int
    """1-based place of the event in the run's whole trace."""
    type: str
    ts: str
    step_id: str
    event: dict[str, Any]
    """The event itself; pages summarise it (web/demo_page.event_summary)."""


@dataclass(frozen=True, slots=True)
class DecisionContext:
    run_id: str
    workflow_id: str
    workflow_title: str
    workflow_version: int
    run_status: str
    revision: int
    step: StepView
    gate: str
    gate_status: str
    """The gate's slot now: `pending` while it awaits a decision, `approved` once it is open."""
    reason: str | None
    """The reason given with the review request (else the latest `human_gate_requested` of this gate)."""
    dependencies: tuple[StepView, ...]
    """Steps this one waits for (edges into it)."""
    dependents: tuple[StepView, ...]
    """Steps that wait for this one (edges out of it)."""
    artifacts: tuple[ArtifactView, ...]
    """The step's inputs, then its outputs, then every other artifact of the run."""
    rule_sets: tuple[RuleSetView, ...]
    trace: tuple[TraceEntry, ...]
    trace_total: int
    """How many events the run has (the page says how many it leaves out)."""
    decisions: tuple[TraceEntry, ...] = field(default=())
    """Earlier decisions on this step's gates, oldest first."""


async def load_decision_context(
    service: RunService, who: Principal, run_id: str, *, step_id: str, gate: str, reason: str | None = None
) -> DecisionContext:
    """Read the run as `who` (tenant-scoped: another tenant's run is UNKNOWN_RUN) and build the context."""
    return decision_context(await service.reads.get_run(who, run_id), step_id=step_id, gate=gate, reason=reason)


def decision_context(state: dict[str, Any], *, step_id: str, gate: str, reason: str | None = None) -> DecisionContext:
    run = state["run"]
    workflow = run["workflowSnapshot"]
    steps = {str(s["id"]): s for s in workflow.get("steps", [])}
    edges = [(str(e["from"]), str(e["to"])) for e in workflow.get("edges", [])]
    status = {str(k): str(v) for k, v in state["stepStatus"]}
    slots = {str(k): v for k, v in state["gateState"]}

    def view(sid: str) -> StepView:
        step = steps.get(sid, {"id": sid})
        slot = slots.get(sid, {})
        return StepView(
            id=sid,
            title=str(step.get("title", "")),
            status=status.get(sid, "pending"),
            gate_policy=str(step.get("gatePolicy", "AUTO")),
            before=str(slot.get("before", "")),
            after=str(slot.get("after", "")),
            inputs=tuple(str(k) for k in step.get("inputs", [])),
            outputs=tuple(str(k) for k in step.get("outputs", [])),
        )

    step = view(step_id)
    trace: list[dict[str, Any]] = state["trace"]
    return DecisionContext(
        run_id=str(run["id"]),
        workflow_id=str(workflow.get("id", "")),
        workflow_title=str(workflow.get("title") or workflow.get("id", "")),
        workflow_version=int(workflow.get("version", 0)),
        run_status=str(run.get("status", "")),
        revision=int(state["revision"]),
        step=step,
        gate=gate,
        gate_status=step.after if gate == "PAUSE_AFTER" else step.before,
        reason=reason if reason is not None else _requested_reason(trace, step_id, gate),
        dependencies=tuple(view(a) for a in _unique(a for a, b in edges if b == step_id)),
        dependents=tuple(view(b) for b in _unique(b for a, b in edges if a == step_id)),
        artifacts=_artifacts(state["artifactsByKey"], trace, step),
        rule_sets=tuple(_rule_set(rs) for _, rs in state.get("ruleSetsById", [])),
        trace=_relevant_trace(trace, step_id),
        trace_total=len(trace),
        decisions=tuple(
            _entry(i, e)
            for i, e in enumerate(trace, 1)
            if e.get("type") == "human_gate_resolved" and e.get("stepId") == step_id and e.get("gate") == gate
        ),
    )


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))  # parallel edges repeat a step (the reference allows them)


def _requested_reason(trace: list[dict[str, Any]], step_id: str, gate: str) -> str | None:
    for event in reversed(trace):
        if event.get("type") == "human_gate_requested" and event.get("stepId") == step_id and event.get("gate") == gate:
            return str(event["reason"]) if "reason" in event else None
    return None


def _entry(position: int, event: dict[str, Any]) -> TraceEntry:
    return TraceEntry(
        position=position,
        type=str(event.get("type", "")),
        ts=str(event.get("ts", "")),
        step_id=str(event.get("stepId", "")),
        event=event,
    )


def _relevant_trace(trace: list[dict[str, Any]], step_id: str) -> tuple[TraceEntry, ...]:
    """The step's own events and the run-level ones (no step: rule and policy changes, run status), most
    recent MAX_TRACE_EVENTS, oldest first. Other steps' events are one click away in the bundle."""
    relevant = [(i, e) for i, e in enumerate(trace, 1) if e.get("stepId", step_id) == step_id]
    return tuple(_entry(i, e) for i, e in relevant[-MAX_TRACE_EVENTS:])


def _rule_set(rule_set: dict[str, Any]) -> RuleSetView:
    rules = rule_set.get("rules", [])  # stored order: the order the rule set was written in
    return RuleSetView(
        id=str(rule_set.get("id", "")),
        rule_schema_id=str(rule_set.get("ruleSchemaId", "")),
        rules=tuple(
            RuleView(
                id=str(r.get("id", "")),
                priority=int(r.get("priority", 0)),
                enabled=bool(r.get("enabled")),
                label=str(r.get("label", "")),
                payload=_cut(_as_text(r.get("payload")), 2_000)[0],
            )
            for r in rules
        ),
    )


# --- artifacts ----------------------------------------------------------------------------------------------


def _as_text(data: Any) -> str:
    if isinstance(data, str):
        return data
    return json.dumps(data, indent=2, ensure_ascii=False)


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit] + "\n…", True)


def _version_data(trace: list[dict[str, Any]]) -> dict[tuple[str, int], Any]:
    """(artifact key, version) -> data for the two most recent versions of each artifact, replayed from the
    trace. A version held by reference (external) or a patch that no longer applies has no entry."""
    latest: dict[str, tuple[int, Any]] = {}
    previous: dict[str, tuple[int, Any]] = {}
    for event in trace:
        kind = event.get("type")
        if kind == "artifact_written":
            artifact = event.get("artifact") or {}
            key, version, data = (
                str(artifact.get("artifactKey")),
                artifact.get("version"),
                artifact.get("data", _MISSING),
            )
        elif kind == "artifact_patch":
            key, version = str(event.get("artifactKey")), event.get("toVersion")
            base = latest.get(key)
            data = _MISSING
            if base is not None and base[0] == event.get("fromVersion") and base[1] is not _MISSING:
                try:
                    data = apply_patch(copy.deepcopy(base[1] if base[1] is not None else {}), event.get("patch", []))
                except PatchError:
                    data = _MISSING
        else:
            continue
        if not isinstance(version, int):
            continue
        if key in latest:
            previous[key] = latest[key]
        latest[key] = (version, data)
    found: dict[tuple[str, int], Any] = {}
    for versions in (previous, latest):
        for key, (version, data) in versions.items():
            if data is not _MISSING:
                found[(key, version)] = data
    return found


def _artifacts(
    artifacts_by_key: list[list[Any]], trace: list[dict[str, Any]], step: StepView
) -> tuple[ArtifactView, ...]:
    replayed = _version_data(trace)

    def role(key: str) -> ArtifactRole:
        return "input" if key in step.inputs else "output" if key in step.outputs else "other"

    order = {"input": 0, "output": 1, "other": 2}
    views = []
    for key, artifact in artifacts_by_key:
        key = str(key)
        version = int(artifact.get("version", 0))
        if "data" in artifact:
            text, truncated = _cut(_as_text(artifact["data"]), MAX_ARTIFACT_CHARS)
        else:
            ref = (artifact.get("pointer") or {}).get("ref", "")
            text, truncated = f"(external: the data is held by reference {ref})", False
        before = replayed.get((key, version - 1), _MISSING) if version > 1 else _MISSING
        diff = None
        if before is not _MISSING and "data" in artifact:
            diff = _diff(key, version - 1, _as_text(before), version, _as_text(artifact["data"]))
        views.append(
            ArtifactView(
                key=key,
                type_id=str(artifact.get("typeId", "")),
                version=version,
                created_at=str(artifact.get("createdAt", "")),
                role=role(key),
                text=text,
                truncated=truncated,
                previous_version=version - 1 if version > 1 else None,
                diff=diff,
            )
        )
    return tuple(sorted(views, key=lambda v: order[v.role]))  # stable: store order within a role


def _diff(key: str, old_version: int, old: str, new_version: int, new: str) -> str:
    lines = list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), f"{key} v{old_version}", f"{key} v{new_version}", lineterm=""
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"… {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join(lines) if lines else "(no change)"
