"""The store's fast link (orjson) is byte-for-byte the canonical-JSON link on every value it accepts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench_mcp.errors import WorkbenchError
from workbench_mcp.ledger import chain

_SAFE = 2**53 - 1
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 1e-7, 1e-5, 1e21, 1.5e20, 0.87, 123456789012.5, 2.0**53]),
    st.text(),
    st.text(alphabet='abc:,[0.e19\\"\t\u2028\ud800'),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _outcome(fn: Any, value: Any) -> str:
    try:
        return str(fn("0" * 64, value))
    except WorkbenchError as exc:
        return exc.code.value


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(values)
def test_the_fast_link_equals_the_canonical_link(value: Any) -> None:
    assert _outcome(chain.stored_link, value) == _outcome(chain.link, value)


def test_a_typical_artifact_event_takes_the_fast_path() -> None:
    event = {
        "type": "artifact_written",
        "ts": "2026-12-03T06:00:00.000Z",
        "artifact": {"data": {"score": 0.87, "n": 3, "tags": ["a"]}, "payloadHash": "3e5a" * 16},
    }
    assert chain._UNSAFE_NUMBER_TEXT.search(json.dumps(event, separators=(",", ":"), sort_keys=True)) is None
    assert chain.stored_link("0" * 64, event) == chain.link("0" * 64, event)
