"""The one nesting limit (and the member-name rule) that every entry point applies."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.json_depth import (
    MAX_DOCUMENT_DEPTH,
    MAX_JSON_DEPTH,
    check_document_depth,
    check_stored_json,
    json_depth_exceeds,
)


def arrays(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("x", 0), (None, 0), ([], 1), ({}, 1), ([1, "a"], 1), ({"a": [1]}, 2), ((1, (2,)), 2), ([{}, [[]]], 3)],
)
def test_depth_counts_levels_of_arrays_and_objects(value: Any, depth: int) -> None:
    assert json_depth_exceeds(value, depth) is False
    if depth:
        assert json_depth_exceeds(value, depth - 1) is True


def test_the_limit_is_inclusive_and_any_depth_gets_an_answer() -> None:
    check_stored_json(arrays(MAX_JSON_DEPTH), "data")
    with pytest.raises(WorkbenchError) as refused:
        check_stored_json(arrays(MAX_JSON_DEPTH + 1), "data")
    assert refused.value.code is ErrorCode.LIMIT_EXCEEDED
    assert "data nests deeper than 64 levels" in refused.value.message
    # Far beyond Python's recursion limit: refused, not a RecursionError.
    assert json_depth_exceeds(arrays(sys.getrecursionlimit() * 3), MAX_DOCUMENT_DEPTH)
    check_document_depth(arrays(MAX_DOCUMENT_DEPTH), "bundle")
    with pytest.raises(WorkbenchError):
        check_document_depth(arrays(MAX_DOCUMENT_DEPTH + 1), "bundle")


def test_a_lone_surrogate_may_be_a_value_but_not_a_member_name() -> None:
    check_stored_json({"a": ["\ud800"], "b": "\udc00x", "😀": "é"}, "data")
    for value in ({"\ud800": 1}, [{"ok": {"x\udfff": 1}}]):
        with pytest.raises(WorkbenchError) as refused:
            check_stored_json(value, "data")
        assert refused.value.code is ErrorCode.INVALID_INPUT
