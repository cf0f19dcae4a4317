"""GrowingMap: versions that share storage must behave exactly like separate, immutable dicts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench_mcp.engine.run_state import GrowingMap, with_record


def test_a_grown_map_leaves_every_earlier_version_as_it_was() -> None:
    empty: GrowingMap[str, int] = GrowingMap()
    one = empty.grown("a", 1)
    two = one.grown("b", 2)
    assert (dict(empty), dict(one), dict(two)) == ({}, {"a": 1}, {"a": 1, "b": 2})
    assert "b" not in one
    assert one.get("b") is None
    assert list(reversed(two)) == ["b", "a"]
    assert len(one) == 1


def test_growing_the_newest_version_shares_storage_and_an_older_one_copies() -> None:
    one = GrowingMap([("a", 1)])
    two = one.grown("b", 2)
    assert two._keys is one._keys  # appended in place: O(1)
    branch = one.grown("c", 3)  # `one` is no longer the newest: a second branch copies
    assert branch._keys is not one._keys
    assert (dict(one), dict(two), dict(branch)) == ({"a": 1}, {"a": 1, "b": 2}, {"a": 1, "c": 3})


def test_setting_a_held_key_keeps_its_position_and_copies() -> None:
    base = GrowingMap([("a", 1), ("b", 2)])
    updated = base.grown("a", 10)
    assert list(updated.items()) == [("a", 10), ("b", 2)]
    assert dict(base) == {"a": 1, "b": 2}


def test_it_compares_equal_to_the_dict_it_stands_for() -> None:
    grown = with_record({"z": 1, "a": 2}, "m", 3)
    assert grown == {"z": 1, "a": 2, "m": 3}
    assert {"z": 1, "a": 2, "m": 3} == grown  # noqa: SIM300 - the dict on the left is the point
    assert list(grown) == ["z", "a", "m"]  # insertion order, like a JavaScript Map
    assert with_record(grown, "q", 4) == {"z": 1, "a": 2, "m": 3, "q": 4}


operations = st.lists(st.tuples(st.integers(0, 5), st.sampled_from("abcdefg"), st.integers()), max_size=40)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_any_history_of_grows_matches_plain_dict_copies(steps: list[tuple[int, str, int]]) -> None:
    """Grow from any earlier version (branching), set held keys, and compare every version with dicts."""
    maps: list[GrowingMap[str, int]] = [GrowingMap()]
    dicts: list[dict[str, int]] = [{}]
    for back, key, value in steps:
        i = max(0, len(maps) - 1 - back)
        maps.append(maps[i].grown(key, value))
        expected = dict(dicts[i])
        expected[key] = value
        dicts.append(expected)
    for grown, expected in zip(maps, dicts, strict=True):
        assert list(grown.items()) == list(expected.items())
        assert list(reversed(grown)) == list(reversed(expected))
        assert len(grown) == len(expected)
        assert all((key in grown) == (key in expected) for key in "abcdefgh")
