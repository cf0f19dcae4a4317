"""Workflow specs (2.1) and their structural invariants, in the reference's order and wording (2.2)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import edge, step, workflow
from workbench_mcp.engine.lifecycle import parse_workflow
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.reference_workflow import JOB_SEARCH_WORKFLOW
from workbench_mcp.protocol.workflow import WorkflowSpec, check_workflow_structure


def _spec(steps: list[str], edges: list[tuple[str, str, str]] = ()) -> WorkflowSpec:  # type: ignore[assignment]
    return WorkflowSpec.model_validate(workflow([step(s) for s in steps], [edge(*e) for e in edges]))


def _structure_error(spec: WorkflowSpec) -> str:
    with pytest.raises(WorkbenchError) as info:
        check_workflow_structure(spec)
    assert info.value.code is ErrorCode.INVALID_WORKFLOW
    return info.value.message


# --- 2.1 parsing ---------------------------------------------------------------------------------


def test_parsing_fills_defaults() -> None:
    spec = WorkflowSpec.model_validate({"id": "w", "version": 0, "steps": [{"id": "a"}]})
    assert spec.model_dump(mode="json") == {
        "id": "w",
        "version": 0,
        "steps": [{"id": "a", "gatePolicy": "AUTO", "inputs": [], "outputs": []}],
        "edges": [],
    }


def test_reference_workflow_is_a_fixed_point_of_parsing() -> None:
    assert WorkflowSpec.model_validate(JOB_SEARCH_WORKFLOW).model_dump(mode="json") == JOB_SEARCH_WORKFLOW


def test_whitespace_step_ids_are_allowed() -> None:
    check_workflow_structure(_spec([" ", "  "]))


@pytest.mark.parametrize(
    "raw",
    [
        {"id": "w", "version": 1, "steps": []},  # at least one step
        {"id": "", "version": 1, "steps": [{"id": "a"}]},
        {"id": "w", "version": -1, "steps": [{"id": "a"}]},
        {"id": "w", "version": 1.5, "steps": [{"id": "a"}]},
        {"id": "w", "version": "1", "steps": [{"id": "a"}]},
        {"id": "w", "steps": [{"id": "a"}]},
        {"id": "w", "version": 1, "steps": [{"id": ""}]},
        {"id": "w", "version": 1, "steps": [{"id": "a", "gatePolicy": "MANUAL"}]},
        {"id": "w", "version": 1, "steps": [{"id": "a", "inputs": [1]}]},
        {"id": "w", "version": 1, "steps": [{"id": "a"}], "edges": [{"id": "e", "from": "a", "to": ""}]},
        {"id": "w", "version": 1, "steps": [{"id": "a"}], "edges": [{"id": "e", "from": "a"}]},
        {"id": "w", "version": 1, "steps": [{"id": "a"}], "edges": [{"id": "", "from": "a", "to": "a"}]},
        [],
        None,
    ],
)
def test_schema_failures_are_invalid_workflow(raw: Any) -> None:
    with pytest.raises(ValidationError):
        WorkflowSpec.model_validate(raw)
    with pytest.raises(WorkbenchError) as info:
        parse_workflow(raw)
    assert info.value.code is ErrorCode.INVALID_WORKFLOW


def test_parse_workflow_runs_the_structural_checks() -> None:
    with pytest.raises(WorkbenchError) as info:
        parse_workflow(workflow([step("a"), step("a")]))
    assert info.value.code is ErrorCode.INVALID_WORKFLOW


def test_parse_workflow_accepts_a_parsed_spec() -> None:
    spec = _spec(["a", "b"], [("e", "a", "b")])
    assert parse_workflow(spec) is spec


# --- 2.2 invariant 1: unique step ids ------------------------------------------------------------


def test_duplicate_step_id() -> None:
    assert _structure_error(_spec(["a", "b", "a"])) == "Duplicate workflow step id: a"


def test_first_duplicate_in_step_order_is_reported() -> None:
    assert _structure_error(_spec(["x", "b", "a", "b", "a", "x"])) == "Duplicate workflow step id: b"


def test_duplicate_steps_are_checked_before_edges() -> None:
    spec = _spec(["a", "a"], [("e", "ghost", "a")])
    assert _structure_error(spec) == "Duplicate workflow step id: a"


# --- 2.2 invariant 2: edges, in order ------------------------------------------------------------


def test_unknown_from_step() -> None:
    assert _structure_error(_spec(["a"], [("e1", "ghost", "a")])) == 'Edge "e1" references unknown "from" step: ghost'


def test_unknown_to_step() -> None:
    assert _structure_error(_spec(["a"], [("e1", "a", "ghost")])) == 'Edge "e1" references unknown "to" step: ghost'


def test_from_is_checked_before_to() -> None:
    spec = _spec(["a"], [("e1", "x", "y")])
    assert _structure_error(spec) == 'Edge "e1" references unknown "from" step: x'


def test_self_edge() -> None:
    assert _structure_error(_spec(["a"], [("loop", "a", "a")])) == 'Edge "loop" cannot connect a step to itself (a)'


def test_unknown_steps_are_checked_before_self_edge() -> None:
    assert _structure_error(_spec(["a"], [("e", "z", "z")])) == 'Edge "e" references unknown "from" step: z'


def test_duplicate_edge_id() -> None:
    spec = _spec(["a", "b", "c"], [("e", "a", "b"), ("e", "b", "c")])
    assert _structure_error(spec) == "Duplicate workflow edge id: e"


def test_self_edge_is_checked_before_duplicate_edge_id() -> None:
    spec = _spec(["a", "b"], [("e", "a", "b"), ("e", "b", "b")])
    assert _structure_error(spec) == 'Edge "e" cannot connect a step to itself (b)'


def test_edges_are_checked_in_order() -> None:
    spec = _spec(["a", "b"], [("e1", "a", "b"), ("e2", "b", "b"), ("e3", "ghost", "a")])
    assert _structure_error(spec) == 'Edge "e2" cannot connect a step to itself (b)'
    spec = _spec(["a", "b"], [("e1", "a", "b"), ("e3", "ghost", "a"), ("e2", "b", "b")])
    assert _structure_error(spec) == 'Edge "e3" references unknown "from" step: ghost'


def test_edges_are_checked_before_cycles() -> None:
    spec = _spec(["a", "b"], [("e1", "a", "b"), ("e2", "b", "a"), ("e1", "a", "b")])
    assert _structure_error(spec) == "Duplicate workflow edge id: e1"


# --- 2.2 invariant 3: acyclic --------------------------------------------------------------------


def test_two_cycle() -> None:
    spec = _spec(["b", "a"], [("e1", "a", "b"), ("e2", "b", "a")])
    assert _structure_error(spec) == "Workflow graph contains a cycle involving: a, b"


def test_cycle_message_includes_downstream_steps_sorted() -> None:
    spec = _spec(
        ["start", "z", "m", "a", "tail", "free"],
        [
            ("e1", "start", "z"),
            ("e2", "z", "m"),
            ("e3", "m", "a"),
            ("e4", "a", "z"),  # z -> m -> a -> z
            ("e5", "a", "tail"),  # downstream of the cycle
        ],
    )
    assert _structure_error(spec) == "Workflow graph contains a cycle involving: a, m, tail, z"


def test_cycle_ids_sort_by_utf16_code_units() -> None:
    # Code-unit order: "B" (0x42) < "a" (0x61) < "😀" (0xD83D...) < "\uffff".
    ids = ["\uffff", "a", "😀", "B"]
    spec = _spec(ids, [("e1", "\uffff", "a"), ("e2", "a", "😀"), ("e3", "😀", "B"), ("e4", "B", "\uffff")])
    assert _structure_error(spec) == "Workflow graph contains a cycle involving: B, a, 😀, \uffff"


def test_parallel_edges_and_disconnected_steps_are_allowed() -> None:
    check_workflow_structure(_spec(["a", "b", "c"], [("e1", "a", "b"), ("e2", "a", "b")]))


def test_diamond_is_acyclic() -> None:
    check_workflow_structure(
        _spec(["a", "b", "c", "d"], [("e1", "a", "b"), ("e2", "a", "c"), ("e3", "b", "d"), ("e4", "c", "d")])
    )


def test_edges_out_of_step_order_are_fine() -> None:
    check_workflow_structure(_spec(["c", "b", "a"], [("e1", "a", "b"), ("e2", "b", "c")]))


def test_predecessors_repeat_for_parallel_edges() -> None:
    spec = _spec(["a", "b", "c"], [("e1", "b", "c"), ("e2", "a", "c"), ("e3", "b", "c")])
    assert spec.predecessors("c") == ["b", "a", "b"]
    assert spec.predecessors("a") == []
    assert spec.step("missing") is None
    assert spec.step_ids() == ["a", "b", "c"]
