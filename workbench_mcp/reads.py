"""The reads of a tenant's runs: list, get, next actions, audit log, and waiting for a gate decision.

Nothing here writes; each read is one or a few store reads of one tenant's run (another tenant's run is
UNKNOWN_RUN, like a missing one). RunService.reads is the instance the adapters use.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from typing import Any

from workbench_mcp import results
from workbench_mcp.engine import gates, readiness
from workbench_mcp.engine.hydrate import to_serialized
from workbench_mcp.governance import audit, gatekeeper, reviews
from workbench_mcp.principal import Principal
from workbench_mcp.run_watch import RunWatch
from workbench_mcp.settings import Limits, clamp_limit
from workbench_mcp.store.run_store import RunPage, RunStore

WAIT_MAX_SECONDS = 55
"""wait_for_decision's longest wait: under the 60 s a client or proxy commonly allows one HTTP request."""


class RunReads:
    def __init__(
        self, store: RunStore, limits: Limits, ungoverned: gatekeeper.UngovernedRuns, changes: RunWatch
    ) -> None:
        """`ungoverned` and `changes` are the service's own: its writes fill and signal them."""
        self._store = store
        self._limits = limits
        self._ungoverned = ungoverned
        self._changes = changes

    async def list_runs(self, who: Principal, *, limit: int | None = None, cursor: str | None = None) -> RunPage:
        return await self._store.list_runs(who.tenant_id, limit=clamp_limit(limit, self._limits), cursor=cursor)

    async def get_run(self, who: Principal, run_id: str) -> dict[str, Any]:
        """The serialized run-store state (docs/protocol.md 4.2) with real `[key, value]` maps (D6 fixed).
        A plain document, not a result model: REST sends it as it is, and it can hold thousands of events."""
        state, trace = await self._store.load_run(who.tenant_id, run_id)
        return to_serialized(state, trace)

    async def run_revision(self, who: Principal, run_id: str) -> int:
        """The run's current revision (UNKNOWN_RUN if the tenant has no such run)."""
        return (await self._store.load_state(who.tenant_id, run_id)).revision

    async def gate_for_review(self, who: Principal, run_id: str, *, step_id: str, gate: str) -> dict[str, Any]:
        """The serialized run, when a decision on the step's gate could land now; resolve_gate's refusal otherwise
        (so a human is never asked about a gate their answer cannot decide)."""
        state, trace = await self._store.load_run(who.tenant_id, run_id)
        gates.check_awaitable(state, step_id, gate, "review the gate")
        return to_serialized(state, trace)

    async def next_actions(self, who: Principal, run_id: str) -> results.NextActions:
        state, requested = await self._store.load_state_and_reviews(who.tenant_id, run_id)
        actions = readiness.next_actions(state).to_json() | {"revision": state.revision}
        reviews.annotate_reviews(actions["pendingGates"], requested)
        key = (who.tenant_id, run_id)
        if key in self._ungoverned:
            return results.NextActions(**actions)
        records = await self._store.governance_log(who.tenant_id, run_id)
        pin = self._ungoverned.note(key, records)
        if pin is not None:
            gatekeeper.annotate_quorums(actions["pendingGates"], pin, records)
        if pin is None or pin.budget is None:
            return results.NextActions(**actions)
        report = gatekeeper.budget_report(await self._store.load_trace(who.tenant_id, run_id), pin)
        actions["budget"] = report
        if report and report["exceeded"] and actions["status"] == "running":
            # Blocked on the budget: nothing can start until raise_budget.
            blocked = [
                {"type": "budget", "stepId": step, "exceeded": report["exceeded"]} for step in actions["readySteps"]
            ]
            actions["blockedSteps"] = [*blocked, *actions["blockedSteps"]]
            actions["readySteps"] = []
        return results.NextActions(**actions)

    async def audit_log(self, who: Principal, run_id: str) -> results.AuditLog:
        """The run's mutations and governance records (README "Governance", audit model), oldest first."""
        records = await self._store.governance_log(who.tenant_id, run_id)
        mutations = await self._store.audit_log(who.tenant_id, run_id)
        return results.AuditLog(runId=run_id, records=audit.audit_json(mutations, records))

    def watching_run(
        self, who: Principal, run_id: str, event: asyncio.Event | None = None
    ) -> AbstractContextManager[asyncio.Event]:
        """A context manager yielding an event set whenever the run may have changed (run_watch.py); it does not
        check that the run exists or is the caller's: read it (run_revision) inside the block."""
        return self._changes.watching((who.tenant_id, run_id), event)

    async def wait_for_decision(
        self, who: Principal, run_id: str, *, step_id: str, gate: str, timeout_seconds: float
    ) -> results.DecisionWaited:
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
                    return results.DecisionWaited(
                        decided=False, runId=run_id, stepId=step_id, gate=gate, revision=seen_revision
                    )

    async def _decision_now(
        self, who: Principal, run_id: str, step_id: str, gate: str
    ) -> results.DecisionWaited | None:
        state, trace = await self._store.load_run(who.tenant_id, run_id)
        event = gates.latest_decision(trace, step_id, gate)
        if event is None:
            gates.check_awaitable(state, step_id, gate)  # a wait no decision can end is refused at once
            return None
        by = next((m for m in await self._store.audit_log(who.tenant_id, run_id) if m.event_id == event["id"]), None)
        decided = results.DecisionWaited(
            decided=True,
            runId=run_id,
            stepId=step_id,
            gate=gate,
            decision=event["decision"],
            principal=None if by is None else by.principal,
            channel=None if by is None else by.tool,
            decidedAt=event["ts"],
            revision=state.revision,
        )
        if "note" in event:
            decided.note = event["note"]
        return decided
