"""Mutations as frozen command objects, executed by `RunService.execute` (issue 10 §1).

A command holds its arguments once, typed (adapters build it from theirs), and knows the four things that
differ between mutations: the size checks of what it stores (`check`), its engine decision (`decide`), the
governance it passes before deciding (`precheck`, for the two kinds a pinned policy can refuse) and its typed
result (`result_of`). The service supplies the clock, the transaction, the correlation id and the audit rows.

start_run, resolve_gate and raise_budget keep paths of their own in the service (service.py says why).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import MISSING

from workbench_mcp import results
from workbench_mcp.engine import artifacts, gates, lifecycle, rules, steps, telemetry
from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.governance import gatekeeper, policy
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.canonical_json import compact_json
from workbench_mcp.protocol.json_depth import MAX_JSON_DEPTH, check_stored_json
from workbench_mcp.settings import Limits
from workbench_mcp.store.run_store import RunTransaction

R = TypeVar("R", bound=results.Mutation, covariant=True)
"""Covariant: a command of a StepResult is a command of a Mutation (mcp_server/tool_spec.executed takes any)."""


def check_payload(value: Any, what: str, limits: Limits, depth: int = MAX_JSON_DEPTH) -> None:
    """Size and nesting of a JSON value a mutation stores (LIMIT_EXCEEDED), checked before the transaction."""
    if value is MISSING:
        return
    check_stored_json(value, what, depth)
    size = len(compact_json(value).encode("utf-8", "surrogatepass"))
    if size > limits.max_artifact_payload_bytes:
        raise WorkbenchError(
            ErrorCode.LIMIT_EXCEEDED, f"{what} is {size} bytes; the limit is {limits.max_artifact_payload_bytes} bytes"
        )


class Command(ABC, Generic[R]):
    """One run mutation: what it decides and what it returns are each command's own (abstract); the rest has
    defaults: nothing to check, no governance, no audit arguments."""

    __slots__ = ()
    tool: ClassVar[str]
    """The tool name the audit row and the store's actor carry."""
    governed: ClassVar[bool] = False
    """True: `precheck` runs first, and its refusal (NOT_AUTHORIZED, BUDGET_EXCEEDED) leaves a denial record."""

    def audit_tool(self) -> str:
        return self.tool

    def check(self, limits: Limits) -> None:
        """Refuse (LIMIT_EXCEEDED) what is too big to store, before any transaction."""

    async def precheck(self, tx: RunTransaction, pin: policy.Pinned | None, who: Principal) -> None:
        """A governed command's refusal under the run's pinned policy, seeing the transaction."""

    def denial_arguments(self, run_id: str) -> dict[str, Any]:
        """What a denial record of this call names (governed commands)."""
        return {"runId": run_id}

    @abstractmethod
    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        """The engine's decision on the loaded run (pure: no I/O)."""

    @abstractmethod
    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> R:
        """The typed result of the committed decision."""


class _Recording(Command[results.Recorded]):
    """Telemetry and rule operations: one event each; the result names it and carries the decision's own."""

    __slots__ = ()

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.Recorded:
        members: dict[str, Any] = {"ok": True, "runId": run_id, "revision": revision}
        if outcome.events:
            members["eventId"] = outcome.events[-1].id
        if isinstance(outcome.result, dict):
            members.update(outcome.result)
        return results.Recorded(**members)


# --- steps and the run's end -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BeginStep(Command[results.StepResult]):
    """A blocked step is not an error: the result carries `ok: false` and the reason. A run over its budget is
    refused (BUDGET_EXCEEDED) before anything starts."""

    tool: ClassVar[str] = "begin_step"
    governed: ClassVar[bool] = True
    step_id: str

    async def precheck(self, tx: RunTransaction, pin: policy.Pinned | None, who: Principal) -> None:
        await gatekeeper.check_budget(tx, pin)

    def denial_arguments(self, run_id: str) -> dict[str, Any]:
        return {"runId": run_id, "stepId": self.step_id}

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return steps.begin_step(state, clock, step_id=self.step_id, correlation_id=correlation_id)

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.StepResult:
        return results.StepResult(**outcome.result, runId=run_id, stepId=self.step_id, revision=revision)


@dataclass(frozen=True, slots=True)
class CompleteStep(Command[results.StepResult]):
    tool: ClassVar[str] = "complete_step"
    step_id: str

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return steps.complete_step(state, clock, step_id=self.step_id, correlation_id=correlation_id)

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.StepResult:
        return results.StepResult(ok=True, runId=run_id, stepId=self.step_id, revision=revision)


