"""The event chain's fast path (orjson's sorted bytes, chosen from the stored text) links exactly as the
exact canonical writer does; tests/interop/test_chain_fast_path_interop.py compares its bytes with Node."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ledger.conftest import ALICE, Ledger
from workbench_mcp.commands import WriteArtifact
from workbench_mcp.errors import WorkbenchError
from workbench_mcp.ledger import chain
from workbench_mcp.ledger.store_rows import AUDIT_COLUMNS, audit_row_link
from workbench_mcp.protocol.canonical_json import MAX_SAFE_INTEGER, canonical_json
from workbench_mcp.store.row_codec import dump_json

PREVIOUS = "ab" * 32

# Numbers orjson or Python's repr write unlike JavaScript, and their neighbours that they write alike.
EDGE_NUMBERS = [
    1.0, -0.0, 0.0, 5.0, 100.0, 1e-4, 9.99e-5, 1e-5, 1e-7, 5e-324, 1e15 + 0.5, 1e16, 1e21, 1.5e300, 2.0**53,
    0.87, 123.456, -2.5, 0.1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1,
    2**64, 10**15, 10**16, 0, -1,
]  # fmt: skip
# Strings that look like what `_plain` looks for, and characters whose order or escapes differ.
EDGE_STRINGS = [
    "1.0,", "x.0}", "e-05,", "9e-4f3a-", "1e+16", "\\ud83d", "\\", '"', "\x00", "\x1f", "\x7f", "\u2028",
    "\ud800", "\udfff", "\ud83d\ude00", "\ue000", "\uffff", "😀", "𐀀", "é", "",
]  # fmt: skip
_strings = st.one_of(
    st.text(max_size=6), st.text(st.characters(max_codepoint=0x7F), max_size=6), st.sampled_from(EDGE_STRINGS)
)
_numbers = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
    st.sampled_from(EDGE_NUMBERS),
)
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), _numbers, _strings),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_strings, children, max_size=4),
    max_leaves=10,
)
events = st.dictionaries(_strings, _values, max_size=6)


def _link_or_error(previous: str, value: Any, link: Any) -> tuple[str, str]:
    try:
        return "ok", link(previous, value)
    except WorkbenchError as exc:
        return "error", str(exc.code)


def test_plain_text_is_recognised_and_hashed_as_canonical_json() -> None:
    event = {"type": "artifact_written", "artifact": {"data": {"score": 0.87, "n": 3, "tags": ["a"]}}, "id": "evt_1"}
    data = chain.plain_canonical(event, dump_json(event))
    assert data == canonical_json(event).encode("utf-8")
    assert chain.event_link(PREVIOUS, event, dump_json(event)) == chain.link(PREVIOUS, event)


@pytest.mark.parametrize(
    "event",
    [
        {"a": 1.0}, {"a": -0.0}, {"a": [1e-5]}, {"a": {"b": 1e16}}, {"a": 1e21}, {"a": 5e-324},
        {"a": 2**53}, {"a": -(2**53)}, {"😀": 1, "\ue000": 2}, {"a": "\ud800"}, {"\ud800": 1},
    ],
)  # fmt: skip
def test_values_orjson_writes_unlike_javascript_take_the_exact_path(event: dict[str, Any]) -> None:
    assert chain.plain_canonical(event, dump_json(event)) is None
    assert _link_or_error(PREVIOUS, event, lambda p, e: chain.event_link(p, e, dump_json(e))) == _link_or_error(
        PREVIOUS, event, chain.link
    )


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(events)
def test_the_fast_path_gives_the_exact_link_for_any_event(event: dict[str, Any]) -> None:
    stored = dump_json(event)
    data = chain.plain_canonical(event, stored)
    if data is not None:
        assert data == canonical_json(event).encode("utf-8")
    fast = _link_or_error(PREVIOUS, event, lambda p, e: chain.event_link(p, e, stored))
    assert fast == _link_or_error(PREVIOUS, event, chain.link)


def test_the_generated_events_exercise_the_fast_path() -> None:
    """Not vacuous: many generated events take the orjson path (and many do not)."""
    taken = []

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(events)
    def count(event: dict[str, Any]) -> None:
        taken.append(chain.plain_canonical(event, dump_json(event)) is not None)

    count()
    assert 0.05 < sum(taken) / len(taken) < 0.95  # the strategy favours the edge cases


async def test_stored_links_of_unusual_events_are_the_canonical_chain(ledger: Ledger) -> None:
    """Through the real store: events whose data takes the exact path and events that take the fast one."""
    run_id = str((await ledger.service.start_run(ALICE, "jobSearchWorkflow"))["runId"])
    for data in [
        {"score": 0.87, "text": "plain"},
        {"whole": 5.0, "tiny": 1e-7, "big": 1e21, "negative zero": -0.0},
        {"😀": "astral key", "\ue000": "private use key", "lone": "\ud800"},
        {"looks like": "1.0, e-05, \\ud83d", "int": MAX_SAFE_INTEGER},
    ]:
        await ledger.service.execute(ALICE, run_id, WriteArtifact(artifact_key="draft", type_id="note", data=data))
    trace = await ledger.store.load_trace("org_acme", run_id)
    with sqlite3.connect(ledger.db_path) as conn:
        stored = [
            row[0] for row in conn.execute("SELECT link FROM trace_events WHERE run_id = ? ORDER BY seq", (run_id,))
        ]
    assert stored == chain.links(trace)


@pytest.mark.parametrize(
    "row",
    [
        (7, "evt_1", "user_bob", "write_artifact", None, "2026-01-01T00:00:00.000Z"),
        (7, "evt_1", "user_bob", "write_artifact", "corr-9", "2026-01-01T00:00:00.000Z"),
        (1, "", "ünïcødé 😀 \ud83d\ude00", "tab\tnew\nline\u001f\u2028", '"\\', "2026-01-01T00:00:00.000Z"),
        (2, "evt_1", "lone \ud800 surrogate", "x", None, "t"),
        (MAX_SAFE_INTEGER + 1, "evt_1", "p", "x", None, "t"),
        (3, "evt_1", None, None, None, "t"),
        (3, "evt_1", "p", "x", 12, "t"),
    ],
)
def test_the_fast_audit_row_link_is_the_canonical_one(row: tuple[Any, ...]) -> None:
    columns = dict(zip(AUDIT_COLUMNS, row, strict=True))
    assert _link_or_error(PREVIOUS, row, audit_row_link) == _link_or_error(
        PREVIOUS, chain.audit_record(columns), chain.link
    )
