"""SqliteRunStore: round trips in the exact wire form, incremental writes, listing, limits, errors."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.clocks import CountingClock
from tests.store.conftest import (
    ALICE,
    BOB,
    TENANT,
    StoreFactory,
    create,
    db_rows,
    mutate,
    new_run,
    write,
    write_once,
)
from workbench_mcp.engine import gates, rules, steps, telemetry
from workbench_mcp.engine.artifacts import patch_artifact, write_artifact
from workbench_mcp.engine.hydrate import from_serialized, to_serialized
from workbench_mcp.engine.lifecycle import complete_run
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.serialized_run import read_serialized_run
from workbench_mcp.store.run_store import StoreLimits
from workbench_mcp.store.sqlite_store import CHECKPOINT_EVERY, SqliteRunStore


async def busy_run(store: SqliteRunStore, clock: CountingClock) -> str:
    """A run that went through most kinds of operation, so every table and map has entries."""
    run_id = await create(store, clock, tags=["blue"], metadata={"owner": "qa"})
    await mutate(store, clock, run_id, gates.resolve_gate, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    await mutate(store, clock, run_id, steps.begin_step, step_id="parser1")
    await mutate(store, clock, run_id, telemetry.begin_span, name="parse", step_id="parser1")
    for key in ("compiledProfile", "notes", "compiledProfile"):
        await mutate(
            store,
            clock,
            run_id,
            write_artifact,
            artifact_key=key,
            type_id="t",
            data={"k": key},
            idempotency_key=f"w-{key}-{clock.ticks}",
        )
    await mutate(
        store, clock, run_id, patch_artifact, artifact_key="notes", patch=[{"op": "add", "path": "/x", "value": 1}]
    )
    await mutate(store, clock, run_id, rules.reorder_rules, rule_set_id="default", ordered_rule_ids=["r2", "r1"])
    new_set = {"id": "extra", "ruleSchemaId": "demoJobRule", "rules": []}
    await mutate(store, clock, run_id, rules.replace_rule_set, rule_set=new_set)
    await mutate(store, clock, run_id, steps.complete_step, step_id="parser1")
    await mutate(store, clock, run_id, telemetry.annotate, text="looks good")
    return run_id  # fmt: skip


# --- round trips ------------------------------------------------------------------------------------------


async def test_created_run_loads_back_equal_in_the_wire_form(store: SqliteRunStore, clock: CountingClock) -> None:
    state, events = new_run(clock, tags=["t"])
    run_id = await store.create_run(TENANT, state, events, ALICE)

    assert run_id == state.run_id
    assert await store.load_state(TENANT, run_id) == state
    assert await store.load_trace(TENANT, run_id) == events
    assert to_serialized(*await store.load_run(TENANT, run_id)) == to_serialized(state, events)


async def test_a_cold_store_rebuilds_the_same_state_as_the_writer(
    store: SqliteRunStore, open_store: StoreFactory, clock: CountingClock
) -> None:
    run_id = await busy_run(store, clock)
    warm_state, warm_trace = await store.load_run(TENANT, run_id)

    cold = await open_store(cache_size=0)  # nothing cached: every member comes from the rows

    cold_state, cold_trace = await cold.load_run(TENANT, run_id)
    assert cold_state == warm_state
    assert cold_trace == warm_trace
    assert list(cold_state.artifacts) == ["compiledProfile", "notes"]  # first-write order, not latest
    assert list(cold_state.rule_sets) == ["default", "extra"]
    assert [r.id for r in cold_state.rule_sets["default"].rules] == ["r2", "r1"]
    assert cold_state.open_spans == warm_state.open_spans
    assert len(cold_state.open_spans) == 1
    assert all(entry.payload_digest for entry in cold_state.idempotency.values())


async def test_a_cold_store_continues_a_run_where_the_writer_left_it(
    store: SqliteRunStore, open_store: StoreFactory, clock: CountingClock
) -> None:
    run_id = await busy_run(store, clock)
    cold = await open_store(cache_size=0)

    await mutate(cold, clock, run_id, write_artifact, artifact_key="notes", type_id="t", data=2)
    await mutate(cold, clock, run_id, complete_run)

    state, trace = await store.load_run(TENANT, run_id)
    assert state.artifacts["notes"].version == 3
    assert state.run.status == "completed"
    assert state.revision == len(trace)


async def test_every_artifact_version_is_kept(store: SqliteRunStore, clock: CountingClock, db_path: Path) -> None:
    run_id = await create(store, clock)
    for n in range(3):
        await write_once(store, clock, run_id, key="draft", data={"n": n})
    await mutate(store, clock, run_id, patch_artifact, artifact_key="draft", patch=[])

    rows = db_rows(db_path, "SELECT version FROM artifact_versions WHERE run_id = ? ORDER BY version", run_id)
    assert [v for (v,) in rows] == [1, 2, 3, 4]


async def test_replace_run_stores_a_serialized_state_and_gives_it_back_exactly(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    source = await busy_run(store, clock)
    wire = to_serialized(*await store.load_run(TENANT, source))
    state, trace = from_serialized(read_serialized_run(wire))

    await store.replace_run("org_imported", state, trace, ALICE)

    assert to_serialized(*await store.load_run("org_imported", state.run_id)) == wire


async def test_replace_run_keeps_a_revision_that_differs_from_the_trace_length(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    state, events = new_run(clock)
    wire = to_serialized(state, events) | {"revision": 42}
    imported, trace = from_serialized(read_serialized_run(wire))
    await store.replace_run(TENANT, imported, trace, ALICE)

    await mutate(store, clock, state.run_id, write_artifact, artifact_key="k", type_id="t", data=1)

    loaded, loaded_trace = await store.load_run(TENANT, state.run_id)
    assert loaded.revision == 43
    assert len(loaded_trace) == len(events) + 1


async def test_replace_run_overwrites_the_whole_run(store: SqliteRunStore, clock: CountingClock, db_path: Path) -> None:
    run_id = await busy_run(store, clock)
    fresh_state, fresh_events = new_run(clock)
    replacement = fresh_state.evolve(run=fresh_state.run.model_copy(update={"id": run_id}))
    fresh_events = [e | {"runId": run_id} for e in fresh_events]

    await store.replace_run(TENANT, replacement, fresh_events, ALICE)

    assert await store.load_run(TENANT, run_id) == (replacement, fresh_events)
    assert db_rows(db_path, "SELECT COUNT(*) FROM artifact_versions WHERE run_id = ?", run_id) == [(0,)]
    assert db_rows(db_path, "SELECT COUNT(*) FROM audit WHERE run_id = ?", run_id) == [(len(fresh_events),)]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture
async def uncached(open_store: StoreFactory) -> SqliteRunStore:
    """Decodes every state from its rows."""
    return await open_store(cache_size=0)


_EXAMPLES = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=JSON_VALUES)
async def test_any_json_artifact_data_round_trips(uncached: SqliteRunStore, data: Any) -> None:
    clock, tenant = CountingClock(), f"tenant-{next(_EXAMPLES)}"  # one fresh tenant per example
    run_id = await create(uncached, clock, tenant=tenant)
    async with uncached.run_transaction(tenant, run_id) as tx:
        written = await write(tx, clock, data=data)

    state, trace = await uncached.load_run(tenant, run_id)
    assert state.artifacts["draft"].data == data
    assert trace[-1] == written[0]


async def test_lone_surrogates_and_nul_round_trip(
    store: SqliteRunStore, open_store: StoreFactory, clock: CountingClock, db_path: Path
) -> None:
    # Lone surrogates only in string values: pydantic-core refuses them in member names (dump) and
    # in length-checked ids (validation) before anything reaches the store.
    odd = {"s": "a\x00b\udfff", "emoji": "\U0001f600", "nul\x00key": ["\x00", "\udbff", "\ud800"]}
    run_id = await create(store, clock, tags=["\ud800tag\x00"], metadata={"m\x00": "\udc00"})
    written = await write_once(store, clock, run_id, key="k\x00", data=odd, idempotency_key="i\x00")

    cold = await open_store(cache_size=0)
    state, trace = await cold.load_run(TENANT, run_id)
    assert state.artifacts["k\x00"].data == odd
    assert state.run.tags == ["\ud800tag\x00"]
    assert state.run.metadata == {"m\x00": "\udc00"}
    assert "i\x00" in state.idempotency
    assert trace[-1] == written[0]
    assert (await cold.list_runs(TENANT)).items[0]["tags"] == ["\ud800tag\x00"]
    assert db_rows(db_path, "PRAGMA integrity_check") == [("ok",)]


# --- transactions ---------------------------------------------------------------------------------------


async def test_expected_revision_mismatch_is_a_conflict_that_changes_nothing(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)

    with pytest.raises(WorkbenchError) as caught:
        async with store.run_transaction(TENANT, run_id, expected_revision=before[0].revision - 1) as tx:
            await write(tx, clock)

    assert caught.value.code is ErrorCode.REVISION_CONFLICT
    assert await store.load_run(TENANT, run_id) == before


async def test_matching_expected_revision_lets_the_write_through(store: SqliteRunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    revision = (await store.load_state(TENANT, run_id)).revision

    async with store.run_transaction(TENANT, run_id, expected_revision=revision) as tx:
        await write(tx, clock)

    assert (await store.load_state(TENANT, run_id)).revision == revision + 1


async def test_an_error_inside_the_block_rolls_back_what_was_appended(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)

    async def write_then_fail() -> None:
        async with store.run_transaction(TENANT, run_id) as tx:
            await write(tx, clock)
            raise RuntimeError("the caller changed its mind")

    with pytest.raises(RuntimeError):
        await write_then_fail()

    assert await store.load_run(TENANT, run_id) == before
    await write_once(store, clock, run_id)  # and the store is still usable
    assert (await store.load_state(TENANT, run_id)).revision == before[0].revision + 1


async def test_a_block_that_appends_nothing_writes_nothing(store: SqliteRunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)

    async with store.run_transaction(TENANT, run_id) as tx:
        assert tx.state == before[0]

    assert await store.load_run(TENANT, run_id) == before


async def test_two_appends_in_one_block_commit_together(store: SqliteRunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    async with store.run_transaction(TENANT, run_id) as tx:
        await write(tx, clock, key="a")
        await write(tx, clock, key="b")
        await write(tx, clock, key="a")

    state, trace = await store.load_run(TENANT, run_id)
    assert {k: a.version for k, a in state.artifacts.items()} == {"a": 2, "b": 1}
    assert state.revision == len(trace)


async def test_append_refuses_a_state_that_does_not_follow_from_the_events(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)

    async def append_without_events() -> None:
        async with store.run_transaction(TENANT, run_id) as tx:
            outcome = write_artifact(tx.state, clock, artifact_key="k", type_id="t", data=1)
            await tx.append(outcome.state, [], BOB)  # events dropped: the revision no longer adds up

    with pytest.raises(WorkbenchError) as caught:
        await append_without_events()
    assert caught.value.code is ErrorCode.INTERNAL_ERROR


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda sets: {**sets, "quiet": sets["default"].model_copy(update={"id": "quiet"})}, id="added"),
        pytest.param(lambda sets: {"extra": sets["extra"], "default": sets["default"]}, id="reordered"),
        pytest.param(lambda sets: {"extra": sets["extra"]}, id="removed"),
    ],
)
async def test_map_changes_no_event_names_are_still_stored(
    store: SqliteRunStore, open_store: StoreFactory, clock: CountingClock, change: Callable[[Any], Any]
) -> None:
    """The events normally name every changed entry; a state changed otherwise is compared in full."""
    run_id = await busy_run(store, clock)
    async with store.run_transaction(TENANT, run_id) as tx:
        outcome = telemetry.annotate(tx.state, clock, text="unrelated event")
        changed = outcome.state.evolve(rule_sets=change(dict(outcome.state.rule_sets)))
        await tx.append(changed, [e.model_dump(mode="json") for e in outcome.events], BOB)

    cold = await open_store(cache_size=0)
    assert await cold.load_state(TENANT, run_id) == changed
    assert list((await cold.load_state(TENANT, run_id)).rule_sets) == list(changed.rule_sets)


async def test_a_write_touches_the_same_rows_at_trace_length_10_and_1000(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    """D18: the trace is never read or rewritten by a write; the work per write is constant."""
    run_id = await create(store, clock)
    short = await _statements_of_one_write(store, clock, run_id)
    for _ in range(100):  # ten events per transaction keeps the setup fast
        async with store.run_transaction(TENANT, run_id) as tx:
            for _ in range(10):
                await write(tx, clock, idempotency_key=f"k{clock.ticks}")
    long = await _statements_of_one_write(store, clock, run_id)

    assert (await store.load_state(TENANT, run_id)).revision > 1000
    assert long == short
    # Besides its inserts, a write reads one trace row by primary key: the previous event's chain link.
    previous_link = "SELECT (SELECT link FROM trace_events WHERE tenant_id = ?"  # statements are cut at 60
    assert not any("trace_events" in s and not s.startswith(("INSERT", previous_link)) for s in long)


_LITERALS = re.compile(r"'(?:[^']|'')*'|-?\b\d+\b")


async def _statements_of_one_write(store: SqliteRunStore, clock: CountingClock, run_id: str) -> list[str]:
    """The statements one keyed write runs, with literals and whitespace normalized, plus the row
    count it changed. Reads the store's private write connection: there is no public hook."""
    seen: list[str] = []

    def trace_on(conn: sqlite3.Connection) -> int:
        conn.set_trace_callback(lambda sql: seen.append(_LITERALS.sub("?", " ".join(sql.split()))[:60]))
        return conn.total_changes

    def trace_off(conn: sqlite3.Connection) -> int:
        conn.set_trace_callback(None)
        return conn.total_changes

    changes_before = await store._on(store._writer, trace_on)
    await write_once(store, clock, run_id, idempotency_key=f"probe-{clock.ticks}")
    changes = await store._on(store._writer, trace_off) - changes_before
    return [*(s for s in seen if not s.startswith(("BEGIN", "COMMIT"))), f"changes={changes}"]


