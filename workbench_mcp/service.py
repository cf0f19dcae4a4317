"""RunService: the one path every adapter (MCP tool, REST route, CLI) takes into the runs.

Each method is: the caller's Principal -> one store transaction on one run of that tenant ->
a pure engine decision -> persist exactly what changed -> a JSON-ready result. Nothing below
this module knows HTTP, MCP or tokens; nothing above it touches the store or the engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from pydantic import MISSING, ValidationError

from workbench_mcp.bundle_cache import BundleCache
from workbench_mcp.commands import Annotate, Command
from workbench_mcp.engine import artifacts, gates, lifecycle, readiness, rules, steps, telemetry
from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.export import Profile, export_bundle
from workbench_mcp.engine.guards import require_running
from workbench_mcp.engine.hydrate import from_serialized, to_serialized
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.governance import audit, budget, gatekeeper, policy
from workbench_mcp.ledger.export import LedgerStore, attested_bundle
from workbench_mcp.offload import Offloader, shared_offloader
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.bundle import Bundle
from workbench_mcp.protocol.canonical_json import compact_json, pretty_json
from workbench_mcp.protocol.json_depth import MAX_DOCUMENT_DEPTH, MAX_EVENT_DEPTH, MAX_JSON_DEPTH, check_stored_json
from workbench_mcp.protocol.serialized_run import read_serialized_run
from workbench_mcp.run_watch import RunWatch
from workbench_mcp.settings import Limits, clamp_limit
from workbench_mcp.store.run_store import (
    Actor,
    GovernanceRecord,
    RunPage,
    RunStore,
    RunTransaction,
    StoredGovernanceRecord,
)
from workbench_mcp.system_clock import SystemClock
from workbench_mcp.workflows import WorkflowCatalog

logger = logging.getLogger(__name__)
Decide = Callable[[RunState], Outcome]
HEAVY_EXPORT_EVENTS = 500
"""A cold export of a run with at least this many trace events runs in a worker thread (offload.py)."""
WAIT_MAX_SECONDS = 55
"""wait_for_decision's longest wait: under the 60 s a client or proxy commonly allows one HTTP request."""


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
        self.heavy_export_events = HEAVY_EXPORT_EVENTS
        self.catalog = catalog or WorkflowCatalog.with_builtins()
        self._clock: Clock = clock or SystemClock()
        self.limits = limits or Limits()
        self._bundles = BundleCache()
        self.ledger = store if isinstance(store, LedgerStore) else None
        self._ungoverned = gatekeeper.UngovernedRuns()
        self._changes = RunWatch.for_store(store)

    # --- the one mutation path -------------------------------------------------------------------

    async def _mutate(
        self,
        who: Principal,
        run_id: str,
        tool: str,
        decide: Decide,
        *,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
        precheck: Callable[[RunTransaction], Awaitable[None]] | None = None,
    ) -> tuple[Outcome, int]:
        """Run one engine decision inside one transaction; returns the outcome and the new revision.
        `precheck` may refuse first, seeing the transaction (the budget check of begin_step)."""
        actor = Actor(principal=who.subject, tool=tool, correlation_id=correlation_id)
        async with self._store.run_transaction(who.tenant_id, run_id, expected_revision=expected_revision) as tx:
            if precheck is not None:
                await precheck(tx)
            outcome = decide(tx.state)
            if outcome.events:
                await tx.append(outcome.state, _checked_events(outcome), actor)
        self._changes.changed((who.tenant_id, run_id))
        return outcome, outcome.state.revision

    def _check_payload_size(self, value: Any, what: str, depth: int = MAX_JSON_DEPTH) -> None:
        """Size and nesting of a JSON value a tool stores (LIMIT_EXCEEDED)."""
        if value is MISSING:
            return
        check_stored_json(value, what, depth)
        size = len(compact_json(value).encode("utf-8", "surrogatepass"))
        if size > self.limits.max_artifact_payload_bytes:
            raise WorkbenchError(
                ErrorCode.LIMIT_EXCEEDED,
                f"{what} is {size} bytes; the limit is {self.limits.max_artifact_payload_bytes} bytes",
            )

    # --- runs ------------------------------------------------------------------------------------

    async def list_runs(self, who: Principal, *, limit: int | None = None, cursor: str | None = None) -> RunPage:
        return await self._store.list_runs(who.tenant_id, limit=clamp_limit(limit, self.limits), cursor=cursor)

    async def get_run(self, who: Principal, run_id: str) -> dict[str, Any]:
        """The serialized run-store state (docs/protocol.md 4.2) with real `[key, value]` maps (D6 fixed)."""
        state, trace = await self._store.load_run(who.tenant_id, run_id)
        return to_serialized(state, trace)

    async def run_revision(self, who: Principal, run_id: str) -> int:
        """The run's current revision (UNKNOWN_RUN if the tenant has no such run)."""
        return (await self._store.load_state(who.tenant_id, run_id)).revision

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
    ) -> dict[str, Any]:
        """Start a run of a catalog workflow with its rule sets. A retried request_id returns the same run.
        The workflow's governance (and `budget_limits`, which may only tighten its budget) is pinned to the run."""
        entry = self.catalog.get(workflow_id)
        declared = entry.governance.budget if entry.governance else None
        run_budget = budget.tightened(declared, None if budget_limits is None else _parse_budget(budget_limits))
        document = policy.policy_json(entry.governance, run_budget)
        pins = [policy.pin_record(who, document, correlation_id)] if document else []
        if metadata is not None:
            self._check_payload_size(metadata, "metadata")
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
        return {
            "runId": run_id,
            "workflowId": state.run.workflow_id,
            "status": state.run.status,
            "revision": state.revision,
        }

    async def next_actions(self, who: Principal, run_id: str) -> dict[str, Any]:
        state = await self._store.load_state(who.tenant_id, run_id)
        actions = readiness.next_actions(state).to_json() | {"revision": state.revision}
        key = (who.tenant_id, run_id)
        if key in self._ungoverned:
            return actions
        records = await self._store.governance_log(who.tenant_id, run_id)
        pin = self._ungoverned.note(key, records)
        if pin is not None:
            gatekeeper.annotate_quorums(actions["pendingGates"], pin, records)
        if pin is None or pin.budget is None:
            return actions
        report = gatekeeper.budget_report(await self._store.load_trace(who.tenant_id, run_id), pin)
        actions["budget"] = report
        if report and report["exceeded"] and actions["status"] == "running":
            # Blocked on the budget: nothing can start until raise_budget.
            blocked = [
                {"type": "budget", "stepId": step, "exceeded": report["exceeded"]} for step in actions["readySteps"]
            ]
            actions["blockedSteps"] = [*blocked, *actions["blockedSteps"]]
            actions["readySteps"] = []
        return actions

    async def export_bundle(self, who: Principal, run_id: str, *, profile: Profile = "full") -> Bundle:
        """The run's bundle; an unchanged run's comes from the cache (workbench_mcp/bundle_cache.py)."""
        key = (who.tenant_id, run_id, profile)
        cached = self._bundles.get(key, await self._store.load_state(who.tenant_id, run_id))
        if cached is not None:
            return cached
        state, trace = await self._store.load_run(who.tenant_id, run_id)
        export = partial(export_bundle, state, trace, profile=profile)
        bundle = await self.offload.in_thread(export) if len(trace) >= self.heavy_export_events else export()
        self._bundles.put(key, state, bundle)
        return bundle

    async def export_bundle_text(self, who: Principal, run_id: str, *, profile: Profile = "full") -> tuple[Bundle, str]:
        """The bundle and its text, `JSON.stringify(bundle, null, 2)` as the reference's; an unchanged
        run's text comes from the bundle cache too, a long run's is rendered off the event loop."""
        bundle = await self.export_bundle(who, run_id, profile=profile)
        key = (who.tenant_id, run_id, profile)
        text = self._bundles.text(key, bundle)
        if text is None:
            heavy = len(bundle["trace"]) >= self.heavy_export_events
            text = await self.offload.in_thread(pretty_json, bundle) if heavy else pretty_json(bundle)
            self._bundles.keep_text(key, bundle, text)
        return bundle, text

    async def export_stored_bundle(self, who: Principal, run_id: str) -> tuple[dict[str, Any], Bundle]:
        """The serialized state and full bundle decoded from the stored rows now, past every cache:
        for checks of what is stored (the demo page's integrity badge), not for serving exports."""
        state, trace = await self._store.load_run(who.tenant_id, run_id, fresh=True)
        return to_serialized(state, trace), export_bundle(state, trace, profile="full")

    async def verify_bundle(self, bundle: Any) -> dict[str, Any]:
        """verify_run_integrity: {ok, sha256?}; an unparseable bundle raises. Big bundles go to a child process."""
        verdict = await self.offload.bundle_check("verify", bundle, self.limits.max_bundle_bytes)
        if verdict[0] == "error":
            raise WorkbenchError(ErrorCode(verdict[1]), verdict[2])
        return verdict[1]

    async def validate_bundle(self, bundle: Any) -> dict[str, Any]:
        """validate_run_bundle: {ok: true} or, like the reference, the failure as a verdict {ok: false, error, code}."""
        verdict = await self.offload.bundle_check("validate", bundle, self.limits.max_bundle_bytes)
        if verdict[0] == "error":
            return {"ok": False, "error": verdict[2], "code": verdict[1]}
        return verdict[1]

    async def export_attestation(
        self, who: Principal, run_id: str, *, profile: Profile = "full"
    ) -> tuple[Bundle, dict[str, Any]]:
        """The full bundle and a DSSE envelope attesting it (workbench_mcp/ledger); signs an export checkpoint."""
        if profile != "full":
            raise WorkbenchError(ErrorCode.INVALID_INPUT, "an attestation covers the full bundle; use profile=full")
        signer = None if self.ledger is None else self.ledger.signer
        if self.ledger is None or signer is None:
            raise WorkbenchError(ErrorCode.INVALID_INPUT, "this server has no signing key, so it cannot attest runs")
        state, export = await self.ledger.export_checkpoint(who.tenant_id, run_id)
        # The pinned budget as of the export (records after its last governance row are ignored).
        last_id = export.governance[-1]["id"] if export.governance else 0
        records = [r for r in await self._store.governance_log(who.tenant_id, run_id) if r.id <= last_id]
        pin = policy.pinned(records)
        return attested_bundle(state, export, signer, partial(gatekeeper.budget_report, pin=pin))

    # --- governance ------------------------------------------------------------------------------

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

    async def _budget_precheck(self, who: Principal, run_id: str, tx: RunTransaction) -> None:
        _, pin = await self._governance_in(who, run_id, tx)
        await gatekeeper.check_budget(tx, pin)

    async def _checkpoint_precheck(
        self, who: Principal, run_id: str, step_id: str, approving: bool, tx: RunTransaction
    ) -> None:
        _, pin = await self._governance_in(who, run_id, tx)
        await gatekeeper.check_checkpoint(tx, pin, who=who, step_id=step_id, approving=approving)

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
    ) -> dict[str, Any]:
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
        return {"ok": True, "runId": run_id, "budget": detail["budget"], "revision": revision}

    async def audit_log(self, who: Principal, run_id: str) -> dict[str, Any]:
        """The run's mutations and governance records (README "Governance", audit model), oldest first."""
        records = await self._store.governance_log(who.tenant_id, run_id)
        mutations = await self._store.audit_log(who.tenant_id, run_id)
        return {"runId": run_id, "records": audit.audit_json(mutations, records)}

    # --- gates -----------------------------------------------------------------------------------

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
    ) -> dict[str, Any]:
        """Record a reviewer's decision. Pass expected_revision so that the first decision wins.

        `channel` names the surface the decision came through (the tool, or `link` / `elicitation` for the
        human-review channels); the audit rows record it as the mutation's tool.

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
            if outcome.events:
                await tx.append(outcome.state, _checked_events(outcome), actor)
        self._changes.changed((who.tenant_id, run_id))
        return {
            "ok": True,
            "runId": run_id,
            "stepId": step_id,
            "gate": gate,
            "decision": decision,
            "changed": bool(outcome.events),
            "revision": outcome.state.revision,
            **extra,
        }

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
    ) -> dict[str, Any]:
        _, revision = await self._mutate(
            who,
            run_id,
            "request_gate",
            lambda s: gates.request_gate(
                s, self._clock, step_id=step_id, gate=gate, reason=reason, correlation_id=correlation_id
            ),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )
        return {"ok": True, "runId": run_id, "stepId": step_id, "gate": gate, "revision": revision}

    async def resolve_checkpoint(
        self,
        who: Principal,
        run_id: str,
        *,
        step_id: str,
        checkpoint_id: str,
        decision: str,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        arguments = {"runId": run_id, "stepId": step_id, "checkpointId": checkpoint_id, "decision": decision}
        approving = decision != "rejected"
        async with self._refusals_recorded(who, "resolve_checkpoint", arguments, correlation_id):
            outcome, revision = await self._mutate(
                who,
                run_id,
                "resolve_checkpoint",
                lambda s: gates.resolve_checkpoint(
                    s,
                    self._clock,
                    step_id=step_id,
                    checkpoint_id=checkpoint_id,
                    decision=decision,
                    correlation_id=correlation_id,
                ),
                expected_revision=expected_revision,
                correlation_id=correlation_id,
                precheck=partial(self._checkpoint_precheck, who, run_id, step_id, approving),
            )
        return {
            "ok": True,
            "runId": run_id,
            "stepId": step_id,
            "checkpointId": checkpoint_id,
            "decision": decision,
            "changed": bool(outcome.events),
            "revision": revision,
        }

    async def wait_for_decision(
        self, who: Principal, run_id: str, *, step_id: str, gate: str, timeout_seconds: float
    ) -> dict[str, Any]:
        """Return the gate's decision as soon as there is one (made here, in another worker process, over REST
        or stdio on the same store), or `decided: false` after timeout_seconds (at most WAIT_MAX_SECONDS).

        The task sleeps on a change event (run_watch.py); a wake-up reads the run's revision (a cached tag
        check) and only when that moved the trace."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(float(timeout_seconds), WAIT_MAX_SECONDS))
        seen_revision: int | None = None
        with self._changes.watching((who.tenant_id, run_id)) as changed:
            while True:
                changed.clear()  # before the read: a change after it sets the event again
                state = await self._store.load_state(who.tenant_id, run_id)
                if state.revision != seen_revision:
                    seen_revision = state.revision
                    found = await self._decision_now(who, run_id, step_id, gate)
                    if found is not None:
                        return found
                try:
                    await asyncio.wait_for(changed.wait(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    # No second look: a decision it would find is one no change event announced, which
                    # would be a bug for the tests to catch (call again to keep waiting).
                    return {
                        "decided": False,
                        "runId": run_id,
                        "stepId": step_id,
                        "gate": gate,
                        "revision": seen_revision,
                    }

    async def _decision_now(self, who: Principal, run_id: str, step_id: str, gate: str) -> dict[str, Any] | None:
        state, trace = await self._store.load_run(who.tenant_id, run_id)
        event = gates.latest_decision(trace, step_id, gate)
        if event is None:
            gates.check_awaitable(state, step_id, gate)  # a wait no decision can end is refused at once
            return None
        by = next((m for m in await self._store.audit_log(who.tenant_id, run_id) if m.event_id == event["id"]), None)
        result: dict[str, Any] = {
            "decided": True,
            "runId": run_id,
            "stepId": step_id,
            "gate": gate,
            "decision": event["decision"],
            "principal": None if by is None else by.principal,
            "channel": None if by is None else by.tool,
            "decidedAt": event["ts"],
            "revision": state.revision,
        }
        if "note" in event:
            result["note"] = event["note"]
        return result

    # --- steps and run lifecycle -------------------------------------------------------------------

    async def begin_step(
        self,
        who: Principal,
        run_id: str,
        *,
        step_id: str,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """A blocked step is not an error: the result carries `ok: false` and the reason. A run over its
        budget is refused (BUDGET_EXCEEDED) before anything starts."""
        async with self._refusals_recorded(who, "begin_step", {"runId": run_id, "stepId": step_id}, correlation_id):
            outcome, revision = await self._mutate(
                who,
                run_id,
                "begin_step",
                lambda s: steps.begin_step(s, self._clock, step_id=step_id, correlation_id=correlation_id),
                expected_revision=expected_revision,
                correlation_id=correlation_id,
                precheck=partial(self._budget_precheck, who, run_id),
            )
        return {**outcome.result, "runId": run_id, "stepId": step_id, "revision": revision}

    async def complete_step(
        self,
        who: Principal,
        run_id: str,
        *,
        step_id: str,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        _, revision = await self._mutate(
            who,
            run_id,
            "complete_step",
            lambda s: steps.complete_step(s, self._clock, step_id=step_id, correlation_id=correlation_id),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )
        return {"ok": True, "runId": run_id, "stepId": step_id, "revision": revision}

    async def fail_step(
        self,
        who: Principal,
        run_id: str,
        *,
        step_id: str,
        message: str,
        code: str | None = None,
        fail_fast: bool = False,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        outcome, revision = await self._mutate(
            who,
            run_id,
            "fail_step",
            lambda s: steps.fail_step(
                s,
                self._clock,
                step_id=step_id,
                message=message,
                code=code,
                fail_fast=fail_fast,
                correlation_id=correlation_id,
            ),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )
        status = outcome.state.run.status
        return {"ok": True, "runId": run_id, "stepId": step_id, "runStatus": status, "revision": revision}

    async def end_run(
        self,
        who: Principal,
        run_id: str,
        *,
        status: str,
        reason: str | None = None,
        code: str | None = None,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """completed / cancelled (with an optional reason) or failed (reason = the error message)."""

        def decide(state: RunState) -> Outcome:
            if status == "completed":
                return lifecycle.complete_run(state, self._clock, reason=reason, correlation_id=correlation_id)
            if status == "cancelled":
                return lifecycle.cancel_run(state, self._clock, reason=reason, correlation_id=correlation_id)
            if status == "failed":
                return lifecycle.fail_run(
                    state,
                    self._clock,
                    message=reason or "Run failed",
                    code=code,
                    correlation_id=correlation_id,
                )
            raise WorkbenchError(ErrorCode.INVALID_INPUT, f"Not a terminal status: {status}")

        outcome, revision = await self._mutate(
            who,
            run_id,
            f"{status}_run",
            decide,
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )
        result = {"ok": True, "runId": run_id, "status": status, "revision": revision}
        if status == "completed":
            # Completing with steps that never ran is allowed (the reference's rule) but said (D19).
            result["stepsNeverRun"] = (outcome.result or {}).get("stepsNeverRun", [])
        return result

    # --- artifacts -------------------------------------------------------------------------------

    async def write_artifact(
        self,
        who: Principal,
        run_id: str,
        *,
        artifact_key: str,
        type_id: str,
        data: Any,
        idempotency_key: str | None = None,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """A new version, or the existing one when the idempotency key replays the same write."""
        self._check_payload_size(data, "artifact data")
        outcome, revision = await self._mutate(
            who,
            run_id,
            "write_artifact",
            lambda s: artifacts.write_artifact(
                s,
                self._clock,
                artifact_key=artifact_key,
                type_id=type_id,
                data=data,
                idempotency_key=idempotency_key,
                correlation_id=correlation_id,
            ),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )
        return _artifact_result(run_id, artifact_key, outcome, revision)

    async def patch_artifact(
        self,
        who: Principal,
        run_id: str,
        *,
        artifact_key: str,
        patch: list[Any],
        idempotency_key: str | None = None,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        # An operation's value may nest MAX_JSON_DEPTH levels inside [{"value": ...}].
        self._check_payload_size(patch, "patch", MAX_JSON_DEPTH + 2)
        outcome, revision = await self._mutate(
            who,
            run_id,
            "patch_artifact",
            lambda s: _within_depth(
                artifacts.patch_artifact(
                    s,
                    self._clock,
                    artifact_key=artifact_key,
                    patch=patch,
                    idempotency_key=idempotency_key,
                    correlation_id=correlation_id,
                )
            ),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )
        return _artifact_result(run_id, artifact_key, outcome, revision)

    # --- telemetry and rules -----------------------------------------------------------------------

    async def _record(
        self,
        who: Principal,
        run_id: str,
        tool: str,
        decide: Callable[[RunState], Outcome],
        *,
        expected_revision: int | None,
        correlation_id: str | None,
    ) -> dict[str, Any]:
        """Telemetry and rule operations: one event each; the result names it."""
        outcome, revision = await self._mutate(
            who, run_id, tool, decide, expected_revision=expected_revision, correlation_id=correlation_id
        )
        result: dict[str, Any] = {"ok": True, "runId": run_id, "revision": revision}
        if outcome.events:
            result["eventId"] = outcome.events[-1].id
        if isinstance(outcome.result, dict):
            result.update(outcome.result)
        return result

    async def execute(
        self,
        who: Principal,
        run_id: str,
        command: Command,
        *,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """The one path of a command (workbench_mcp/commands.py): its engine decision in one transaction,
        recorded as its tool; the result names the event and carries the decision's own result."""
        return await self._record(
            who,
            run_id,
            command.tool,
            lambda s: command.decide(s, self._clock, correlation_id),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )

    async def log_model_io(
        self,
        who: Principal,
        run_id: str,
        *,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
        payload: Any = MISSING,
        **fields: Any,
    ) -> dict[str, Any]:
        """fields: direction, step_id, provider, model, usage, cost, duration_ms, summary, detail."""
        self._check_payload_size(payload, "model I/O payload")
        return await self._record(
            who,
            run_id,
            "log_model_io",
            lambda s: telemetry.log_model_io(s, self._clock, correlation_id=correlation_id, payload=payload, **fields),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )

    async def log_tool_call(
        self,
        who: Principal,
        run_id: str,
        *,
        name: str,
        args: Any = MISSING,
        result: Any = MISSING,
        step_id: str | None = None,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        self._check_payload_size(args, "tool call args")
        self._check_payload_size(result, "tool call result")
        return await self._record(
            who,
            run_id,
            "log_tool_call",
            lambda s: telemetry.log_tool_call(
                s,
                self._clock,
                name=name,
                args=args,
                result=result,
                step_id=step_id,
                correlation_id=correlation_id,
            ),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )

    async def annotate(
        self,
        who: Principal,
        run_id: str,
        *,
        text: str,
        tags: list[str] | None = None,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        command = Annotate(text=text, tags=tags)
        return await self.execute(
            who, run_id, command, expected_revision=expected_revision, correlation_id=correlation_id
        )

    async def replace_rule_set(
        self,
        who: Principal,
        run_id: str,
        *,
        rule_set: Any,
        expected_revision: int | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        self._check_payload_size(rule_set, "rule set")
        return await self._record(
            who,
            run_id,
            "replace_rule_set",
            lambda s: rules.replace_rule_set(s, self._clock, rule_set=rule_set, correlation_id=correlation_id),
            expected_revision=expected_revision,
            correlation_id=correlation_id,
        )

    # --- serialized states (REST) and bundles ------------------------------------------------------

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


def _within_depth(patched: Outcome) -> Outcome:
    """A patch of shallow operations can still deepen the artifact (an add at a deep path)."""
    if patched.events:
        check_stored_json(patched.result.data, "the patched artifact data")
    return patched


def _checked_events(outcome: Outcome) -> list[dict[str, Any]]:
    """The outcome's events as stored, refused whole (LIMIT_EXCEEDED) if one nests too deeply to export:
    the arguments were checked, but a patch can deepen an artifact beyond what its operations hold."""
    events = [e.model_dump() for e in outcome.events]
    for event in events:
        check_stored_json(event, f"the {event.get('type', 'trace')} event this write records", MAX_EVENT_DEPTH)
    return events


def _artifact_result(run_id: str, artifact_key: str, outcome: Outcome, revision: int) -> dict[str, Any]:
    """`replayed`: the idempotency key matched an earlier identical write, so nothing was appended."""
    return {
        "ok": True,
        "runId": run_id,
        "artifactKey": artifact_key,
        "version": outcome.result.version,
        "replayed": not outcome.events,
        "revision": revision,
    }
