"""Budgets (README "Governance"): usage from a run's model_io and tool_call events, against its pinned limits.

Tolerance: telemetry is never refused (the spend already happened), so a run can end above a limit; it is
over budget once usage reaches a limit (>=), and then `begin_step` is refused with BUDGET_EXCEEDED until a
`gates:approve` principal raises the budget. A model call is a `model_io` event with direction `response`;
tokens are `usage.totalTokens`, else input + output; costs in another currency than the budget's are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.governance.policy import Budget, Money


@dataclass(frozen=True, slots=True)
class Usage:
    total_tokens: int = 0
    cost: float = 0.0
    model_calls: int = 0
    tool_calls: int = 0


def usage_of(events: Iterable[dict[str, Any]], currency: str | None) -> Usage:
    tokens = calls = tools = 0
    cost = 0.0
    for event in events:
        if event.get("type") == "tool_call":
            tools += 1
            continue
        if event.get("direction") == "response":
            calls += 1
        usage = event.get("usage") or {}
        total = usage.get("totalTokens")
        tokens += total if isinstance(total, int) else usage.get("inputTokens", 0) + usage.get("outputTokens", 0)
        spent = event.get("cost") or {}
        if spent and spent.get("currency") == currency:
            cost += float(spent["amount"])
    return Usage(tokens, cost, calls, tools)


def _limits(budget: Budget) -> dict[str, float]:
    limits: dict[str, float] = {}
    for name in ("maxTotalTokens", "maxModelCalls", "maxToolCalls"):
        value = getattr(budget, name)
        if value is not None:
            limits[name] = value
    if budget.maxCost is not None:
        limits["maxCost"] = budget.maxCost.amount
    return limits


def _used(usage: Usage) -> dict[str, float]:
    return {
        "maxTotalTokens": usage.total_tokens,
        "maxModelCalls": usage.model_calls,
        "maxToolCalls": usage.tool_calls,
        "maxCost": round(usage.cost, 9),
    }


def report(budget: Budget, usage: Usage) -> dict[str, Any]:
    """next_actions' `budget`: {limit, used, remaining, exceeded: [names]}, keyed by the budget's members."""
    limits, used = _limits(budget), _used(usage)
    body: dict[str, Any] = {
        "limit": budget.model_dump(exclude_none=True),
        "used": {name: used[name] for name in limits},
        "remaining": {name: max(0, round(limits[name] - used[name], 9)) for name in limits},
        "exceeded": [name for name in limits if used[name] >= limits[name]],
    }
    if budget.maxCost is not None:
        body["currency"] = budget.maxCost.currency
    return body


def check(budget: Budget, usage: Usage) -> None:
    """BUDGET_EXCEEDED (naming what was used and the limit) once a limit is reached."""
    body = report(budget, usage)
    if body["exceeded"]:
        name = body["exceeded"][0]
        raise WorkbenchError(
            ErrorCode.BUDGET_EXCEEDED,
            f"the run is over its budget: {name} used {body['used'][name]} of {_limits(budget)[name]};"
            " a principal with gates:approve can raise_budget",
            budget=body,
        )


def tightened(declared: Budget | None, requested: Budget | None) -> Budget | None:
    """start_run's budget: each requested limit may only lower the declared one (INVALID_INPUT otherwise)."""
    if requested is None:
        return declared
    if declared is None:
        return requested
    merged: dict[str, Any] = declared.model_dump(exclude_none=True)
    for name in ("maxTotalTokens", "maxModelCalls", "maxToolCalls"):
        value = getattr(requested, name)
        if value is None:
            continue
        if name in merged and value > merged[name]:
            raise WorkbenchError(
                ErrorCode.INVALID_INPUT, f"budget.{name} {value} would loosen the workflow's {merged[name]}"
            )
        merged[name] = value
    if requested.maxCost is not None:
        if declared.maxCost is not None:
            _same_currency(declared.maxCost, requested.maxCost)
            if requested.maxCost.amount > declared.maxCost.amount:
                message = (
                    f"budget.maxCost {requested.maxCost.amount} would loosen the workflow's {declared.maxCost.amount}"
                )
                raise WorkbenchError(ErrorCode.INVALID_INPUT, message)
        merged["maxCost"] = requested.maxCost.model_dump()
    return Budget.model_validate(merged)


def raised(current: Budget | None, requested: Budget) -> Budget:
    """raise_budget: each given limit may only go up (INVALID_INPUT otherwise); others stay."""
    merged: dict[str, Any] = {} if current is None else current.model_dump(exclude_none=True)
    for name in ("maxTotalTokens", "maxModelCalls", "maxToolCalls"):
        value = getattr(requested, name)
        if value is None:
            continue
        if name in merged and value < merged[name]:
            raise WorkbenchError(ErrorCode.INVALID_INPUT, f"budget.{name} {value} is below the current {merged[name]}")
        merged[name] = value
    if requested.maxCost is not None:
        if current is not None and current.maxCost is not None:
            _same_currency(current.maxCost, requested.maxCost)
            if requested.maxCost.amount < current.maxCost.amount:
                message = f"budget.maxCost {requested.maxCost.amount} is below the current {current.maxCost.amount}"
                raise WorkbenchError(ErrorCode.INVALID_INPUT, message)
        merged["maxCost"] = requested.maxCost.model_dump()
    return Budget.model_validate(merged)


def _same_currency(pinned: Money, requested: Money) -> None:
    if pinned.currency != requested.currency:
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"budget.maxCost currency must be {pinned.currency}")
