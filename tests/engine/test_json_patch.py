"""JSON Patch as fast-json-patch 3.1.1 applies it (docs/protocol.md 3.4, 6.7).

Every expectation here was checked against the real library (tests/interop/test_json_patch_interop.py
runs the quirks and thousands of random patches through it); messages are asserted verbatim because
the module reproduces them exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from workbench_mcp.engine.json_patch import PatchError, apply_patch


def fails(doc: Any, patch: list[Any]) -> PatchError:
    with pytest.raises(PatchError) as raised:
        apply_patch(doc, patch)
    return raised.value


# --------------------------------------------------------------------------------------------------
# The six operations
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "op", "expected"),
    [
        ({}, {"op": "add", "path": "/a", "value": 1}, {"a": 1}),
        ({"a": 1}, {"op": "add", "path": "/a", "value": 2}, {"a": 2}),
        ({"a": {}}, {"op": "add", "path": "/a/b", "value": None}, {"a": {"b": None}}),
        ({"a": [1, 2]}, {"op": "add", "path": "/a/0", "value": 0}, {"a": [0, 1, 2]}),
        ({"a": [1, 2]}, {"op": "add", "path": "/a/2", "value": 3}, {"a": [1, 2, 3]}),
        ({"a": [1, 2]}, {"op": "add", "path": "/a/-", "value": 3}, {"a": [1, 2, 3]}),
        ({"a": 1, "b": 2}, {"op": "remove", "path": "/a"}, {"b": 2}),
        ({"a": None}, {"op": "remove", "path": "/a"}, {}),
        ({"a": [1, 2, 3]}, {"op": "remove", "path": "/a/1"}, {"a": [1, 3]}),
        ({"a": 1}, {"op": "replace", "path": "/a", "value": [1]}, {"a": [1]}),
        ({"a": [1, 2]}, {"op": "replace", "path": "/a/1", "value": "x"}, {"a": [1, "x"]}),
        ({"a": {"b": 1}}, {"op": "move", "from": "/a/b", "path": "/c"}, {"a": {}, "c": 1}),
        ({"a": [1, 2, 3]}, {"op": "move", "from": "/a/0", "path": "/a/-"}, {"a": [2, 3, 1]}),
        ({"a": {"b": [1]}}, {"op": "copy", "from": "/a", "path": "/c"}, {"a": {"b": [1]}, "c": {"b": [1]}}),
        ({"a": {"b": 1}}, {"op": "test", "path": "/a", "value": {"b": 1}}, {"a": {"b": 1}}),
        ({"a~b": {"c/d": 1}}, {"op": "replace", "path": "/a~0b/c~1d", "value": 2}, {"a~b": {"c/d": 2}}),
        ({"": 1}, {"op": "replace", "path": "/", "value": 2}, {"": 2}),
    ],
)
def test_each_operation(doc: Any, op: dict[str, Any], expected: Any) -> None:
    assert apply_patch(doc, [op]) == expected


def test_operations_apply_in_order_to_the_evolving_document() -> None:
    patch: list[dict[str, Any]] = [
        {"op": "add", "path": "/a", "value": {}},
        {"op": "add", "path": "/a/b", "value": [1]},
        {"op": "copy", "from": "/a/b", "path": "/c"},
        {"op": "add", "path": "/c/-", "value": 2},
        {"op": "test", "path": "/a/b", "value": [1]},
    ]
    assert apply_patch({}, patch) == {"a": {"b": [1]}, "c": [1, 2]}


def test_empty_patch_returns_a_copy() -> None:
    doc = {"a": [1]}
    result = apply_patch(doc, [])
    assert result == doc
    assert result is not doc
    assert result["a"] is not doc["a"]


def test_input_document_and_ops_are_never_mutated() -> None:
    doc = {"a": {"b": [1, 2]}, "c": 1}
    patch: list[dict[str, Any]] = [
        {"op": "add", "path": "/x", "value": {"y": []}},
        {"op": "add", "path": "/x/y/-", "value": 1},  # the reference would mutate patch[0]["value"] here
        {"op": "move", "from": "/a/b", "path": "/c"},
        {"op": "remove", "path": "/a"},
    ]
    before = copy.deepcopy((doc, patch))
    result = apply_patch(doc, patch)
    assert (doc, patch) == before
    assert result == {"c": [1, 2], "x": {"y": [1]}}
    result["x"]["y"].append(2)
    assert patch[0]["value"] == {"y": []}


def test_a_failure_leaves_nothing_behind() -> None:
    doc = {"a": 1}
    fails(doc, [{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}])
    assert doc == {"a": 1}


def test_member_order_follows_javascript() -> None:
    # replace keeps a member in place; move removes then adds, so the member goes last.
    assert list(apply_patch({"a": 1, "b": 2}, [{"op": "replace", "path": "/a", "value": 3}])) == ["a", "b"]
    assert list(apply_patch({"a": 1, "b": 2}, [{"op": "move", "from": "/a", "path": "/a"}])) == ["b", "a"]


# --------------------------------------------------------------------------------------------------
# The root path ""
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "op", "expected"),
    [
        ({"a": 1}, {"op": "add", "path": "", "value": [1]}, [1]),
        ({"a": 1}, {"op": "replace", "path": "", "value": "x"}, "x"),
        ({"a": 1}, {"op": "remove", "path": ""}, None),
        ({"a": 1}, {"op": "test", "path": "", "value": {"a": 1.0}}, {"a": 1}),
        ({"a": {"b": 1}}, {"op": "move", "from": "/a", "path": ""}, {"b": 1}),
        ({"a": {"b": 1}}, {"op": "copy", "from": "/a/b", "path": ""}, 1),
        ({"a": "xyz"}, {"op": "copy", "from": "/a/1", "path": ""}, "y"),  # `from` is not validated at the root
        ({"a": "xyz"}, {"op": "copy", "from": "/a/length", "path": ""}, 3),
        ({"a": {"b": 1}}, {"op": "copy", "from": "", "path": "/c"}, {"a": {"b": 1}, "c": {"a": {"b": 1}}}),
    ],
)
def test_root_operations(doc: Any, op: dict[str, Any], expected: Any) -> None:
    assert apply_patch(doc, [op]) == expected


def test_root_test_failure_message() -> None:
    error = fails({"a": 1}, [{"op": "test", "path": "", "value": 2}])
    assert error.name == "TEST_OPERATION_FAILED"
    assert str(error) == (
        "Test operation failed\nname: TEST_OPERATION_FAILED\nindex: 0\n"
        'operation: {\n  "op": "test",\n  "path": "",\n  "value": 2\n}\ntree: {\n  "a": 1\n}'
    )


def test_after_removing_the_root_only_root_operations_work() -> None:
    assert apply_patch({"a": 1}, [{"op": "remove", "path": ""}, {"op": "test", "path": "", "value": None}]) is None
    error = fails({"a": 1}, [{"op": "remove", "path": ""}, {"op": "add", "path": "/a", "value": 1}])
    assert (error.name, str(error)) == ("TypeError", "Cannot read properties of null (reading 'a')")


# --------------------------------------------------------------------------------------------------
# Errors: the shape of an operation (always reported with index 0 and without the tree)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "name"),
    [
        (1, "OPERATION_NOT_AN_OBJECT"),
        ([], "OPERATION_NOT_AN_OBJECT"),
        ({"op": "foo", "path": "/a"}, "OPERATION_OP_INVALID"),
        ({"path": "/a"}, "OPERATION_OP_INVALID"),
        ({"op": "add", "value": 1}, "OPERATION_PATH_INVALID"),
        ({"op": "add", "path": 3, "value": 1}, "OPERATION_PATH_INVALID"),
        ({"op": "add", "path": "a", "value": 1}, "OPERATION_PATH_INVALID"),
        ({"op": "move", "path": "/a"}, "OPERATION_FROM_REQUIRED"),
        ({"op": "copy", "path": "/a", "from": 1}, "OPERATION_FROM_REQUIRED"),
        ({"op": "add", "path": "/a"}, "OPERATION_VALUE_REQUIRED"),
        ({"op": "test", "path": ""}, "OPERATION_VALUE_REQUIRED"),
    ],
)
def test_malformed_operations(op: Any, name: str) -> None:
    error = fails({}, [{"op": "test", "path": "", "value": {}}, op])
    assert error.name == name
    assert error.index == 0
    assert "\ntree: " not in str(error)
    assert not error.reference_differs


def test_malformed_operation_message() -> None:
    error = fails({}, [{"op": "add", "path": "a", "value": 1}])
    assert str(error) == (
        'Operation `path` property must start with "/"\nname: OPERATION_PATH_INVALID\nindex: 0\n'
        'operation: {\n  "op": "add",\n  "path": "a",\n  "value": 1\n}'
    )


def test_extra_members_are_ignored_here() -> None:
    # Strict op schemas (3.4) are enforced by the caller, not by the library.
    assert apply_patch({}, [{"op": "add", "path": "/a", "value": 1, "extra": True}]) == {"a": 1}


# --------------------------------------------------------------------------------------------------
# Errors: paths that do not fit the document
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "op", "name", "index"),
    [
        ({}, {"op": "add", "path": "/a/b", "value": 1}, "OPERATION_PATH_CANNOT_ADD", 0),
        ({}, {"op": "replace", "path": "/a", "value": 1}, "OPERATION_PATH_UNRESOLVABLE", 0),
        ({}, {"op": "remove", "path": "/a"}, "OPERATION_PATH_UNRESOLVABLE", 0),
        ({"a": [1]}, {"op": "remove", "path": "/a/1"}, "OPERATION_PATH_UNRESOLVABLE", 0),
        ({"a": [1]}, {"op": "remove", "path": "/a/-"}, "OPERATION_PATH_UNRESOLVABLE", 0),
        ({"a": [1]}, {"op": "replace", "path": "/a/01", "value": 0}, "OPERATION_PATH_UNRESOLVABLE", 0),
        ({}, {"op": "move", "from": "/x", "path": "/a"}, "OPERATION_FROM_UNRESOLVABLE", 0),
        ({"a": 1}, {"op": "copy", "from": "/a/b", "path": "/c"}, "OPERATION_FROM_UNRESOLVABLE", 0),
        ({"a": 1}, {"op": "test", "path": "/a/b", "value": 1}, "OPERATION_PATH_UNRESOLVABLE", 1),
        ({"a": 1}, {"op": "move", "from": "/a", "path": "/b/c"}, "OPERATION_PATH_UNRESOLVABLE", 1),
        ({"a": [1]}, {"op": "test", "path": "/a/x", "value": 1}, "OPERATION_PATH_ILLEGAL_ARRAY_INDEX", 1),
        ({"a": [1]}, {"op": "replace", "path": "/a/length", "value": 1}, "OPERATION_PATH_ILLEGAL_ARRAY_INDEX", 1),
        ({"a": [1]}, {"op": "add", "path": "/a/-1", "value": 1}, "OPERATION_PATH_ILLEGAL_ARRAY_INDEX", 1),
        ({"a": [1]}, {"op": "add", "path": "/a/2", "value": 1}, "OPERATION_VALUE_OUT_OF_BOUNDS", 1),
        ({"a": [1]}, {"op": "test", "path": "/a/0", "value": 2}, "TEST_OPERATION_FAILED", 1),
        ({"a": [1]}, {"op": "test", "path": "/a/-", "value": None}, "TEST_OPERATION_FAILED", 1),
        ({"a": 1}, {"op": "test", "path": "/b", "value": None}, "TEST_OPERATION_FAILED", 1),
    ],
)
def test_path_errors(doc: Any, op: dict[str, Any], name: str, index: int) -> None:
    # Checks made by the library's `validator` report index 0, the others the op's index.
    error = fails(doc, [{"op": "test", "path": "", "value": doc}, op])
    assert (error.name, error.index, error.reference_differs) == (name, index, False)


def test_path_error_message_embeds_the_whole_document_javascript_style() -> None:
    error = fails({"b": 1, "10": [1.5e-7, 1e21], "2": True}, [{"op": "remove", "path": "/zz"}])
    assert str(error) == (
        "Cannot perform the operation at a path that does not exist\nname: OPERATION_PATH_UNRESOLVABLE\n"
        'index: 0\noperation: {\n  "op": "remove",\n  "path": "/zz"\n}\n'
        'tree: {\n  "2": true,\n  "10": [\n    1.5e-7,\n    1e+21\n  ],\n  "b": 1\n}'
    )


def test_primitive_tree_is_printed_raw() -> None:
    error = fails("abc", [{"op": "remove", "path": "/a/b"}])
    assert str(error).endswith("\ntree: abc")


@pytest.mark.parametrize(
    "path",
    ["/__proto__", "/a/__proto__/x", "/constructor/prototype", "/a/constructor/prototype/x"],
)
@pytest.mark.parametrize("op", ["add", "remove", "replace", "test", "move", "copy"])
def test_prototype_paths_are_banned(path: str, op: str) -> None:
    doc: dict[str, Any] = {"a": {"constructor": {}}, "constructor": {}}
    error = fails(doc, [{"op": op, "path": path, "value": 1, "from": "/a"}])
    assert error.name == "TypeError"
    assert str(error).startswith("JSON-Patch: modifying `__proto__` or `constructor/prototype` prop is banned")


def test_prototype_from_is_banned_too() -> None:
    error = fails({"a": {}}, [{"op": "copy", "from": "/__proto__", "path": "/b"}])
    assert error.name == "TypeError"


def test_inherited_constructor_stops_the_walk_before_the_ban() -> None:
    # `{}.constructor` is a function, not an object: the walk fails before reaching `prototype`.
    error = fails({}, [{"op": "add", "path": "/constructor/prototype", "value": 1}])
    assert error.name == "OPERATION_PATH_UNRESOLVABLE"


def test_constructor_without_prototype_is_an_ordinary_key() -> None:
    assert apply_patch({}, [{"op": "add", "path": "/constructor", "value": {"prototype": 1}}]) == {
        "constructor": {"prototype": 1}
    }
    assert apply_patch({"__proto__": 1}, [{"op": "test", "path": "", "value": {"__proto__": 1}}]) == {"__proto__": 1}


# --------------------------------------------------------------------------------------------------
# Quirks of array indices
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/01", [1, 9, 2, 3]),  # leading zeros are accepted: ~~"01" is 1
        ("/a/", [9, 1, 2, 3]),  # the empty segment is an integer: ~~"" is 0
        ("/a/3", [1, 2, 3, 9]),  # index == length: append
        ("/a/4294967297", [1, 9, 2, 3]),  # ToInt32 wraps to 1
        ("/a/4294967295", [1, 2, 9, 3]),  # ToInt32 gives -1: splice counts from the end
        ("/a/4294967296", [9, 1, 2, 3]),  # ToInt32 gives 0
    ],
)
def test_add_index_conversion(path: str, expected: list[int]) -> None:
    assert apply_patch({"a": [1, 2, 3]}, [{"op": "add", "path": path, "value": 9}]) == {"a": expected}


def test_test_reads_through_converted_indices() -> None:
    assert apply_patch([1, 2], [{"op": "test", "path": "/01", "value": 2}]) == [1, 2]
    assert apply_patch([1, 2], [{"op": "test", "path": "/", "value": 1}]) == [1, 2]


def test_copy_and_move_to_an_index_past_the_end_append() -> None:
    # Only `add` checks the bounds; copy/move re-run add without validation (splice clamps).
    assert apply_patch({"a": [1, 2]}, [{"op": "copy", "from": "/a/0", "path": "/a/9"}]) == {"a": [1, 2, 1]}
    assert apply_patch({"a": [1, 2], "b": 0}, [{"op": "move", "from": "/b", "path": "/a/9"}]) == {"a": [1, 2, 0]}


def test_array_length_is_an_existing_source() -> None:
    assert apply_patch({"a": [1, 2, 3]}, [{"op": "copy", "from": "/a/length", "path": "/n"}]) == {
        "a": [1, 2, 3],
        "n": 3,
    }
    # The unvalidated remove is splice("length", 1): Number("length") is NaN, i.e. index 0.
    assert apply_patch({"a": [1, 2, 3]}, [{"op": "move", "from": "/a/length", "path": "/n"}]) == {"a": [2, 3], "n": 1}
    assert apply_patch({"a": [1, 2, 3]}, [{"op": "move", "from": "/a/map", "path": "/n"}]) == {"a": [2, 3], "n": 1}


# --------------------------------------------------------------------------------------------------
# Quirks of inherited members and primitives
# --------------------------------------------------------------------------------------------------


def test_inherited_members_exist() -> None:
    # `{}.toString !== undefined`, so remove succeeds without change and replace creates the key.
    assert apply_patch({"a": {}}, [{"op": "remove", "path": "/a/toString"}]) == {"a": {}}
    assert apply_patch({"a": {}}, [{"op": "replace", "path": "/a/constructor", "value": 1}]) == {
        "a": {"constructor": 1}
    }
    assert fails({"a": {}}, [{"op": "test", "path": "/a/toString", "value": None}]).name == "TEST_OPERATION_FAILED"
    assert fails({"a": {}}, [{"op": "add", "path": "/a/toString/x", "value": 1}]).name == "OPERATION_PATH_UNRESOLVABLE"


def test_primitive_documents_ignore_writes() -> None:
    assert apply_patch("abc", [{"op": "add", "path": "/x", "value": 1}]) == "abc"
    assert apply_patch("abc", [{"op": "remove", "path": "/length"}]) == "abc"
    assert apply_patch(0, [{"op": "replace", "path": "/x", "value": 1}]) == 0  # falsy: no document checks
    assert apply_patch("abc", [{"op": "test", "path": "/0", "value": "a"}]) == "abc"
    assert apply_patch("a😀", [{"op": "test", "path": "/length", "value": 3}]) == "a😀"  # UTF-16 length
    assert fails("abc", [{"op": "replace", "path": "/x", "value": 1}]).name == "OPERATION_PATH_UNRESOLVABLE"
    error = fails(None, [{"op": "add", "path": "/x", "value": 1}])
    assert str(error) == "Cannot read properties of null (reading 'x')"


def test_from_without_leading_slash_skips_its_first_segment() -> None:
    assert apply_patch({"a": {"b": 1}}, [{"op": "copy", "from": "x/a", "path": "/y"}]) == {"a": {"b": 1}, "y": {"b": 1}}
    # Not validated: copying a missing value adds null.
    assert apply_patch({"a": 1}, [{"op": "copy", "from": "x/q", "path": "/y"}]) == {"a": 1, "y": None}
    # No "/" at all: the property is named "undefined".
    assert apply_patch({"undefined": 5}, [{"op": "move", "from": "abc", "path": "/y"}]) == {"y": 5}


def test_move_into_its_own_child_is_a_type_error() -> None:
    error = fails({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b"}])
    assert (error.name, str(error)) == ("TypeError", "Cannot set properties of undefined (setting 'b')")


def test_move_into_a_parent_that_became_a_primitive_drops_the_value() -> None:
    assert apply_patch({"a": [{}, {}, 7]}, [{"op": "move", "from": "/a/0", "path": "/a/1/x"}]) == {"a": [{}, 7]}


# --------------------------------------------------------------------------------------------------
# `test` equality (`_areEquals`)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "value", "equal"),
    [
        (1, 1.0, True),
        (2**53, 2**53 + 1, True),  # both are the same double
        (0.0, -0.0, True),
        (True, 1, False),
        (False, 0, False),
        (None, False, False),
        ("1", 1, False),
        ({"a": 1, "b": [1, {"c": None}]}, {"b": [1, {"c": None}], "a": 1}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": None}, {"b": None}, False),
        ([1, 2], [2, 1], False),
        ([], {}, False),
        ({}, {}, True),
        ([[]], [[]], True),
    ],
)
def test_test_equality(actual: Any, value: Any, equal: bool) -> None:
    patch = [{"op": "test", "path": "/x", "value": value}]
    if equal:
        assert apply_patch({"x": actual}, patch) == {"x": actual}
    else:
        assert fails({"x": actual}, patch).name == "TEST_OPERATION_FAILED"


def test_own_has_own_property_in_the_test_value_throws() -> None:
    error = fails({"a": {"b": 1}}, [{"op": "test", "path": "/a", "value": {"hasOwnProperty": 1}}])
    assert (error.name, str(error)) == ("TypeError", "b.hasOwnProperty is not a function")
    # ...but only if the comparison gets there: arrays compare from the last element.
    assert fails({"a": [{"b": 1}, 2]}, [{"op": "test", "path": "/a", "value": [{"hasOwnProperty": 1}, 3]}]).name == (
        "TEST_OPERATION_FAILED"
    )
    assert fails({"a": {}}, [{"op": "test", "path": "/a", "value": {"hasOwnProperty": 1}}]).name == (
        "TEST_OPERATION_FAILED"
    )


# --------------------------------------------------------------------------------------------------
# Deliberate deviations: the reference would leave non-JSON values in the document
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "op", "name"),
    [
        ({"a": {}}, {"op": "copy", "from": "/a/toString", "path": "/b"}, "OPERATION_FROM_UNRESOLVABLE"),
        ({"a": {}}, {"op": "move", "from": "/a/valueOf", "path": "/b"}, "OPERATION_FROM_UNRESOLVABLE"),
        ({"a": []}, {"op": "move", "from": "/a/length", "path": "/n"}, "OPERATION_FROM_UNRESOLVABLE"),
        ({"a": 1}, {"op": "move", "from": "x/q", "path": "/n"}, "OPERATION_FROM_UNRESOLVABLE"),
        ({"a": 1}, {"op": "copy", "from": "/q", "path": ""}, "OPERATION_FROM_UNRESOLVABLE"),
        ({"a": 1}, {"op": "move", "from": "/a/toString", "path": ""}, "OPERATION_FROM_UNRESOLVABLE"),
        ({"a": 1}, {"op": "move", "from": "", "path": "/b"}, "OPERATION_MOVE_INTO_ITSELF"),
        (
            {"a": [1, {}, [5]]},
            {"op": "move", "from": "/a/0", "path": "/a/1/length"},
            "OPERATION_PATH_ILLEGAL_ARRAY_INDEX",
        ),
        ({"toString": {}}, {"op": "move", "from": "/toString", "path": "/toString/x"}, "OPERATION_PATH_UNRESOLVABLE"),
        ({"a": 1}, {"op": "_get", "path": "/a"}, "OPERATION_OP_INVALID"),
        ({"a": 1}, {"op": "toString", "path": "/a"}, "OPERATION_OP_INVALID"),
        ({"a": 1}, {"op": ["add"], "path": "/a"}, "OPERATION_OP_INVALID"),
    ],
)
def test_deviations_are_flagged(doc: Any, op: dict[str, Any], name: str) -> None:
    error = fails(doc, [op])
    assert (error.name, error.reference_differs) == (name, True)


def test_move_from_the_root_of_a_primitive_is_harmless() -> None:
    assert apply_patch("abc", [{"op": "move", "from": "", "path": "/x"}]) == "abc"


def test_patch_error_is_a_value_error_with_the_javascript_message() -> None:
    error = fails({}, [{"op": "remove", "path": "/a"}])
    assert isinstance(error, ValueError)
    assert str(error) == error.message
    assert str(error).splitlines()[:3] == [
        "Cannot perform the operation at a path that does not exist",
        "name: OPERATION_PATH_UNRESOLVABLE",
        "index: 0",
    ]


# --------------------------------------------------------------------------------------------------
# Op values are inserted by reference (like the library), but never the caller's
# --------------------------------------------------------------------------------------------------


def test_later_ops_never_change_the_callers_patch() -> None:
    """The library would leave patch[0]'s value as {"y": [1]}; ours stays as sent (D28)."""
    patch: list[dict[str, Any]] = [
        {"op": "add", "path": "/x", "value": {"y": []}},
        {"op": "add", "path": "/x/y/-", "value": 1},
        {"op": "copy", "from": "/x", "path": "/c"},
        {"op": "add", "path": "/c/z", "value": 2},
    ]
    before = copy.deepcopy(patch)
    doc = apply_patch({}, patch)
    assert doc == {"x": {"y": [1]}, "c": {"y": [1], "z": 2}}
    assert patch == before
    doc["x"]["y"].append(9)  # the result shares nothing with the patch
    assert patch == before


def test_a_value_swapped_in_at_the_root_is_a_copy() -> None:
    patch: list[dict[str, Any]] = [
        {"op": "replace", "path": "", "value": {"a": {}}},
        {"op": "move", "from": "/a", "path": "/b"},
        {"op": "add", "path": "/b/c", "value": 1},
        {"op": "add", "path": "/d", "value": 2},
    ]
    before = copy.deepcopy(patch)
    assert apply_patch([], patch) == {"b": {"c": 1}, "d": 2}
    assert patch == before
