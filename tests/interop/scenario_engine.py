"""Runs a differential scenario (tests/interop/scenarios/*.json) through OUR engine.

The output has exactly the shape reference_runner.mjs prints for the TypeScript runtime, so the two
can be compared step by step.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from pydantic import MISSING

from tests.clocks import CountingClock
from workbench_mcp.engine import artifacts, gates, lifecycle, readiness, rules, steps, telemetry
from workbench_mcp.engine.export import export_bundle
from workbench_mcp.engine.hydrate import to_serialized
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import WorkbenchError
from workbench_mcp.protocol.reference_workflow import DEFAULT_RULE_SET, JOB_SEARCH_WORKFLOW


class _Runs:
    def __init__(self) -> None:
        self.clock = CountingClock()
        self.states: dict[str, RunState] = {}
        self.traces: dict[str, list[dict[str, Any]]] = {}
        self.aliases: dict[str, str] = {}
        self.spans: dict[str, str] = {}
        self.current: str | None = None

    def run_id(self, alias: str | None) -> str:
        if alias is None:
            assert self.current is not None, "no run started yet"
            return self.current
        return self.aliases[alias]

    def apply(self, run_id: str, outcome: Outcome) -> None:
        self.states[run_id] = outcome.state
        self.traces[run_id].extend(e.model_dump() for e in outcome.events)

    def serialized(self, run_id: str) -> dict[str, Any]:
        return to_serialized(self.states[run_id], list(self.traces[run_id]))


def _substitute(value: Any, runs: _Runs) -> Any:
    if isinstance(value, str) and value.startswith("$run:"):
        return runs.aliases[value[len("$run:") :]]
    if isinstance(value, str) and value.startswith("$span:"):
        return runs.spans[value[len("$span:") :]]
    if isinstance(value, list):
        return [_substitute(v, runs) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, runs) for k, v in value.items()}
    return value


def _opt(args: dict[str, Any], key: str) -> Any:
    """Free-form members: absent stays absent, null stays null."""
    return args.get(key, MISSING)


def _start_command(args: dict[str, Any]) -> lifecycle.StartRun:
    workflow = args["workflow"]
    rule_sets = args.get("ruleSets")
    if workflow == "jobSearchWorkflow":
        workflow = JOB_SEARCH_WORKFLOW
        if rule_sets is None:
            rule_sets = [DEFAULT_RULE_SET]
    initial = [
        lifecycle.InitialArtifact(
            artifact_key=item["artifact"]["artifactKey"],
            type_id=item["artifact"]["typeId"],
            data=_opt(item["artifact"], "data"),
            pointer=_opt(item["artifact"], "pointer"),
        )
        for item in args.get("initialArtifacts", [])
    ]
    return lifecycle.StartRun(
        workflow=copy.deepcopy(workflow),
        rule_sets=rule_sets or [],
        initial_artifacts=initial,
        context=args.get("context"),
        subject=args.get("subject"),
        metadata=args.get("metadata"),
        tags=args.get("tags"),
    )


def _fork_command(runs: _Runs, args: dict[str, Any]) -> lifecycle.StartRun:
    """The runtime's buildForkStartInput: parent's snapshot, artifacts, rule sets; tags + "fork"."""
    parent = runs.states[runs.aliases[args["parentRun"]]]
    context: dict[str, Any] = {"parentRunId": parent.run_id, "parentRunIds": [parent.run_id]}
    if args.get("forkedFromStepId") is not None:
        context["forkedFromStepId"] = args["forkedFromStepId"]
    parent_tags = parent.run.tags if parent.run.tags is not MISSING else []
    run = parent.run
    return lifecycle.StartRun(
        workflow=run.workflow_snapshot.model_dump(),
        rule_sets=[rs.model_dump() for rs in parent.rule_sets.values()],
        initial_artifacts=[
            lifecycle.InitialArtifact(
                artifact_key=a.artifact_key,
                type_id=a.type_id,
                data=a.data,
                pointer=a.pointer.model_dump() if a.pointer is not MISSING else MISSING,
            )
            for a in parent.artifacts.values()
        ],
        context=context,
        subject=run.subject.model_dump() if run.subject is not MISSING else None,
        metadata=run.metadata if run.metadata is not MISSING else None,
        tags=args.get("tags", [*parent_tags, "fork"]),
    )


Handler = Callable[[RunState, CountingClock, dict[str, Any]], Outcome]

_SESSION_OPS: dict[str, Handler] = {
    "requestGate": lambda s, c, a: gates.request_gate(
        s, c, step_id=a["stepId"], gate=a["gate"], reason=a.get("reason")
    ),
    "resolveGate": lambda s, c, a: gates.resolve_gate(
        s, c, step_id=a["stepId"], gate=a["gate"], decision=a["decision"], note=a.get("note")
    ),
    "resolveCheckpoint": lambda s, c, a: gates.resolve_checkpoint(
        s, c, step_id=a["stepId"], checkpoint_id=a["checkpointId"], decision=a["decision"]
    ),
    "beginStep": lambda s, c, a: steps.begin_step(s, c, step_id=a["stepId"]),
    "completeStep": lambda s, c, a: steps.complete_step(s, c, step_id=a["stepId"]),
    "failStep": lambda s, c, a: steps.fail_step(
        s,
        c,
        step_id=a["stepId"],
        message=a["error"]["message"],
        code=a["error"].get("code"),
        fail_fast=bool(a.get("failFast", False)),
    ),
    "completeRun": lambda s, c, a: lifecycle.complete_run(s, c, reason=a.get("reason")),
    "cancelRun": lambda s, c, a: lifecycle.cancel_run(s, c, reason=a.get("reason")),
    "failRun": lambda s, c, a: lifecycle.fail_run(s, c, message=a["message"], code=a.get("code")),
    "writeArtifact": lambda s, c, a: artifacts.write_artifact(
        s,
        c,
        artifact_key=a["artifactKey"],
        type_id=a["typeId"],
        data=_opt(a, "data"),
        pointer=_opt(a, "pointer"),
        idempotency_key=a.get("idempotencyKey"),
    ),
    "patchArtifact": lambda s, c, a: artifacts.patch_artifact(
        s, c, artifact_key=a["artifactKey"], patch=a["patch"], idempotency_key=a.get("idempotencyKey")
    ),
    "logModelIO": lambda s, c, a: telemetry.log_model_io(
        s,
        c,
        direction=a["direction"],
        step_id=a.get("stepId"),
        correlation_id=a.get("correlationId"),
        provider=a.get("provider"),
        model=a.get("model"),
        usage=a.get("usage"),
        cost=a.get("cost"),
        duration_ms=a.get("durationMs"),
        summary=a.get("summary"),
        payload=_opt(a, "payload"),
        detail=a.get("detail", "summary"),
    ),
    "logToolCall": lambda s, c, a: telemetry.log_tool_call(
        s,
        c,
        name=a["name"],
        args=_opt(a, "args"),
        result=_opt(a, "result"),
        step_id=a.get("stepId"),
        correlation_id=a.get("correlationId"),
    ),
    "replaceRuleSet": lambda s, c, a: rules.replace_rule_set(s, c, rule_set=a["ruleSet"]),
    "reorderRules": lambda s, c, a: rules.reorder_rules(
        s, c, rule_set_id=a["ruleSetId"], ordered_rule_ids=a["orderedRuleIds"]
    ),
    "annotate": lambda s, c, a: telemetry.annotate(s, c, text=a["text"], tags=a.get("tags")),
}


def _result_json(result: Any) -> Any:
    if result is None:
        return None
    if hasattr(result, "model_dump"):
        return result.model_dump()
    return json.loads(json.dumps(result))


def _apply(runs: _Runs, op: dict[str, Any]) -> tuple[str, Any]:
    """Applies one op; returns the run id it concerned and its result."""
    name, args = op["op"], _substitute(op.get("args", {}), runs)
    clock = runs.clock
    if name in ("startRun", "fork"):
        command = _start_command(args) if name == "startRun" else _fork_command(runs, args)
        outcome = lifecycle.start_run(clock, command)
        run_id = outcome.state.run_id
        runs.states[run_id], runs.traces[run_id] = outcome.state, []
        runs.apply(run_id, outcome)
        runs.aliases[op.get("as", run_id)] = run_id
        runs.current = run_id
        return run_id, outcome.result
    run_id = runs.run_id(op.get("run"))
    state = runs.states[run_id]
    if name == "canStartStep":
        return run_id, readiness.can_start_step(state, args["stepId"])
    if name == "exportBundle":
        return run_id, export_bundle(state, runs.traces[run_id], profile=args.get("profile", "full"))
    if name == "beginSpan":
        outcome = telemetry.begin_span(
            state,
            clock,
            name=args["name"],
            parent_span_id=args.get("parentSpanId"),
            kind=args.get("kind"),
            attributes=args.get("attributes"),
            step_id=args.get("stepId"),
            correlation_id=args.get("correlationId"),
        )
        runs.spans[args.get("as", outcome.result["spanId"])] = outcome.result["spanId"]
    elif name == "endSpan":
        outcome = telemetry.end_span(
            state,
            clock,
            span_id=runs.spans[args["span"]],
            status=args.get("status"),
            attributes=args.get("attributes"),
            error=args.get("error"),
        )
    elif name == "forkNotice":
        parent = args.get("parentRunId") or runs.aliases[args["parentRun"]]
        outcome = telemetry.fork_notice(
            state, clock, parent_run_id=parent, forked_from_step_id=args.get("forkedFromStepId")
        )
    else:
        outcome = _SESSION_OPS[name](state, clock, args)
    runs.apply(run_id, outcome)
    return run_id, outcome.result


def run_scenario_with_our_engine(scenario: dict[str, Any]) -> dict[str, Any]:
    runs = _Runs()
    out_steps: list[dict[str, Any]] = []
    for op in scenario["ops"]:
        try:
            run_id, result = _apply(runs, op)
            out_steps.append(
                {"op": op["op"], "ok": True, "result": _result_json(result), "state": runs.serialized(run_id)}
            )
        except WorkbenchError as exc:
            failed_run = runs.current if op["op"] in ("startRun", "fork") else runs.run_id(op.get("run"))
            step: dict[str, Any] = {
                "op": op["op"],
                "ok": False,
                "error": {"code": exc.code.value, "message": exc.message},
            }
            starting = op["op"] in ("startRun", "fork")
            step["state"] = None if starting or failed_run is None else runs.serialized(failed_run)
            out_steps.append(step)
    bundles = {alias: export_bundle(runs.states[rid], runs.traces[rid]) for alias, rid in runs.aliases.items()}
    return {"name": scenario["name"], "steps": out_steps, "bundles": bundles}