async def test_the_wal_is_checkpointed_in_the_background(
    store: SqliteRunStore, clock: CountingClock, db_path: Path
) -> None:
    """Commits reach the database file while the store runs, without a commit doing the copying."""
    run_id = await create(store, clock)
    size_before = _file_size(db_path)
    for _ in range(CHECKPOINT_EVERY * 2):
        await write_once(store, clock, run_id)
    await asyncio.sleep(0)  # let the last scheduled checkpoint start
    if store._checkpointing is not None:
        await store._checkpointing

    assert _file_size(db_path) > size_before
    assert db_rows(db_path, "PRAGMA integrity_check") == [("ok",)]


def _file_size(path: Path) -> int:
    return path.stat().st_size


# --- listing ---------------------------------------------------------------------------------------------


async def test_list_runs_pages_newest_first_with_an_opaque_cursor(store: SqliteRunStore, clock: CountingClock) -> None:
    created = [await create(store, clock) for _ in range(7)]

    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await store.list_runs(TENANT, limit=3, cursor=cursor)
        pages.append([item["id"] for item in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == [created[::-1][0:3], created[::-1][3:6], created[::-1][6:7]]


async def test_list_runs_returns_saved_run_meta(store: SqliteRunStore, clock: CountingClock) -> None:
    tagged = await create(store, clock, tags=["a", "b"])
    plain = await create(store, clock)
    await mutate(store, clock, plain, complete_run)
    state = await store.load_state(TENANT, plain)

    items = (await store.list_runs(TENANT)).items

    assert items == [
        {
            "id": plain,
            "workflowId": "jobSearchWorkflow",
            "startedAt": state.run.started_at,
            "endedAt": state.run.ended_at,
            "status": "completed",
        },
        {
            "id": tagged,
            "workflowId": "jobSearchWorkflow",
            "startedAt": (await store.load_state(TENANT, tagged)).run.started_at,
            "status": "running",
            "tags": ["a", "b"],
        },
    ]


async def test_list_runs_orders_by_time_not_by_text(store: SqliteRunStore, clock: CountingClock) -> None:
    """10:00+02:00 is 08:00Z, earlier than 09:00Z although it sorts later as text."""
    starts = {
        "run_a": "2026-01-05T09:00:00.000Z",
        "run_b": "2026-01-05T10:00:00+02:00",
        "run_c": "2026-01-05T09:00:00.5Z",
    }
    for run_id, started_at in starts.items():
        state, events = new_run(clock)
        run = state.run.model_copy(update={"id": run_id, "started_at": started_at})
        await store.replace_run(TENANT, state.evolve(run=run), [e | {"runId": run_id} for e in events], ALICE)

    assert [item["id"] for item in (await store.list_runs(TENANT)).items] == ["run_c", "run_a", "run_b"]


@pytest.mark.parametrize(("asked", "served"), [(0, 1), (-5, 1), (2, 2), (10_000, 500)])
async def test_list_runs_clamps_the_limit(store: SqliteRunStore, db_path: Path, asked: int, served: int) -> None:
    await _bulk_runs(store, db_path, 501)
    page = await store.list_runs(TENANT, limit=asked)
    assert len(page.items) == served
    assert page.next_cursor is not None


async def test_list_runs_default_page_is_100(store: SqliteRunStore, db_path: Path) -> None:
    await _bulk_runs(store, db_path, 150)
    assert len((await store.list_runs(TENANT)).items) == 100


async def _bulk_runs(store: SqliteRunStore, db_path: Path, count: int) -> None:
    clock = CountingClock()
    run_id = await create(store, clock)
    with sqlite3.connect(db_path) as conn:  # copies of one real row: fast, and the listing only reads the row
        conn.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO runs SELECT tenant_id, run_id || '_' || i, workflow_id, status, started_at,
                started_us + i, ended_at, tags, revision, trace_length, state_tag, run_json, engine_json
            FROM runs, n WHERE run_id = ?
            """,
            (count - 1, run_id),
        )


async def test_a_bad_cursor_is_invalid_input(store: SqliteRunStore) -> None:
    for cursor in ("not base64!", "W10", "WzEsMl0", "e30"):
        with pytest.raises(WorkbenchError) as caught:
            await store.list_runs(TENANT, cursor=cursor)
        assert caught.value.code is ErrorCode.INVALID_INPUT


def test_the_listing_query_is_answered_from_the_covering_index(db_path: Path) -> None:
    from workbench_mcp.store.schema import bundled_migrations, migrate
    from workbench_mcp.store.sqlite_store import _SELECT_PAGE

    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, bundled_migrations())
    plan = conn.execute("EXPLAIN QUERY PLAN " + _SELECT_PAGE, (TENANT, 0, "", 10)).fetchall()
    conn.close()
    assert "USING COVERING INDEX runs_listing" in plan[0][3]
    assert "TEMP B-TREE" not in str(plan)  # no sort: rows come out of the index in order


# --- start requests, collisions, deletion ------------------------------------------------------------------


async def test_a_retried_start_request_returns_the_first_run(store: SqliteRunStore, clock: CountingClock) -> None:
    first, first_events = new_run(clock)
    second, second_events = new_run(clock)

    assert await store.create_run(TENANT, first, first_events, ALICE, request_id="req-1") == first.run_id
    assert await store.create_run(TENANT, second, second_events, ALICE, request_id="req-1") == first.run_id
    assert [item["id"] for item in (await store.list_runs(TENANT)).items] == [first.run_id]


@pytest.mark.parametrize(
    "changed",
    [{"tags": ["b"]}, {"tags": None}, {"metadata": {"m": 2}}, {"metadata": None}],
)
async def test_a_start_request_reused_with_other_arguments_is_a_conflict(
    store: SqliteRunStore, clock: CountingClock, changed: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {"tags": ["a"], "metadata": {"m": 1, "n": [1, 2]}}
    first, first_events = new_run(clock, **arguments)
    await store.create_run(TENANT, first, first_events, ALICE, request_id="req-1")
    same, same_events = new_run(clock, **arguments | {"metadata": {"n": [1, 2], "m": 1}})  # member order aside
    assert await store.create_run(TENANT, same, same_events, ALICE, request_id="req-1") == first.run_id

    other, other_events = new_run(clock, **arguments | changed)
    with pytest.raises(WorkbenchError) as refused:
        await store.create_run(TENANT, other, other_events, ALICE, request_id="req-1")
    assert refused.value.code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert [item["id"] for item in (await store.list_runs(TENANT)).items] == [first.run_id]


async def test_a_start_request_of_a_deleted_run_starts_a_new_one(store: SqliteRunStore, clock: CountingClock) -> None:
    first, first_events = new_run(clock)
    await store.create_run(TENANT, first, first_events, ALICE, request_id="req-1")
    await store.delete_run(TENANT, first.run_id)
    second, second_events = new_run(clock)

    assert await store.create_run(TENANT, second, second_events, ALICE, request_id="req-1") == second.run_id


async def test_creating_an_existing_run_id_is_a_collision(store: SqliteRunStore, clock: CountingClock) -> None:
    state, events = new_run(clock)
    await store.create_run(TENANT, state, events, ALICE)
    with pytest.raises(WorkbenchError) as caught:
        await store.create_run(TENANT, state, events, ALICE)
    assert caught.value.code is ErrorCode.RUN_ID_COLLISION


async def test_delete_run_removes_the_run_and_all_its_rows(
    store: SqliteRunStore, clock: CountingClock, db_path: Path
) -> None:
    run_id = await busy_run(store, clock)

    assert await store.delete_run(TENANT, run_id) is True
    assert await store.delete_run(TENANT, run_id) is False
    with pytest.raises(WorkbenchError) as caught:
        await store.load_state(TENANT, run_id)
    assert caught.value.code is ErrorCode.UNKNOWN_RUN
    assert (await store.list_runs(TENANT)).items == []
    for table in ("trace_events", "artifact_versions", "artifact_heads", "rule_sets", "idempotency", "audit"):
        assert db_rows(db_path, f"SELECT COUNT(*) FROM {table}") == [(0,)], table


async def test_delete_run_with_expected_revision_deletes_only_that_revision(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    revision = (await store.load_state(TENANT, run_id)).revision

    for stale in (revision - 1, revision + 1):
        with pytest.raises(WorkbenchError) as caught:
            await store.delete_run(TENANT, run_id, expected_revision=stale)
        assert caught.value.code is ErrorCode.REVISION_CONFLICT
    assert await store.delete_run(TENANT, run_id, expected_revision=revision) is True
    with pytest.raises(WorkbenchError) as caught:
        await store.delete_run(TENANT, run_id, expected_revision=revision)
    assert caught.value.code is ErrorCode.REVISION_CONFLICT


# --- audit --------------------------------------------------------------------------------------------


async def test_every_appended_event_records_who_and_when_beside_the_trace(
    open_store: StoreFactory, clock: CountingClock
) -> None:
    store = await open_store(now=lambda: "2026-02-03T04:05:06.007Z")
    run_id = await create(store, clock)
    written = await write_once(store, clock, run_id)

    audit = await store.audit_log(TENANT, run_id)
    trace = await store.load_trace(TENANT, run_id)

    assert [a.event_id for a in audit] == [e["id"] for e in trace]
    assert [a.seq for a in audit] == list(range(1, len(trace) + 1))
    assert {(a.principal, a.tool, a.correlation_id) for a in audit[:-1]} == {("user_alice", "start_run", "corr-1")}
    assert (audit[-1].principal, audit[-1].tool, audit[-1].event_id) == ("user_bob", "write_artifact", written[0]["id"])
    assert {a.at for a in audit} == {"2026-02-03T04:05:06.007Z"}
    assert not any("principal" in e or "user_bob" in str(e) for e in trace)


# --- limits ------------------------------------------------------------------------------------------------


async def test_the_trace_limit_refuses_the_write_and_keeps_the_run(
    open_store: StoreFactory, clock: CountingClock
) -> None:
    state, events = new_run(clock)
    store = await open_store(limits=StoreLimits(max_trace_events_per_run=len(events) + 1))
    run_id = await store.create_run(TENANT, state, events, ALICE)
    await write_once(store, clock, run_id)
    before = await store.load_run(TENANT, run_id)

    with pytest.raises(WorkbenchError) as caught:
        await write_once(store, clock, run_id)

    assert caught.value.code is ErrorCode.LIMIT_EXCEEDED
    assert "max_trace_events_per_run" in caught.value.message
    assert await store.load_run(TENANT, run_id) == before


async def test_the_trace_limit_applies_to_imports(open_store: StoreFactory, clock: CountingClock) -> None:
    state, events = new_run(clock)
    store = await open_store(limits=StoreLimits(max_trace_events_per_run=len(events) - 1))
    with pytest.raises(WorkbenchError) as caught:
        await store.replace_run(TENANT, state, events, ALICE)
    assert caught.value.code is ErrorCode.LIMIT_EXCEEDED


async def test_the_run_limit_counts_runs_per_tenant(open_store: StoreFactory, clock: CountingClock) -> None:
    store = await open_store(limits=StoreLimits(max_runs_per_tenant=2))
    first = await create(store, clock)
    await create(store, clock)
    await create(store, clock, tenant="org_other")  # another tenant has its own allowance

    for attempt in (_create_one, _import_one):
        with pytest.raises(WorkbenchError) as caught:
            await attempt(store, clock)
        assert caught.value.code is ErrorCode.LIMIT_EXCEEDED
        assert "max_runs_per_tenant" in caught.value.message

    state, trace = await store.load_run(TENANT, first)
    await store.replace_run(TENANT, state, trace, ALICE)  # replacing an existing run adds none
    await store.delete_run(TENANT, first)
    await create(store, clock)  # and deleting makes room


async def _create_one(store: SqliteRunStore, clock: CountingClock) -> None:
    await create(store, clock)


async def _import_one(store: SqliteRunStore, clock: CountingClock) -> None:
    state, events = new_run(clock)
    await store.replace_run(TENANT, state, events, ALICE)


async def test_the_payload_limit_counts_utf8_bytes_of_the_data(open_store: StoreFactory, clock: CountingClock) -> None:
    store = await open_store(limits=StoreLimits(max_artifact_payload_bytes=1_000))
    run_id = await create(store, clock)

    await write_once(store, clock, run_id, data="é" * 498)  # 998 bytes: stored as 2,990 escaped characters
    with pytest.raises(WorkbenchError) as caught:
        await write_once(store, clock, run_id, data="é" * 500)

    assert caught.value.code is ErrorCode.LIMIT_EXCEEDED
    assert "max_artifact_payload_bytes" in caught.value.message
    assert (await store.load_state(TENANT, run_id)).artifacts["draft"].version == 1


# --- storage failures never leak a driver exception -------------------------------------------------------


async def test_a_database_locked_past_the_busy_timeout_is_storage_unavailable(
    open_store: StoreFactory, clock: CountingClock, db_path: Path
) -> None:
    store = await open_store(busy_timeout_ms=100)
    run_id = await create(store, clock)
    trace = await store.load_trace(TENANT, run_id)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(WorkbenchError) as caught:
            await write_once(store, clock, run_id)
        assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
        assert await store.load_trace(TENANT, run_id) == trace  # readers are not blocked by a writer
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await write_once(store, clock, run_id)


async def test_a_full_disk_is_storage_unavailable_and_changes_nothing(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)

    def cap_file_size(conn: sqlite3.Connection) -> None:  # what a full disk looks like to SQLite
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

    await store._on(store._writer, cap_file_size)
    with pytest.raises(WorkbenchError) as caught:
        await write_once(store, clock, run_id, data="x" * 100_000)

    assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert await store.load_run(TENANT, run_id) == before


@pytest.mark.parametrize("kind", ["directory", "not a database", "missing folder"])
async def test_a_path_that_cannot_be_a_database_is_storage_unavailable(tmp_path: Path, kind: str) -> None:
    path = {"directory": tmp_path, "not a database": tmp_path / "notes.txt", "missing folder": tmp_path / "no" / "x.db"}
    (tmp_path / "notes.txt").write_text("certainly not SQLite " * 100)
    store = SqliteRunStore(path[kind])
    with pytest.raises(WorkbenchError) as caught:
        await store.open()
    assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE


async def test_a_closed_store_is_storage_unavailable(db_path: Path, clock: CountingClock) -> None:
    store = SqliteRunStore(db_path)
    await store.open()
    run_id = await create(store, clock)
    await store.close()

    calls: list[Callable[[], Any]] = [
        lambda: store.load_state(TENANT, run_id),
        lambda: store.list_runs(TENANT),
        lambda: write_once(store, clock, run_id),
        lambda: store.delete_run(TENANT, run_id),
    ]
    for call in calls:
        with pytest.raises(WorkbenchError) as caught:
            await call()
        assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE


@pytest.mark.parametrize(("durability", "synchronous"), [("normal", 1), ("full", 2)])
async def test_pragmas_follow_the_durability_setting(
    open_store: StoreFactory, durability: str, synchronous: int
) -> None:
    store = await open_store(durability=durability)

    def pragmas(conn: sqlite3.Connection) -> tuple[Any, ...]:
        return tuple(conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous", "foreign_keys"))

    assert await store._on(store._writer, pragmas) == ("wal", synchronous, 1)


# --- the database file itself ---------------------------------------------------------------------------


async def test_a_replaced_database_file_refuses_every_call(
    store: SqliteRunStore, clock: CountingClock, db_path: Path
) -> None:
    """Another file moved over the path (a restore, a deploy script): the store's connections still write
    to the old inode, so every call is STORAGE_UNAVAILABLE and stays so; the deletion case runs through
    the real server in tests/faults/test_storage_faults.py."""
    run_id = await create(store, clock)
    assert store.file_problem() is None
    other = db_path.with_name("other.db")
    sqlite3.connect(other).close()
    os.replace(other, db_path)

    with pytest.raises(WorkbenchError) as refused:
        await create(store, clock)
    assert refused.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert "replaced by another file" in refused.value.message
    with pytest.raises(WorkbenchError) as read:
        await store.load_state(TENANT, run_id)
    assert read.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert store.file_problem() == refused.value.message
