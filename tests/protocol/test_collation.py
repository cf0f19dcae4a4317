"""localeCompare order for bundle artifacts and rule sets (docs/protocol.md 5.3)."""

from __future__ import annotations

import itertools
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench_mcp.protocol import collation
from workbench_mcp.protocol.collation import icu_version, locale_compare, locale_sort_key, sort_by_locale

SPEC_ORDER = ["_k", "10", "9", "a", "A", "b", "B"]
SPEC_CHAIN = ["a b", "a_b", "a-b", "a.b", "ab", "aB", "Ab"]
PRINTABLE = st.text(alphabet=st.sampled_from([chr(c) for c in range(0x20, 0x7F)]), max_size=8)


@pytest.mark.parametrize("expected", [SPEC_ORDER, SPEC_CHAIN])
def test_spec_examples(expected: list[str]) -> None:
    for seed in range(20):
        shuffled = random.Random(seed).sample(expected, len(expected))
        assert sorted(shuffled, key=locale_sort_key) == expected
        assert sort_by_locale(shuffled, lambda s: s) == expected
    for left, right in itertools.pairwise(expected):
        assert locale_compare(left, right) == -1
        assert locale_compare(right, left) == 1
    assert locale_compare("ab", "ab") == 0


def test_sort_by_locale_sorts_items_by_key_and_leaves_input_alone() -> None:
    items = [{"artifactKey": k} for k in ["b", "B", "a", "_x", "10", "9"]]
    result = sort_by_locale(items, lambda item: item["artifactKey"])
    assert [i["artifactKey"] for i in result] == ["_x", "10", "9", "a", "b", "B"]
    assert [i["artifactKey"] for i in items] == ["b", "B", "a", "_x", "10", "9"]
    assert sort_by_locale([], str) == []


def test_collation_ties_keep_input_order() -> None:
    # localeCompare is 0 for ignorable controls and canonical equivalents; JS sort is stable.
    for tied in (["a\x01", "a", "a\x02"], ["e\u0301", "\u00e9"], ["\u00e9", "e\u0301"]):
        items = [*tied, "0"]
        assert sort_by_locale(items, lambda s: s) == ["0", *tied]
        assert locale_compare(tied[0], tied[1]) == 0
        assert locale_sort_key(tied[0]) == locale_sort_key(tied[1])


def test_icu_is_installed() -> None:
    # A hard dependency (pyicu-wheels): collation.py imports it, so no test here skips for its absence.
    assert icu_version().split(".")[0].isdigit()


def test_locale_keys_are_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(locale_sort_key("a"))


@settings(max_examples=300, deadline=None)
@given(st.lists(PRINTABLE, max_size=30))
def test_ascii_table_equals_icu(texts: list[str]) -> None:
    collator = collation._icu_collator()
    assert collator is not None
    by_table = sorted(texts, key=collation._ascii_key)
    by_icu = sorted(texts, key=collator.getSortKey)
    assert by_table == by_icu


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=5) | PRINTABLE, max_size=20))
def test_mixed_keys_order_like_icu(texts: list[str]) -> None:
    # LocaleKey compares ASCII pairs by table and the rest through ICU: one consistent order.
    collator = collation._icu_collator()
    assert collator is not None
    assert sorted(texts, key=locale_sort_key) == sorted(texts, key=collator.getSortKey)
    assert sort_by_locale(texts, lambda s: s) == sorted(texts, key=collator.getSortKey)


def test_table_covers_every_printable_ascii_character() -> None:
    folded = {c.lower() for c in string.printable if " " <= c <= "~"}
    assert folded == set(collation._ASCII_ORDER)
    assert len(collation._ASCII_ORDER) == 69
