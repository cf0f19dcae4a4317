"""RunService: the one path every adapter (MCP tool, REST route, CLI) takes into the runs' mutations.

Each mutation is: the caller's Principal -> one store transaction on one run of that tenant -> a pure engine
decision -> persist exactly what changed -> a typed result (workbench_mcp/results.py). Most mutations are
command objects (workbench_mcp/commands.py) run by `execute`; reads live in reads.py (`service.reads`), bundle
operations in bundles.py (`service.bundles`). Nothing below this module knows HTTP, MCP or tokens; nothing
above it touches the store or the engine.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError

from workbench_mcp import results
from workbench_mcp.bundles import RunBundles
from workbench_mcp.commands import Command, RequestGate, check_payload
from workbench_mcp.engine import gates, lifecycle
from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.guards import require_running
from workbench_mcp.engine.hydrate import from_serialized
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.governance import audit, budget, gatekeeper, policy
from workbench_mcp.offload import Offloader, shared_offloader
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.json_depth import MAX_DOCUMENT_DEPTH, MAX_EVENT_DEPTH, check_stored_json
from workbench_mcp.protocol.serialized_run import read_serialized_run
from workbench_mcp.reads import RunReads
from workbench_mcp.run_watch import RunWatch
from workbench_mcp.settings import Limits
from workbench_mcp.store.run_store import (
    Actor,
    GovernanceRecord,
    RunStore,
    RunTransaction,
    StoredGovernanceRecord,
)
from workbench_mcp.system_clock import SystemClock
from workbench_mcp.workflows import WorkflowCatalog

logger = logging.getLogger(__name__)
R = TypeVar("R", bound=results.Mutation)


class RunService:
    def __init__(
        self,
        store: RunStore,
        *,
        catalog: WorkflowCatalog | None = None,
        clock: Clock | None = None,
        limits: Limits | None = None,
        offload: Offloader | None = None,
    ) -> None:
        self._store = store
        self.offload = offload or shared_offloader()
        self.catalog = catalog or WorkflowCatalog.with_builtins()
        self._clock: Clock = clock or SystemClock()
        self.limits = limits or Limits()
        self._ungoverned = gatekeeper.UngovernedRuns()
        self._changes = RunWatch.for_store(store)
        self.reads = RunReads(store, self.limits, self._ungoverned, self._changes)
        self.bundles = RunBundles(store, self.limits, self.offload)
        self.ledger = self.bundles.ledger

    @property
    def store(self) -> RunStore:
        """For the layers above that keep rows of their own beside the runs (workbench_mcp.review)."""
        return self._store

    # --- the one mutation path -------------------------------------------------------------------

    async def execute(
        self,
        who: Principal,
        run_id: str,
        command: Command[R],
        *,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> R:
        """A command (workbench_mcp/commands.py): its checks, then (a governed one past the run's pinned policy)
        its engine decision in one transaction, recorded as its tool; its typed result."""
        command.check(self.limits)
        refusals: AbstractAsyncContextManager[None] = (
            self._refusals_recorded(who, command.audit_tool(), command.denial_arguments(run_id), correlation_id)
            if command.governed
            else nullcontext()
        )
        async with refusals:
            outcome, revision = await self._decide(who, run_id, command, expected_revision, correlation_id)
        return command.result_of(run_id, outcome, revision)

    async def _decide(
        self,
        who: Principal,
        run_id: str,
        command: Command[R],
        expected_revision: int | None,
        correlation_id: str | None,
    ) -> tuple[Outcome, int]:
        actor = Actor(principal=who.subject, tool=command.audit_tool(), correlation_id=correlation_id)
        async with self._store.run_transaction(who.tenant_id, run_id, expected_revision=expected_revision) as tx:
            if command.governed:
                _, pin = await self._governance_in(who, run_id, tx)
                await command.precheck(tx, pin, who)
            outcome = command.decide(tx.state, self._clock, correlation_id)
            if outcome.events:
                await tx.append(outcome.state, _checked_events(outcome), actor)
        self._changes.changed((who.tenant_id, run_id))
        return outcome, outcome.state.revision

    async def request_gate(
        self,
        who: Principal,
        run_id: str,
        *,
        step_id: str,
        gate: str,
        reason: str | None = None,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> results.GateRequested:
        """`execute(RequestGate(...))`, kept by name: the review channels (workbench_mcp/review) call it."""
        command = RequestGate(step_id=step_id, gate=gate, reason=reason)
        return await self.execute(
            who, run_id, command, expected_revision=expected_revision, correlation_id=correlation_id
        )

    # --- paths of their own ----------------------------------------------------------------------

    # start_run creates the run (no transaction on an existing one, no expected revision) and pins its policy;
    # resolve_gate's decision is the gatekeeper's (quorum, channel, a pending vote that appends nothing);
    # raise_budget writes a governance record and no trace event; save_serialized and delete_run replace or
    # remove the whole document (REST). None is one engine decision on a loaded run, which is what a command is.

    async def start_run(
        self,
        who: Principal,
        workflow_id: str,
        *,
        request_id: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        budget_limits: dict[str, Any] | None = None,
    ) -> results.RunStarted:
        """Start a run of a catalog workflow with its rule sets. A retried request_id returns the same run.
        The workflow's governance (and `budget_limits`, which may only tighten its budget) is pinned to the run."""
        entry = self.catalog.get(workflow_id)
        declared = entry.governance.budget if entry.governance else None
        run_budget = budget.tightened(declared, None if budget_limits is None else _parse_budget(budget_limits))
        document = policy.policy_json(entry.governance, run_budget)
        pins = [policy.pin_record(who, document, correlation_id)] if document else []
        if metadata is not None:
            check_payload(metadata, "metadata", self.limits)
        command = lifecycle.StartRun(
            workflow=entry.workflow,
            rule_sets=[rs.model_dump() for rs in entry.rule_sets],
            metadata=metadata,
            tags=tags,
            correlation_id=correlation_id,
        )
        outcome = lifecycle.start_run(self._clock, command)
        events = _checked_events(outcome)
        actor = Actor(principal=who.subject, tool="start_run", correlation_id=correlation_id)
        run_id = await self._store.create_run(
            who.tenant_id, outcome.state, events, actor, request_id=request_id, governance=pins
        )
        state = outcome.state if run_id == outcome.state.run_id else await self._store.load_state(who.tenant_id, run_id)
        return results.RunStarted(
            runId=run_id, workflowId=state.run.workflow_id, status=state.run.status, revision=state.revision
        )

    async def resolve_gate(
        self,
        who: Principal,
        run_id: str,
        *,
        step_id: str,
        gate: str,
        decision: str,
        note: str | None = None,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
        channel: str = "resolve_gate",
        claim: Callable[[RunTransaction], Awaitable[None]] | None = None,
    ) -> results.GateResolved:
        """Record a reviewer's decision. Pass expected_revision so that the first decision wins.

        `channel` names the surface the decision came through (the tool, or `link` / `elicitation` for the
        human-review channels); the audit rows record it as the mutation's tool. `claim` runs in the decision's
        transaction once the policy allowed it (a review link's one use: both commit, or neither).

        Approving a gate that is already open records nothing: `changed` is false (D25). Under the run's
        pinned approval policy a decision may be refused (NOT_AUTHORIZED) or stay `pending` until the quorum."""
        arguments = {"runId": run_id, "stepId": step_id, "gate": gate, "decision": decision}
        actor = Actor(principal=who.subject, tool=channel, correlation_id=correlation_id)

        def decide(state: RunState, text: str | None) -> Outcome:
            return gates.resolve_gate(
                state,
                self._clock,
                step_id=step_id,
                gate=gate,
                decision=decision,
                note=text,
                correlation_id=correlation_id,
            )

        async with (
            self._refusals_recorded(who, channel, arguments, correlation_id),
            self._store.run_transaction(who.tenant_id, run_id, expected_revision=expected_revision) as tx,
        ):
            records, _ = await self._governance_in(who, run_id, tx)
            outcome, extra = await gatekeeper.decide_gate(
                tx,
                who,
                records,
                step_id=step_id,
                gate=gate,
                decision=decision,
                note=note,
                correlation_id=correlation_id,
                decide=partial(decide, tx.state),
                channel=channel,
            )
            if claim is not None:
                await claim(tx)
            if outcome.events:
                await tx.append(outcome.state, _checked_events(outcome), actor)
        self._changes.changed((who.tenant_id, run_id))
        return results.GateResolved(
            ok=True,
            runId=run_id,
            stepId=step_id,
            gate=gate,
            decision=decision,
            changed=bool(outcome.events),
            revision=outcome.state.revision,
            **extra,
        )

    async def record_denial(
        self, who: Principal, tool: str, arguments: Mapping[str, Any], refusal: WorkbenchError
    ) -> None:
        """An audit record of a refused call (authority or budget), beside the run's trace; it never fails the
        refusal itself: a store that cannot take the record is logged, and the caller still gets the refusal."""
        try:
            await self._store.record_governance(
                who.tenant_id, audit.run_id_of(arguments), audit.denial(who, tool, arguments, refusal)
            )
        except WorkbenchError as exc:
            logger.warning("denial of %s by %s not recorded: %s", tool, who.subject, exc.message)

    async def _governance_in(
        self, who: Principal, run_id: str, tx: RunTransaction
    ) -> tuple[list[StoredGovernanceRecord], policy.Pinned | None]:
        """The run's governance records and pinned policy, read in its transaction (skipped for runs known
        to have no policy: gatekeeper.UngovernedRuns)."""
        key = (who.tenant_id, run_id)
        if key in self._ungoverned:
            return [], None
        records = await tx.governance()
        return records, self._ungoverned.note(key, records)

    @asynccontextmanager
    async def _refusals_recorded(
        self, who: Principal, tool: str, arguments: dict[str, Any], correlation_id: str | None
    ) -> AsyncIterator[None]:
        """A refusal for authority or budget reasons inside the block leaves a denial record (after the
        block's transaction rolled back, so the record is all that the refused call leaves)."""
        try:
            yield
        except WorkbenchError as exc:
            if exc.code.value in gatekeeper.REFUSAL_CODES:
                await self.record_denial(who, tool, {**arguments, "correlationId": correlation_id}, exc)
            raise

    async def raise_budget(
        self,
        who: Principal,
        run_id: str,
        *,
        budget_limits: dict[str, Any],
        note: str,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> results.BudgetRaised:
        """Raise the run's budget (gates:approve): each given limit may only go up; audited with the note."""
        requested = _parse_budget(budget_limits)
        async with self._store.run_transaction(who.tenant_id, run_id, expected_revision=expected_revision) as tx:
            require_running(tx.state, "raise budget")
            _, pin = await self._governance_in(who, run_id, tx)
            if pin is None or pin.budget is None:
                # A run's policy is pinned at its start only (UngovernedRuns relies on it): no budget, nothing to raise.
                raise WorkbenchError(
                    ErrorCode.INVALID_INPUT,
                    f"run {run_id} has no budget to raise (a workflow's governance or start_run's budget sets one)",
                )
            new = budget.raised(pin.budget, requested)
            detail = {
                "budget": new.model_dump(exclude_none=True),
                "note": note,
                "previous": pin.budget.model_dump(exclude_none=True),
            }
            tx.add_governance(GovernanceRecord("budget_raised", who.subject, "raise_budget", detail, correlation_id))
            revision = tx.state.revision
        return results.BudgetRaised(ok=True, runId=run_id, budget=detail["budget"], revision=revision)

    async def save_serialized(
        self, who: Principal, run_id: str, body: Any, *, expected_revision: int | None = None
    ) -> int:
        """REST PUT: full validation (schema + invariants) before anything is stored (D17).
        Returns the stored revision: the body's own, as the reference keeps it (REST sends it as the ETag)."""
        check_stored_json(body, "serialized run", MAX_DOCUMENT_DEPTH)
        serialized = read_serialized_run(body)
        if serialized.run.id != run_id:
            raise WorkbenchError(ErrorCode.INVALID_RUN_STATE, "state.run.id must match URL param")
        state, trace = from_serialized(serialized)
        actor = Actor(principal=who.subject, tool="put_run")
        await self._store.replace_run(who.tenant_id, state, trace, actor, expected_revision=expected_revision)
        self._changes.changed((who.tenant_id, run_id))
        return state.revision

    async def delete_run(self, who: Principal, run_id: str, *, expected_revision: int | None = None) -> bool:
        """False if the tenant had no such run; REVISION_CONFLICT if expected_revision is given and differs."""
        return await self._store.delete_run(who.tenant_id, run_id, expected_revision=expected_revision)


def _parse_budget(limits: dict[str, Any]) -> policy.Budget:
    try:
        return policy.Budget.model_validate(limits)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"budget.{where}: {first['msg']}") from None


def _checked_events(outcome: Outcome) -> list[dict[str, Any]]:
    """The outcome's events as stored, refused whole (LIMIT_EXCEEDED) if one nests too deeply to export:
    the arguments were checked, but a patch can deepen an artifact beyond what its operations hold."""
    events = [e.model_dump() for e in outcome.events]
    for event in events:
        check_stored_json(event, f"the {event.get('type', 'trace')} event this write records", MAX_EVENT_DEPTH)
    return events
