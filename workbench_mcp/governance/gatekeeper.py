"""The governance steps the service takes inside a run's transaction: gate decisions under an approval policy
(separation of duties, quorum) and the budget check before work that spends. Pure decisions live in
policy.py and budget.py; this module only reads the transaction and queues governance records on it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.governance import budget, policy
from workbench_mcp.principal import Principal
from workbench_mcp.store.run_store import GovernanceRecord, RunTransaction, StoredGovernanceRecord

REFUSAL_CODES = frozenset({"INSUFFICIENT_SCOPE", "NOT_AUTHORIZED", "BUDGET_EXCEEDED"})
"""Refusals for authority or budget reasons: each leaves a `denied` governance record."""


async def decide_gate(
    tx: RunTransaction,
    who: Principal,
    records: list[StoredGovernanceRecord],
    *,
    step_id: str,
    gate: str,
    decision: str,
    note: str | None,
    correlation_id: str | None,
    decide: Callable[[str | None], Outcome],
    channel: str = "resolve_gate",
) -> tuple[Outcome, dict[str, Any]]:
    """The engine's decision, gated by the run's pinned policy: returns the outcome to append (none while a
    quorum is still pending) and extra result members (`pending`, `approvers`)."""
    outcome = decide(note)
    pin = policy.pinned(records)
    rule = None if pin is None else pin.rule(step_id, gate)
    if pin is None or rule is None or not outcome.events:
        return outcome, {}
    approving = decision != "rejected"
    completer = await tx.completer(step_id) if rule.separation == "completer" else None
    policy.check_decider(rule, who, approving=approving, starter=pin.starter, completer=completer)
    base: dict[str, Any] = {"stepId": step_id, "gate": gate, "decision": decision}
    if note is not None:
        base["note"] = note
    so_far = policy.approvals_so_far(records, step_id, gate)

    def record(kind: str, **detail: Any) -> None:
        tx.add_governance(GovernanceRecord(kind, who.subject, channel, base | detail, correlation_id))

    if not approving:
        record("rejection", discarded=so_far)
        return outcome, {}
    if who.subject in so_far:  # the same approver again: nothing new
        return Outcome(tx.state), {"pending": {"approvals": so_far, "quorum": rule.quorum}}
    approvers = [*so_far, who.subject]
    record("approval", approvals=approvers, quorum=rule.quorum)
    if len(approvers) < rule.quorum:
        return Outcome(tx.state), {"pending": {"approvals": approvers, "quorum": rule.quorum}}
    final = decide(f"approved by {', '.join(approvers)}" + (f": {note}" if note else ""))
    record("gate_opened", approvers=approvers)
    return final, {"approvers": approvers}


def annotate_quorums(pending: list[dict[str, Any]], pin: policy.Pinned, records: list[StoredGovernanceRecord]) -> None:
    """next_actions.pendingGates: a gate whose rule needs several approvers says who approved so far."""
    for entry in pending:
        rule = pin.rule(entry["stepId"], entry["gate"])
        if rule is not None and rule.quorum > 1 and "checkpointId" not in entry:
            entry["approvals"] = policy.approvals_so_far(records, entry["stepId"], entry["gate"])
            entry["quorum"] = rule.quorum


def budget_report(events: list[dict[str, Any]], pin: policy.Pinned | None) -> dict[str, Any] | None:
    """next_actions' `budget` member, None for a run without a budget."""
    if pin is None or pin.budget is None:
        return None
    currency = pin.budget.maxCost.currency if pin.budget.maxCost else None
    spend = [e for e in events if e.get("type") in ("model_io", "tool_call")]
    return budget.report(pin.budget, budget.usage_of(spend, currency))


async def check_budget(tx: RunTransaction, pin: policy.Pinned | None) -> None:
    """BUDGET_EXCEEDED when the run's pinned budget is spent (before work that would spend more)."""
    if pin is None or pin.budget is None:
        return
    currency = pin.budget.maxCost.currency if pin.budget.maxCost else None
    budget.check(pin.budget, budget.usage_of(await tx.spend_events(), currency))


async def check_checkpoint(
    tx: RunTransaction, pin: policy.Pinned | None, *, who: Principal, step_id: str, approving: bool
) -> None:
    """A named checkpoint is decided by whoever the step's CHECKPOINT rule allows (no quorum: one decision)."""
    rule = None if pin is None else pin.rule(step_id, "CHECKPOINT")
    if pin is None or rule is None:
        return
    completer = await tx.completer(step_id) if rule.separation == "completer" else None
    policy.check_decider(rule, who, approving=approving, starter=pin.starter, completer=completer)


class UngovernedRuns:
    """(tenant, run id) pairs known to have no pinned policy, so hot calls skip the governance read (it
    doubled next_actions' latency; `python -m bench governance`). Sound across processes: a policy is only
    ever pinned in the transaction that creates a run, and start_run never reuses a run id (REST PUT and
    imports pin nothing), so a run seen without a policy never gains one. A bounded LRU."""

    def __init__(self, capacity: int = 16_384) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __contains__(self, key: tuple[str, str]) -> bool:
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        return False

    def note(self, key: tuple[str, str], records: list[StoredGovernanceRecord]) -> policy.Pinned | None:
        """The run's pinned policy from its records; remembers the key when there is none."""
        pin = policy.pinned(records)
        if pin is None:
            self._keys[key] = None
            if len(self._keys) > self._capacity:
                self._keys.popitem(last=False)
        return pin
