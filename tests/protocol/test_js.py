"""JavaScript semantics defined once (protocol/js.py): array indices, Object.keys order, Number()."""

from __future__ import annotations

import math

import pytest

from workbench_mcp.protocol.js import MAX_ARRAY_INDEX, WHITESPACE, array_index, object_keys, to_number


@pytest.mark.parametrize(
    ("key", "index"),
    [("0", 0), ("1", 1), ("42", 42), (str(MAX_ARRAY_INDEX), MAX_ARRAY_INDEX)]
    + [(k, None) for k in ["", "01", "-1", "1.0", " 1", str(MAX_ARRAY_INDEX + 1), "\u0661", "99999999999", "x"]],
)
def test_array_index_is_the_canonical_integer_below_2_to_the_32_minus_1(key: str, index: int | None) -> None:
    assert array_index(key) == index


def test_object_keys_put_array_indices_first_ascending_then_insertion_order() -> None:
    assert object_keys({"b": 1, "10": 2, "a": 3, "2": 4, "01": 5, "-1": 6}) == ["2", "10", "b", "a", "01", "-1"]
    assert object_keys({"b": 1, "a": 2}) == ["b", "a"]
    assert object_keys({}) == []


def test_whitespace_is_what_javascript_trims() -> None:
    # String.prototype.trim in Node strips exactly these 25 code points (ECMA-262 WhiteSpace + LineTerminator).
    assert len(set(WHITESPACE)) == len(WHITESPACE) == 25
    assert "\u200b" not in WHITESPACE  # zero-width space is a format character, not whitespace


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("1e2", 100.0),
        ("0x10", 16.0),
        ("0b11", 3.0),
        ("0o17", 15.0),
        ("", 0.0),
        ("\u00a0\ufeff3.9\u2028", 3.9),
        ("-Infinity", -math.inf),
        (".5", 0.5),
        ("5.", 5.0),
        ("0x" + "f" * 300, math.inf),  # beyond the double range, like 1e999
        ("1e999", math.inf),
    ],
)
def test_to_number_reads_like_javascript(text: str, expected: float) -> None:
    assert to_number(text) == expected


@pytest.mark.parametrize(
    "text", ["abc", "1_0", "nan", "inf", "0x", "+0x10", "1e", "--1", "Infinityx", "\u0661\u0662", "\uff17"]
)
def test_to_number_nan_cases(text: str) -> None:
    assert math.isnan(to_number(text))