@dataclass(frozen=True, slots=True)
class FailStep(Command[results.StepFailed]):
    tool: ClassVar[str] = "fail_step"
    step_id: str
    message: str
    code: str | None = None
    fail_fast: bool = False

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return steps.fail_step(
            state,
            clock,
            step_id=self.step_id,
            message=self.message,
            code=self.code,
            fail_fast=self.fail_fast,
            correlation_id=correlation_id,
        )

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.StepFailed:
        status = outcome.state.run.status
        return results.StepFailed(ok=True, runId=run_id, stepId=self.step_id, runStatus=status, revision=revision)


@dataclass(frozen=True, slots=True)
class EndRun(Command[results.RunEnded]):
    """completed / cancelled (with an optional reason) or failed (reason = the error message); recorded as
    complete_run, cancel_run... by the status's name (`{status}_run`)."""

    tool: ClassVar[str] = "end_run"
    status: str
    reason: str | None = None
    code: str | None = None

    def audit_tool(self) -> str:
        return f"{self.status}_run"

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        if self.status == "completed":
            return lifecycle.complete_run(state, clock, reason=self.reason, correlation_id=correlation_id)
        if self.status == "cancelled":
            return lifecycle.cancel_run(state, clock, reason=self.reason, correlation_id=correlation_id)
        if self.status == "failed":
            message = self.reason or "Run failed"
            return lifecycle.fail_run(state, clock, message=message, code=self.code, correlation_id=correlation_id)
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"Not a terminal status: {self.status}")

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.RunEnded:
        if self.status != "completed":
            return results.RunEnded(ok=True, runId=run_id, status=self.status, revision=revision)
        # Completing with steps that never ran is allowed (the reference's rule) but said (D19).
        never_run = (outcome.result or {}).get("stepsNeverRun", [])
        return results.RunEnded(ok=True, runId=run_id, status=self.status, revision=revision, stepsNeverRun=never_run)


# --- artifacts ---------------------------------------------------------------------------------------


def _artifact_result(run_id: str, artifact_key: str, outcome: Outcome, revision: int) -> results.ArtifactWritten:
    """`replayed`: the idempotency key matched an earlier identical write, so nothing was appended."""
    return results.ArtifactWritten(
        ok=True,
        runId=run_id,
        artifactKey=artifact_key,
        version=outcome.result.version,
        replayed=not outcome.events,
        revision=revision,
    )


@dataclass(frozen=True, slots=True)
class WriteArtifact(Command[results.ArtifactWritten]):
    """A new version, or the existing one when the idempotency key replays the same write."""

    tool: ClassVar[str] = "write_artifact"
    artifact_key: str
    type_id: str
    data: Any
    idempotency_key: str | None = None

    def check(self, limits: Limits) -> None:
        check_payload(self.data, "artifact data", limits)

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return artifacts.write_artifact(
            state,
            clock,
            artifact_key=self.artifact_key,
            type_id=self.type_id,
            data=self.data,
            idempotency_key=self.idempotency_key,
            correlation_id=correlation_id,
        )

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.ArtifactWritten:
        return _artifact_result(run_id, self.artifact_key, outcome, revision)


@dataclass(frozen=True, slots=True)
class PatchArtifact(Command[results.ArtifactWritten]):
    tool: ClassVar[str] = "patch_artifact"
    artifact_key: str
    patch: list[Any]
    idempotency_key: str | None = None

    def check(self, limits: Limits) -> None:
        # An operation's value may nest MAX_JSON_DEPTH levels inside [{"value": ...}].
        check_payload(self.patch, "patch", limits, MAX_JSON_DEPTH + 2)

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        patched = artifacts.patch_artifact(
            state,
            clock,
            artifact_key=self.artifact_key,
            patch=self.patch,
            idempotency_key=self.idempotency_key,
            correlation_id=correlation_id,
        )
        if patched.events:
            # A patch of shallow operations can still deepen the artifact (an add at a deep path).
            check_stored_json(patched.result.data, "the patched artifact data")
        return patched

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.ArtifactWritten:
        return _artifact_result(run_id, self.artifact_key, outcome, revision)


# --- gates -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestGate(Command[results.GateRequested]):
    tool: ClassVar[str] = "request_gate"
    step_id: str
    gate: str
    reason: str | None = None

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return gates.request_gate(
            state, clock, step_id=self.step_id, gate=self.gate, reason=self.reason, correlation_id=correlation_id
        )

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.GateRequested:
        return results.GateRequested(ok=True, runId=run_id, stepId=self.step_id, gate=self.gate, revision=revision)


