"""Starting runs and their terminal transitions (docs/protocol.md 6.2, 6.6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import MISSING

from workbench_mcp.engine.clock import Clock, new_id
from workbench_mcp.engine.guards import require_running
from workbench_mcp.engine.outcome import Outcome, absent_if_none, appended, make_event
from workbench_mcp.engine.readiness import steps_never_run
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.artifacts import ArtifactVersion
from workbench_mcp.protocol.engine_state import initial_gate_slots
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.run import RunContextRef, RunInstance, RunSubjectRef
from workbench_mcp.protocol.trace_events import ArtifactWritten, ErrorEvent, RuleChanged, RunStatusChanged
from workbench_mcp.protocol.validation import parse_model
from workbench_mcp.protocol.workflow import WorkflowSpec, check_workflow_structure


@dataclass(frozen=True, slots=True)
class InitialArtifact:
    artifact_key: str
    type_id: str
    data: Any = MISSING
    pointer: Any = MISSING


@dataclass(frozen=True, slots=True)
class StartRun:
    workflow: Any
    rule_sets: Sequence[Any] = ()
    initial_artifacts: Sequence[InitialArtifact] = ()
    context: Any = None
    subject: Any = None
    metadata: Any = None
    tags: Sequence[str] | None = None
    correlation_id: str | None = None


def parse_workflow(raw: Any) -> WorkflowSpec:
    """Schema then structure, both INVALID_WORKFLOW."""
    workflow = (
        raw
        if isinstance(raw, WorkflowSpec)
        else parse_model(WorkflowSpec, raw, ErrorCode.INVALID_WORKFLOW, "Invalid workflow: ")
    )
    check_workflow_structure(workflow)
    return workflow


def _run_instance(run_id: str, started_at: str, workflow: WorkflowSpec, command: StartRun) -> RunInstance:
    # Unlike the reference (D24), context, subject, metadata and tags are validated at start,
    # so an invalid value can never make a later export fail.
    fields: dict[str, Any] = {
        "id": run_id,
        "workflow_id": workflow.id,
        "workflow_version": workflow.version,
        "workflow_snapshot": workflow,
        "started_at": started_at,
        "status": "running",
    }
    if command.context is not None:
        fields["context"] = parse_model(RunContextRef, command.context, ErrorCode.INVALID_INPUT, "context: ")
    if command.subject is not None:
        fields["subject"] = parse_model(RunSubjectRef, command.subject, ErrorCode.INVALID_INPUT, "subject: ")
    if command.metadata is not None:
        fields["metadata"] = command.metadata
    if command.tags is not None:
        fields["tags"] = list(command.tags)
    return parse_model(RunInstance, fields, ErrorCode.INVALID_INPUT)


def start_run(clock: Clock, command: StartRun) -> Outcome:
    """A new run: every step pending, initial artifacts at version 1, then one rule_changed per set."""
    run_id = new_id(clock, "run")
    started_at = clock.now_iso()
    workflow = parse_workflow(command.workflow)
    run = _run_instance(run_id, started_at, workflow, command)
    # As in the reference, a bad rule set is found when its rule_changed event is appended.
    rule_sets = [
        parse_model(RuleSet, rs, ErrorCode.INVALID_TRACE_EVENT, "Invalid trace event: snapshot: ")
        for rs in command.rule_sets
    ]
    state = RunState(
        revision=0,
        run=run,
        step_status={s.id: "pending" for s in workflow.steps},
        gate_state={s.id: initial_gate_slots(s.gate_policy) for s in workflow.steps},
        rule_sets={rs.id: rs for rs in rule_sets},  # duplicate ids: last wins
    )
    events: list[Any] = []
    correlation = absent_if_none(command.correlation_id)
    artifacts: dict[str, ArtifactVersion] = {}
    for initial in command.initial_artifacts:
        artifact = parse_model(
            ArtifactVersion,
            {
                "artifact_key": initial.artifact_key,
                "type_id": initial.type_id,
                "version": 1,
                "created_at": started_at,
                "pointer": initial.pointer,
                "data": initial.data,
            },
            # The reference finds a bad initial artifact when it appends the artifact_written event.
            ErrorCode.INVALID_TRACE_EVENT,
            "Invalid trace event: artifact: ",
        )
        artifacts[artifact.artifact_key] = artifact
        events.append(
            make_event(ArtifactWritten, clock, state, ts=started_at, correlation_id=correlation, artifact=artifact)
        )
    for rule_set in rule_sets:
        events.append(
            make_event(
                RuleChanged,
                clock,
                state,
                ts=started_at,
                correlation_id=correlation,
                rule_set_id=rule_set.id,
                snapshot=rule_set,
            )
        )
    return Outcome(appended(state, events, artifacts=artifacts), events, {"runId": run_id})


def _transition(
    state: RunState,
    clock: Clock,
    status: str,
    *,
    reason: str | None,
    error: dict[str, Any] | None,
    correlation_id: str | None,
) -> Outcome:
    check_can_end_run(state, status)
    ended_at = clock.now_iso()
    events: list[Any] = [
        make_event(
            RunStatusChanged,
            clock,
            state,
            ts=ended_at,
            correlation_id=absent_if_none(correlation_id),
            status=status,
            reason=absent_if_none(reason if reason is not None else (error or {}).get("message")),
        )
    ]
    if error is not None:
        events.append(
            make_event(
                ErrorEvent,
                clock,
                state,
                ts=ended_at,
                correlation_id=absent_if_none(correlation_id),
                message=error["message"],
                code=absent_if_none(error.get("code")),
                fatal=True,
            )
        )
    run = state.run.model_copy(update={"status": status, "ended_at": ended_at})
    return Outcome(appended(state, events, run=run, open_spans={}), events)


def complete_run(
    state: RunState, clock: Clock, *, reason: str | None = None, correlation_id: str | None = None
) -> Outcome:
    """Completes the run even with steps that never ran (as the reference does), but says which (D19).

    The result is `{"stepsNeverRun": [...]}` when some step is still pending, else None (the
    reference's result).
    """
    outcome = _transition(state, clock, "completed", reason=reason, error=None, correlation_id=correlation_id)
    never_ran = steps_never_run(state)
    return replace(outcome, result={"stepsNeverRun": never_ran}) if never_ran else outcome


def cancel_run(
    state: RunState, clock: Clock, *, reason: str | None = None, correlation_id: str | None = None
) -> Outcome:
    return _transition(state, clock, "cancelled", reason=reason, error=None, correlation_id=correlation_id)


def fail_run(
    state: RunState,
    clock: Clock,
    *,
    message: str,
    code: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    error = {"message": message, "code": code}
    return _transition(state, clock, "failed", reason=None, error=error, correlation_id=correlation_id)


def check_can_end_run(state: RunState, status: str) -> None:
    """The preconditions of a terminal transition, without performing it (failStep with failFast, D4)."""
    require_running(state, f"mark run as {status}")
    running = [step for step, st in state.step_status.items() if st == "running"]
    if running:
        raise WorkbenchError(
            ErrorCode.INVALID_STATE_TRANSITION,
            f"Cannot mark run as {status}: running steps remain ({', '.join(running)})",
        )
