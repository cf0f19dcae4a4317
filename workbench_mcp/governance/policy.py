"""Approval policies and budgets as a workflow file declares them (README "Governance"), pinned per run.

Pure: parsing, the digest a run is pinned to, and who may decide a gate. The service applies them inside
the run's transaction (the pinned policy and the approvals so far are read there).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.canonical_json import canonical_json
from workbench_mcp.scopes import ALL_SCOPES, APPROVE, missing_scope
from workbench_mcp.store.run_store import GovernanceRecord, StoredGovernanceRecord

Separation = Literal["starter", "completer", "none"]
GATES = ("PAUSE_BEFORE", "CHECKPOINT", "PAUSE_AFTER")
POLICY = "policy"
"""The governance record kind pinning a run's policy (recorded with start_run)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApprovalRule(_Strict):
    scope: str = APPROVE
    subjects: tuple[str, ...] | None = Field(default=None, min_length=1)
    separation: Separation = "starter"
    quorum: int = Field(default=1, ge=1, le=16)


class Approvals(_Strict):
    default: ApprovalRule | None = None
    steps: dict[str, dict[str, ApprovalRule]] = Field(default_factory=dict)


class Money(_Strict):
    amount: float = Field(ge=0)
    currency: str = Field(min_length=1, max_length=16)


class Budget(_Strict):
    maxTotalTokens: int | None = Field(default=None, ge=0, le=2**53 - 1)
    maxCost: Money | None = None
    maxModelCalls: int | None = Field(default=None, ge=0, le=2**53 - 1)
    maxToolCalls: int | None = Field(default=None, ge=0, le=2**53 - 1)


class Governance(_Strict):
    approvals: Approvals | None = None
    budget: Budget | None = None


def parse_governance(document: Any, what: str) -> Governance:
    """The `governance` member of a workflow file; INVALID_WORKFLOW naming the problem otherwise."""
    try:
        governance = Governance.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorkbenchError(ErrorCode.INVALID_WORKFLOW, f"{what}: governance.{where}: {first['msg']}") from None
    for step_rules in (governance.approvals.steps if governance.approvals else {}).values():
        for gate, rule in step_rules.items():
            if gate not in GATES:
                raise WorkbenchError(ErrorCode.INVALID_WORKFLOW, f"{what}: governance gate {gate!r} (one of {GATES})")
            if rule.scope not in ALL_SCOPES:
                raise WorkbenchError(ErrorCode.INVALID_WORKFLOW, f"{what}: governance scope {rule.scope!r}")
    return governance


def policy_json(governance: Governance | None, budget: Budget | None) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if governance is not None and governance.approvals is not None:
        document["approvals"] = governance.approvals.model_dump(exclude_none=True)
    if budget is not None:
        document["budget"] = budget.model_dump(exclude_none=True)
    return document


def digest(document: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Pinned:
    """A run's pinned policy, read from its governance records."""

    starter: str
    approvals: Approvals | None
    budget: Budget | None

    def rule(self, step_id: str, gate: str) -> ApprovalRule | None:
        if self.approvals is None:
            return None
        return self.approvals.steps.get(step_id, {}).get(gate, self.approvals.default)


def pinned(records: list[StoredGovernanceRecord]) -> Pinned | None:
    """None for a run started without a policy (built-in workflows, imported runs): today's rules. The budget
    is the latest `budget_raised` record's, else the pinned one."""
    for stored in records:
        if stored.record.kind == POLICY:
            document = stored.record.detail.get("policy", {})
            approvals = document.get("approvals")
            budget = document.get("budget")
            raised = [r for r in records if r.record.kind == "budget_raised"]
            if raised:
                budget = raised[-1].record.detail["budget"]
            return Pinned(
                starter=stored.record.principal,
                approvals=None if approvals is None else Approvals.model_validate(approvals),
                budget=None if budget is None else Budget.model_validate(budget),
            )
    return None


def pin_record(who: Principal, document: dict[str, Any], correlation_id: str | None) -> GovernanceRecord:
    detail = {"digest": digest(document), "policy": document}
    return GovernanceRecord(POLICY, who.subject, "start_run", detail, correlation_id)


def check_decider(rule: ApprovalRule, who: Principal, *, approving: bool, starter: str, completer: str | None) -> None:
    """INSUFFICIENT_SCOPE or NOT_AUTHORIZED when the rule does not let `who` make this decision."""
    refusal = missing_scope(who.scopes, rule.scope)
    if refusal is not None:
        raise refusal
    if rule.subjects is not None and who.subject not in rule.subjects:
        raise WorkbenchError(
            ErrorCode.NOT_AUTHORIZED, f"{who.subject} is not among the approvers this gate's policy allows"
        )
    if not approving or rule.separation == "none":
        return
    if rule.separation == "starter" and who.subject == starter:
        raise WorkbenchError(
            ErrorCode.NOT_AUTHORIZED, "separation of duties: the principal that started the run may not approve it"
        )
    if rule.separation == "completer" and who.subject == completer:
        raise WorkbenchError(
            ErrorCode.NOT_AUTHORIZED, "separation of duties: the principal that completed the step may not approve it"
        )


def approvals_so_far(records: list[StoredGovernanceRecord], step_id: str, gate: str) -> list[str]:
    """Distinct approvers of this gate since it last opened or was rejected, in order."""
    approvers: list[str] = []
    for stored in records:
        detail = stored.record.detail
        if detail.get("stepId") != step_id or detail.get("gate") != gate:
            continue
        if stored.record.kind == "approval" and stored.record.principal not in approvers:
            approvers.append(stored.record.principal)
        elif stored.record.kind in ("rejection", "gate_opened"):
            approvers = []
    return approvers