@dataclass(frozen=True, slots=True)
class ResolveCheckpoint(Command[results.CheckpointResolved]):
    """Decided by whoever the step's CHECKPOINT rule allows under the run's pinned policy (NOT_AUTHORIZED)."""

    tool: ClassVar[str] = "resolve_checkpoint"
    governed: ClassVar[bool] = True
    step_id: str
    checkpoint_id: str
    decision: str

    async def precheck(self, tx: RunTransaction, pin: policy.Pinned | None, who: Principal) -> None:
        approving = self.decision != "rejected"
        await gatekeeper.check_checkpoint(tx, pin, who=who, step_id=self.step_id, approving=approving)

    def denial_arguments(self, run_id: str) -> dict[str, Any]:
        return {"runId": run_id, "stepId": self.step_id, "checkpointId": self.checkpoint_id, "decision": self.decision}

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return gates.resolve_checkpoint(
            state,
            clock,
            step_id=self.step_id,
            checkpoint_id=self.checkpoint_id,
            decision=self.decision,
            correlation_id=correlation_id,
        )

    def result_of(self, run_id: str, outcome: Outcome, revision: int) -> results.CheckpointResolved:
        return results.CheckpointResolved(
            ok=True,
            runId=run_id,
            stepId=self.step_id,
            checkpointId=self.checkpoint_id,
            decision=self.decision,
            changed=bool(outcome.events),
            revision=revision,
        )


# --- telemetry and rules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogModelIo(_Recording):
    """`payload` is kept in the trace only with detail="full"; MISSING means not given."""

    tool: ClassVar[str] = "log_model_io"
    direction: str
    step_id: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: Any = None
    cost: Any = None
    duration_ms: float | None = None
    summary: str | None = None
    payload: Any = MISSING
    detail: str = "summary"

    def check(self, limits: Limits) -> None:
        check_payload(self.payload, "model I/O payload", limits)

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return telemetry.log_model_io(
            state,
            clock,
            direction=self.direction,
            step_id=self.step_id,
            correlation_id=correlation_id,
            provider=self.provider,
            model=self.model,
            usage=self.usage,
            cost=self.cost,
            duration_ms=self.duration_ms,
            summary=self.summary,
            payload=self.payload,
            detail=self.detail,
        )


@dataclass(frozen=True, slots=True)
class LogToolCall(_Recording):
    tool: ClassVar[str] = "log_tool_call"
    name: str
    args: Any = MISSING
    result: Any = MISSING
    step_id: str | None = None

    def check(self, limits: Limits) -> None:
        check_payload(self.args, "tool call args", limits)
        check_payload(self.result, "tool call result", limits)

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return telemetry.log_tool_call(
            state,
            clock,
            name=self.name,
            args=self.args,
            result=self.result,
            step_id=self.step_id,
            correlation_id=correlation_id,
        )


@dataclass(frozen=True, slots=True)
class Annotate(_Recording):
    tool: ClassVar[str] = "annotate"
    text: str
    tags: list[str] | None = None

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return telemetry.annotate(state, clock, text=self.text, tags=self.tags, correlation_id=correlation_id)


@dataclass(frozen=True, slots=True)
class ReplaceRuleSet(_Recording):
    tool: ClassVar[str] = "replace_rule_set"
    rule_set: Any

    def check(self, limits: Limits) -> None:
        check_payload(self.rule_set, "rule set", limits)

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return rules.replace_rule_set(state, clock, rule_set=self.rule_set, correlation_id=correlation_id)


@dataclass(frozen=True, slots=True)
class BeginSpan(_Recording):
    """Its result carries the new spanId. No tool exposes spans; the demo run records its span with them."""

    tool: ClassVar[str] = "begin_span"
    name: str
    parent_span_id: str | None = None
    kind: str | None = None
    attributes: Any = None
    step_id: str | None = None

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return telemetry.begin_span(
            state,
            clock,
            name=self.name,
            parent_span_id=self.parent_span_id,
            kind=self.kind,
            attributes=self.attributes,
            step_id=self.step_id,
            correlation_id=correlation_id,
        )


@dataclass(frozen=True, slots=True)
class EndSpan(_Recording):
    """An ended span carries its start's correlation id, so this one takes none."""

    tool: ClassVar[str] = "end_span"
    span_id: str
    status: str | None = None
    attributes: Any = None
    error: Any = None

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return telemetry.end_span(
            state, clock, span_id=self.span_id, status=self.status, attributes=self.attributes, error=self.error
        )
