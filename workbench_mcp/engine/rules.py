"""Rule sets: replace and reorder (docs/protocol.md 6.9). Rules are stored, never evaluated."""

from __future__ import annotations

from typing import Any

from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.guards import require_running
from workbench_mcp.engine.outcome import Outcome, absent_if_none, appended, make_event
from workbench_mcp.engine.run_state import RunState, with_entry
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.trace_events import RuleChanged


def replace_rule_set(state: RunState, clock: Clock, *, rule_set: Any, correlation_id: str | None = None) -> Outcome:
    """Stores the set under its id (new or replacing) and snapshots it in a rule_changed event."""
    require_running(state, "replace rule set")
    event = make_event(
        RuleChanged,
        clock,
        state,
        correlation_id=absent_if_none(correlation_id),
        rule_set_id=absent_if_none(rule_set.get("id") if isinstance(rule_set, dict) else getattr(rule_set, "id", None)),
        snapshot=rule_set,
    )
    stored: RuleSet = event.snapshot
    new_state = appended(state, [event], rule_sets=with_entry(state.rule_sets, stored.id, stored))
    return Outcome(new_state, [event])


def reorder_rules(
    state: RunState,
    clock: Clock,
    *,
    rule_set_id: str,
    ordered_rule_ids: list[str],
    correlation_id: str | None = None,
) -> Outcome:
    """Rewrites the rules in the given order with priority = position, then replaces the set."""
    require_running(state, "reorder rules")
    current = state.rule_sets.get(rule_set_id)
    if current is None:
        raise WorkbenchError(ErrorCode.UNKNOWN_RULESET, f"Unknown ruleSet: {rule_set_id}")
    if len(ordered_rule_ids) != len(current.rules):
        raise WorkbenchError(
            ErrorCode.INVALID_INPUT,
            f"reorderRules expected {len(current.rules)} rule ids, got {len(ordered_rule_ids)}",
        )
    if len(set(ordered_rule_ids)) != len(ordered_rule_ids):
        raise WorkbenchError(ErrorCode.INVALID_INPUT, "reorderRules rule ids must be unique")
    by_id = {rule.id: rule for rule in current.rules}
    reordered = []
    for position, rule_id in enumerate(ordered_rule_ids):
        rule = by_id.get(rule_id)
        if rule is None:
            raise WorkbenchError(ErrorCode.INVALID_INPUT, f"Unknown rule id: {rule_id}")
        reordered.append(rule.model_copy(update={"priority": position}))
    updated = current.model_copy(update={"rules": reordered})
    return replace_rule_set(state, clock, rule_set=updated, correlation_id=correlation_id)
