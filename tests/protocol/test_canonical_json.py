"""Canonical JSON, JavaScript rendering and the strict parser (docs/protocol.md 1.4, 3.3, 5.5)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol import canonical_json as cj
from workbench_mcp.protocol.canonical_json import (
    MAX_SAFE_INTEGER,
    artifact_canonical_json,
    canonical_json,
    check_json_value,
    compact_json,
    js_number,
    js_string,
    parse_json,
    pretty_json,
    sha256_hex,
)
from workbench_mcp.protocol.js import object_keys


@contextmanager
def _raises(code: ErrorCode, fragment: str = "") -> Iterator[pytest.ExceptionInfo[WorkbenchError]]:
    """pytest.raises(WorkbenchError) that also checks the error code and a message fragment."""
    with pytest.raises(WorkbenchError) as info:
        yield info
    assert info.value.code is code, info.value
    assert fragment in info.value.message, info.value.message


# --- spec 5.5 rendering table -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5.0, "5"),
        (1.0, "1"),
        (-0.0, "0"),
        (0.0, "0"),
        (0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e16, "10000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (float(2**53 + 1), "9007199254740992"),  # the double a JSON 2**53+1 becomes
        (0.1, "0.1"),
        (-1.5, "-1.5"),
        (123.456, "123.456"),
        (0.00001, "0.00001"),
        (1.5e-7, "1.5e-7"),
        (1.2e-6, "0.0000012"),
        (1e-4, "0.0001"),
        (5e-324, "5e-324"),
        (-5e-324, "-5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2.0**60, "1152921504606847000"),
        (1.23e22, "1.23e+22"),
        (999999999999999900000.0, "999999999999999900000"),
        (123456789.125, "123456789.125"),
        (MAX_SAFE_INTEGER, "9007199254740991"),
        (-MAX_SAFE_INTEGER, "-9007199254740991"),
        (float(MAX_SAFE_INTEGER), "9007199254740991"),
    ],
)
def test_js_number_matches_javascript(value: float, expected: str) -> None:
    assert js_number(value) == expected
    assert canonical_json([value]) == f"[{expected}]"
    assert canonical_json({"n": value}) == f'{{"n":{expected}}}'


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**53 + 1, 10**30])
def test_unsafe_integers_are_rejected_not_rounded(value: int) -> None:
    with _raises(ErrorCode.UNSAFE_NUMBER):
        js_number(value)
    with _raises(ErrorCode.UNSAFE_NUMBER, "at .a[1]"):
        canonical_json({"a": [0, value]})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    with _raises(ErrorCode.UNSAFE_NUMBER):
        js_number(value)
    with _raises(ErrorCode.UNSAFE_NUMBER, "at .x.y"):
        canonical_json({"x": {"y": value}})
    with _raises(ErrorCode.UNSAFE_NUMBER):
        pretty_json([value])


def test_js_number_refuses_booleans() -> None:
    with _raises(ErrorCode.INVALID_INPUT):
        js_number(True)


def test_int_enum_renders_as_its_value() -> None:
    class Level(IntEnum):
        HIGH = 3

    assert js_number(Level.HIGH) == "3"
    assert canonical_json({"l": Level.HIGH}) == '{"l":3}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\ud800", '"\\ud800"'),
        ("a\udfffb", '"a\\udfffb"'),
        ("\udc00\ud800", '"\\udc00\\ud800"'),  # wrong order: two lone surrogates
        ("\u2028\u2029\x7f", '"\u2028\u2029\x7f"'),
        ("é😀", '"é😀"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x00\x01\x1f\x0b", '"\\u0000\\u0001\\u001f\\u000b"'),
        ('"\\', '"\\"\\\\"'),
        ("a/b", '"a/b"'),
        ("", '""'),
    ],
)
def test_js_string_matches_javascript(text: str, expected: str) -> None:
    assert js_string(text) == expected
    assert canonical_json(text) == expected
    assert compact_json([text]) == f"[{expected}]"


def test_adjacent_surrogate_code_points_form_one_character() -> None:
    # A JavaScript string is UTF-16: "\ud83d" + "\ude00" is the emoji itself.
    assert js_string("\ud83d\ude00") == '"😀"'
    assert canonical_json(["x\ud83d\ude00"]) == '["x😀"]'


def test_keys_sort_by_utf16_code_units() -> None:
    assert canonical_json({"\uffff": 1, "😀": 2}) == '{"😀":2,"\uffff":1}'
    assert canonical_json({"b": 1, "a": 2, "B": 3, "é": 4, "_": 5}) == '{"B":3,"_":5,"a":2,"b":1,"é":4}'
    assert canonical_json({"\ue000": 1, "\U00010000": 2, "\ud800": 3}) == '{"\\ud800":3,"𐀀":2,"\ue000":1}'


def test_canonical_json_has_no_whitespace_and_sorts_nested_members() -> None:
    value = {"z": [3, {"b": None, "a": True}], "a": {"y": False, "x": "s"}}
    assert canonical_json(value) == '{"a":{"x":"s","y":false},"z":[3,{"a":true,"b":null}]}'


def test_bundle_top_level_order() -> None:
    body: dict[str, Any] = {"run": {}, "trace": [], "artifacts": [], "ruleSets": [], "engine": {}}
    assert canonical_json(body) == '{"artifacts":[],"engine":{},"ruleSets":[],"run":{},"trace":[]}'


def test_spec_3_3_example_both_encodings() -> None:
    value = {"b": 1, "10": 2, "2": 3, "a": 4}
    assert artifact_canonical_json(value) == '{"2":3,"10":2,"a":4,"b":1}'
    assert canonical_json(value) == '{"10":2,"2":3,"a":4,"b":1}'


def test_artifact_encoding_array_index_boundaries() -> None:
    value = {"4294967295": 1, "4294967294": 2, "01": 3, "-1": 4, "1": 5, "0": 6, "a": 7}
    assert artifact_canonical_json(value) == ('{"0":6,"1":5,"4294967294":2,"-1":4,"01":3,"4294967295":1,"a":7}')


def test_artifact_encoding_drops_proto_member_like_the_reference() -> None:
    assert artifact_canonical_json({"__proto__": {"x": 1}, "b": 2}) == '{"b":2}'
    assert artifact_canonical_json({"a": {"__proto__": None, "c": 1}}) == '{"a":{"c":1}}'
    assert canonical_json({"__proto__": 5, "b": 2}) == '{"__proto__":5,"b":2}'


def test_compact_json_uses_javascript_member_order() -> None:
    assert compact_json({"b": 1, "10": 2, "2": 3, "a": 4}) == '{"2":3,"10":2,"b":1,"a":4}'
    assert compact_json({"b": 1.0, "a": [1e21, -0.0]}) == '{"b":1,"a":[1e+21,0]}'


def test_pretty_json_layout() -> None:
    value = {"b": [1, {}, [], {"x": None}], "a": "é", "3": 0.5}
    expected = '{\n  "3": 0.5,\n  "b": [\n    1,\n    {},\n    [],\n    {\n      "x": null\n    }\n  ],\n  "a": "é"\n}'
    assert pretty_json(value) == expected
    assert pretty_json([]) == "[]"
    assert pretty_json("\ud800") == '"\\ud800"'


def test_pretty_json_matches_json_dumps_layout_for_plain_values() -> None:
    value = {"a": [1, 2, {"b": "c"}], "d": {}, "e": [], "f": {"g": True}}
    assert pretty_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_tuples_and_str_enums_are_accepted() -> None:
    class Status(StrEnum):
        RUNNING = "running"

    assert canonical_json({"pairs": (("a", 1), ("b", Status.RUNNING))}) == '{"pairs":[["a",1],["b","running"]]}'
    assert pretty_json((1,)) == "[\n  1\n]"


def test_shared_references_are_fine_cycles_are_not() -> None:
    shared = {"k": [1]}
    assert canonical_json({"a": shared, "b": shared}) == '{"a":{"k":[1]},"b":{"k":[1]}}'
    cyclic: dict[str, Any] = {}
    cyclic["self"] = [cyclic]
    with _raises(ErrorCode.INVALID_INPUT, "cyclic"):
        canonical_json(cyclic)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({1: "a"}, "key 1 is not a string"),
        ({"a": b"x"}, "bytes is not a JSON value at .a"),
        ({"a": {1, 2}}, "set is not a JSON value"),
        ([object()], "object is not a JSON value at [0]"),
    ],
)
def test_non_json_values_are_invalid_input(value: Any, fragment: str) -> None:
    for writer in (canonical_json, compact_json, pretty_json, artifact_canonical_json):
        with _raises(ErrorCode.INVALID_INPUT, fragment):
            writer(value)


def test_deep_nesting_is_a_limit_not_a_crash() -> None:
    value: Any = []
    for _ in range(5000):
        value = [value]
    with _raises(ErrorCode.LIMIT_EXCEEDED):
        canonical_json(value)


# --- the fast writer is byte-identical to the exact one ----------------------------------------

_SPECIAL_FLOATS = [
    0.0,
    -0.0,
    1e21,
    1e-7,
    5e-324,
    1e20,
    1e16,
    2.0**53,
    2.0**60,
    1e-4,
    9.99e-5,
    5.0,
    1.7976931348623157e308,
]
_keys = st.one_of(
    st.text(max_size=4),
    st.integers(0, 2**33).map(str),
    st.sampled_from(["__proto__", "01", "-1", "\uffff", "😀", "\ud800", "\ue000"]),
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(_SPECIAL_FLOATS),
    st.text(max_size=6),
    st.text(alphabet=st.sampled_from(["\ud800", "\udc00", "a", "\x00", "😀"]), max_size=4),
)
_values = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_fast_writer_equals_exact_writer(value: Any) -> None:
    assert canonical_json(value) == cj._exact_compact(value, cj._canonical_keys)
    assert compact_json(value) == cj._exact_compact(value, object_keys)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_writers_round_trip_through_the_parser(value: Any) -> None:
    for writer in (canonical_json, compact_json, pretty_json, artifact_canonical_json):
        text = writer(value)
        text.encode("utf-8")  # never a raw surrogate
        assert writer(parse_json(text)) == text
    assert canonical_json(parse_json(pretty_json(value))) == canonical_json(value)


# --- sha256 ------------------------------------------------------------------------------------


def test_sha256_hex() -> None:
    assert sha256_hex("") == hashlib.sha256(b"").hexdigest()
    assert sha256_hex("é😀") == hashlib.sha256("é😀".encode()).hexdigest()
    assert sha256_hex(canonical_json(["\ud800"])) == hashlib.sha256(b'["\\ud800"]').hexdigest()
    with _raises(ErrorCode.INVALID_INPUT, "surrogate"):
        sha256_hex("\ud800")


# --- parse_json --------------------------------------------------------------------------------


def test_parse_json_accepts_json() -> None:
    text = '{"a": [1, 1.0, -0, 1e2, "\\ud800", "\\ud83d\\ude00", true, null], "n": 9007199254740991}'
    value = parse_json(text)
    assert value == {"a": [1, 1.0, 0, 100.0, "\ud800", "😀", True, None], "n": MAX_SAFE_INTEGER}
    assert parse_json(text.encode()) == value
    assert parse_json(" \t\n\r7 ") == 7


def test_parse_json_duplicate_keys_last_wins_at_first_position() -> None:
    value = parse_json('{"a": 1, "b": 2, "a": 3}')
    assert value == {"a": 3, "b": 2}
    assert compact_json(value) == '{"a":3,"b":2}'


@pytest.mark.parametrize(
    "text",
    ["", "{", "[1,]", "{'a':1}", "01", "1.", ".5", "+1", "[1] x", "\ufeff{}", '"\x01"', "tru", '{"a" 1}'],
)
def test_parse_json_rejects_invalid_json(text: str) -> None:
    with _raises(ErrorCode.INVALID_JSON, "Invalid JSON: ") as info:
        parse_json(text)
    assert info.value.details["reason"]


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[1, NaN]", '{"a": Infinity}'])
def test_parse_json_rejects_non_finite_literals(text: str) -> None:
    with _raises(ErrorCode.INVALID_JSON):
        parse_json(text)


@pytest.mark.parametrize(
    "text",
    ["9007199254740993", "-9007199254740993", "[12345678901234567890]", "1" * 5000, "1e400", "-1E400", "[1.5e309]"],
)
def test_parse_json_rejects_numbers_a_double_would_change(text: str) -> None:
    with _raises(ErrorCode.UNSAFE_NUMBER):
        parse_json(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("9007199254740992", 2.0**53),
        ("-9007199254740992", -(2.0**53)),
        ("100000000000000000000", 1e20),
        ("1152921504606847000", 2.0**60),  # how JavaScript prints 2**60
        ("9007199254740991", MAX_SAFE_INTEGER),
    ],
)
def test_parse_json_accepts_integer_literals_javascript_prints_unchanged(text: str, value: float) -> None:
    parsed = parse_json(text)
    assert parsed == value
    assert type(parsed) is type(value)
    assert canonical_json(parsed) == text


def test_parse_json_keeps_large_but_finite_floats_and_underflow() -> None:
    assert parse_json("[9007199254740993.0, 1e308, 1e-400]") == [9007199254740992.0, 1e308, 0.0]


def test_parse_json_invalid_utf8_and_deep_nesting() -> None:
    with _raises(ErrorCode.INVALID_JSON, "UTF-8"):
        parse_json(b'"\xff"')
    with _raises(ErrorCode.LIMIT_EXCEEDED):
        parse_json("[" * 100_000 + "]" * 100_000)


# --- check_json_value --------------------------------------------------------------------------


def test_check_json_value_accepts_json_values() -> None:
    check_json_value({"a": [1, 2.5, "x", None, True, {"b": ()}], "c": -MAX_SAFE_INTEGER})


@pytest.mark.parametrize(
    ("value", "code", "fragment"),
    [
        ({"a": [0, 2**53]}, ErrorCode.UNSAFE_NUMBER, "at data.a[1]"),
        ({"a": {"b": math.nan}}, ErrorCode.UNSAFE_NUMBER, "at data.a.b"),
        ([math.inf], ErrorCode.UNSAFE_NUMBER, "at data[0]"),
        ({"k": b"x"}, ErrorCode.INVALID_INPUT, "bytes is not a JSON value at data.k"),
        ({(1, 2): 1}, ErrorCode.INVALID_INPUT, "key (1, 2) is not a string at data"),
        ({"x": [{"y": object()}]}, ErrorCode.INVALID_INPUT, "at data.x[0].y"),
    ],
)
def test_check_json_value_names_the_path(value: Any, code: ErrorCode, fragment: str) -> None:
    with _raises(code, fragment):
        check_json_value(value, "data")


def test_check_json_value_root_path_and_cycles() -> None:
    with _raises(ErrorCode.UNSAFE_NUMBER, "at (root)"):
        check_json_value(2**60)
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with _raises(ErrorCode.INVALID_INPUT, "cyclic structure at [0]"):
        check_json_value(cyclic)
