"""Rule sets (6.9): replace and reorder; a refused call stores nothing (D4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.conftest import default_rule_set, dumped, event_types
from workbench_mcp.engine import rules
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.rules import RuleSet


def _code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(WorkbenchError) as info:
        call()
    return info.value.code


def _rule(rule_id: str, priority: int, **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "priority": priority, "enabled": True, "payload": None, **extra}


def test_replace_adds_a_new_set(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(rule_sets=[default_rule_set()])
    new_set = {"id": "extra", "ruleSchemaId": "s", "rules": [_rule("x", -3, label="neg")], "junk": 1}
    out = rules.replace_rule_set(state, clock, rule_set=new_set, correlation_id="c")
    (event,) = dumped(out)
    expected_set = {"id": "extra", "ruleSchemaId": "s", "rules": [_rule("x", -3, label="neg")]}
    assert event == {
        "id": event["id"],
        "runId": state.run_id,
        "ts": event["ts"],
        "correlationId": "c",
        "type": "rule_changed",
        "ruleSetId": "extra",
        "snapshot": expected_set,
    }
    assert list(out.state.rule_sets) == ["default", "extra"]
    assert out.state.rule_sets["extra"].model_dump(mode="json") == expected_set
    assert out.state.revision == state.revision + 1


def test_replace_existing_set_keeps_its_map_position(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(rule_sets=[default_rule_set(), {"id": "z", "ruleSchemaId": "s", "rules": []}])
    out = rules.replace_rule_set(state, clock, rule_set={"id": "default", "ruleSchemaId": "other", "rules": []})
    assert list(out.state.rule_sets) == ["default", "z"]
    assert out.state.rule_sets["default"].rule_schema_id == "other"


def test_replace_accepts_a_model(started: Callable[..., RunState], clock: CountingClock) -> None:
    model = RuleSet.model_validate({"id": "m", "ruleSchemaId": "s", "rules": []})
    out = rules.replace_rule_set(started(), clock, rule_set=model)
    assert out.state.rule_sets["m"] == model


@pytest.mark.parametrize(
    "rule_set",
    [
        {"id": "", "ruleSchemaId": "s", "rules": []},  # the reference stores this one anyway (D4)
        {"ruleSchemaId": "s", "rules": []},
        {"id": "x", "ruleSchemaId": "", "rules": []},
        {
            "id": "x",
            "ruleSchemaId": "s",
            "rules": [{"id": "r", "priority": 0, "enabled": True}],
        },  # payload key required
        {"id": "x", "ruleSchemaId": "s", "rules": [{**_rule("r", 0), "priority": 1.5}]},
        {"id": "x", "ruleSchemaId": "s", "rules": "none"},
        "not a rule set",
    ],
)
def test_replace_invalid_set_changes_nothing(
    started: Callable[..., RunState], clock: CountingClock, rule_set: Any
) -> None:
    state = started(rule_sets=[default_rule_set()])
    assert _code(lambda: rules.replace_rule_set(state, clock, rule_set=rule_set)) is ErrorCode.INVALID_TRACE_EVENT
    assert list(state.rule_sets) == ["default"]


# --- reorder_rules -------------------------------------------------------------------------------


def test_reorder(started: Callable[..., RunState], clock: CountingClock) -> None:
    rule_set = {
        "id": "rs",
        "ruleSchemaId": "s",
        "rules": [_rule("a", 10, label="A"), _rule("b", 20), {**_rule("c", -5), "enabled": False, "payload": {"k": 1}}],
    }
    state = started(rule_sets=[rule_set])
    out = rules.reorder_rules(state, clock, rule_set_id="rs", ordered_rule_ids=["c", "a", "b"], correlation_id="c")
    assert event_types(out) == ["rule_changed"]
    expected = {
        "id": "rs",
        "ruleSchemaId": "s",
        "rules": [
            {"id": "c", "priority": 0, "enabled": False, "payload": {"k": 1}},
            {"id": "a", "priority": 1, "enabled": True, "label": "A", "payload": None},
            {"id": "b", "priority": 2, "enabled": True, "payload": None},
        ],
    }
    assert dumped(out)[0]["snapshot"] == expected
    assert dumped(out)[0]["correlationId"] == "c"
    assert out.state.rule_sets["rs"].model_dump(mode="json") == expected
    assert out.state.revision == state.revision + 1


def test_reorder_empty_set(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started(rule_sets=[{"id": "rs", "ruleSchemaId": "s", "rules": []}])
    out = rules.reorder_rules(state, clock, rule_set_id="rs", ordered_rule_ids=[])
    assert event_types(out) == ["rule_changed"]


@pytest.mark.parametrize(
    ("rule_set_id", "ids", "code"),
    [
        ("nope", ["r1", "r2"], ErrorCode.UNKNOWN_RULESET),
        ("nope", [], ErrorCode.UNKNOWN_RULESET),
        ("default", ["r1"], ErrorCode.INVALID_INPUT),  # count
        ("default", ["r1", "r2", "r3"], ErrorCode.INVALID_INPUT),
        ("default", ["r1", "r1"], ErrorCode.INVALID_INPUT),  # duplicates
        ("default", ["r1", "zz"], ErrorCode.INVALID_INPUT),  # unknown id
    ],
)
def test_reorder_errors_change_nothing(
    started: Callable[..., RunState], clock: CountingClock, rule_set_id: str, ids: list[str], code: ErrorCode
) -> None:
    state = started(rule_sets=[default_rule_set()])
    assert _code(lambda: rules.reorder_rules(state, clock, rule_set_id=rule_set_id, ordered_rule_ids=ids)) is code
    assert [r.id for r in state.rule_sets["default"].rules] == ["r1", "r2"]
    # and the original state still reorders fine
    assert rules.reorder_rules(state, clock, rule_set_id="default", ordered_rule_ids=["r2", "r1"]).state.revision == 2


def _reorder_message(state: RunState, clock: CountingClock, ids: list[str]) -> str:
    with pytest.raises(WorkbenchError) as info:
        rules.reorder_rules(state, clock, rule_set_id="default", ordered_rule_ids=ids)
    return info.value.message


def test_reorder_checks_count_then_uniqueness_then_membership(
    started: Callable[..., RunState], clock: CountingClock
) -> None:
    state = started(rule_sets=[default_rule_set()])
    assert _reorder_message(state, clock, ["zz", "zz", "zz"]) == "reorderRules expected 2 rule ids, got 3"
    assert _reorder_message(state, clock, ["zz", "zz"]) == "reorderRules rule ids must be unique"
    assert _reorder_message(state, clock, ["r1", "zz"]) == "Unknown rule id: zz"


def test_two_reorders_in_a_row(started: Callable[..., RunState], clock: CountingClock) -> None:
    # The reference's shared-reference "cycle" (D1) must not bite: both snapshots stay independent.
    state = started(rule_sets=[default_rule_set()])
    first = rules.reorder_rules(state, clock, rule_set_id="default", ordered_rule_ids=["r2", "r1"])
    second = rules.reorder_rules(first.state, clock, rule_set_id="default", ordered_rule_ids=["r1", "r2"])
    assert [r["id"] for r in dumped(first)[0]["snapshot"]["rules"]] == ["r2", "r1"]
    assert [r["id"] for r in dumped(second)[0]["snapshot"]["rules"]] == ["r1", "r2"]
    assert second.state.revision == state.revision + 2
