"""Round trips in the exact wire form: what a store is given, it gives back, cold or warm."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.clocks import CountingClock
from tests.store.backends import StoreBackend
from tests.store.conftest import ALICE, BOB, TENANT, busy_run, create, mutate, new_run, write, write_once
from workbench_mcp.engine import telemetry
from workbench_mcp.engine.artifacts import patch_artifact, write_artifact
from workbench_mcp.engine.hydrate import from_serialized, to_serialized
from workbench_mcp.engine.lifecycle import complete_run
from workbench_mcp.protocol.serialized_run import read_serialized_run
from workbench_mcp.store.run_store import RunStore


async def test_created_run_loads_back_equal_in_the_wire_form(store: RunStore, clock: CountingClock) -> None:
    state, events = new_run(clock, tags=["t"])
    run_id = await store.create_run(TENANT, state, events, ALICE)

    assert run_id == state.run_id
    assert await store.load_state(TENANT, run_id) == state
    assert await store.load_trace(TENANT, run_id) == events
    assert to_serialized(*await store.load_run(TENANT, run_id)) == to_serialized(state, events)


async def test_a_cold_store_rebuilds_the_same_state_as_the_writer(
    store: RunStore, backend: StoreBackend, clock: CountingClock
) -> None:
    run_id = await busy_run(store, clock)
    warm_state, warm_trace = await store.load_run(TENANT, run_id)

    cold = await backend.open(cache_size=0)  # nothing cached: every member comes from the rows

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
    store: RunStore, backend: StoreBackend, clock: CountingClock
) -> None:
    run_id = await busy_run(store, clock)
    cold = await backend.open(cache_size=0)

    await mutate(cold, clock, run_id, write_artifact, artifact_key="notes", type_id="t", data=2)
    await mutate(cold, clock, run_id, complete_run)

    state, trace = await store.load_run(TENANT, run_id)
    assert state.artifacts["notes"].version == 3
    assert state.run.status == "completed"
    assert state.revision == len(trace)


async def test_every_artifact_version_is_kept(store: RunStore, backend: StoreBackend, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    for n in range(3):
        await write_once(store, clock, run_id, key="draft", data={"n": n})
    await mutate(store, clock, run_id, patch_artifact, artifact_key="draft", patch=[])

    rows = backend.rows("SELECT version FROM artifact_versions WHERE run_id = ? ORDER BY version", run_id)
    assert [v for (v,) in rows] == [1, 2, 3, 4]


async def test_replace_run_stores_a_serialized_state_and_gives_it_back_exactly(
    store: RunStore, clock: CountingClock
) -> None:
    source = await busy_run(store, clock)
    wire = to_serialized(*await store.load_run(TENANT, source))
    state, trace = from_serialized(read_serialized_run(wire))

    await store.replace_run("org_imported", state, trace, ALICE)

    assert to_serialized(*await store.load_run("org_imported", state.run_id)) == wire


async def test_replace_run_keeps_a_revision_that_differs_from_the_trace_length(
    store: RunStore, clock: CountingClock
) -> None:
    state, events = new_run(clock)
    wire = to_serialized(state, events) | {"revision": 42}
    imported, trace = from_serialized(read_serialized_run(wire))
    await store.replace_run(TENANT, imported, trace, ALICE)

    await mutate(store, clock, state.run_id, write_artifact, artifact_key="k", type_id="t", data=1)

    loaded, loaded_trace = await store.load_run(TENANT, state.run_id)
    assert loaded.revision == 43
    assert len(loaded_trace) == len(events) + 1


async def test_replace_run_overwrites_the_whole_run(
    store: RunStore, backend: StoreBackend, clock: CountingClock
) -> None:
    run_id = await busy_run(store, clock)
    fresh_state, fresh_events = new_run(clock)
    replacement = fresh_state.evolve(run=fresh_state.run.model_copy(update={"id": run_id}))
    fresh_events = [e | {"runId": run_id} for e in fresh_events]

    await store.replace_run(TENANT, replacement, fresh_events, ALICE)

    assert await store.load_run(TENANT, run_id) == (replacement, fresh_events)
    assert backend.rows("SELECT COUNT(*) FROM artifact_versions WHERE run_id = ?", run_id) == [(0,)]
    assert backend.rows("SELECT COUNT(*) FROM audit WHERE run_id = ?", run_id) == [(len(fresh_events),)]


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
async def uncached(backend: StoreBackend) -> RunStore:
    """Decodes every state from its rows."""
    return await backend.open(cache_size=0)


_EXAMPLES = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=JSON_VALUES)
async def test_any_json_artifact_data_round_trips(uncached: RunStore, data: Any) -> None:
    clock, tenant = CountingClock(), f"tenant-{next(_EXAMPLES)}"  # one fresh tenant per example
    run_id = await create(uncached, clock, tenant=tenant)
    async with uncached.run_transaction(tenant, run_id) as tx:
        written = await write(tx, clock, data=data)

    state, trace = await uncached.load_run(tenant, run_id)
    assert state.artifacts["draft"].data == data
    assert trace[-1] == written[0]


async def test_lone_surrogates_and_nul_round_trip(store: RunStore, backend: StoreBackend, clock: CountingClock) -> None:
    # Lone surrogates only in string values: pydantic-core refuses them in member names (dump) and
    # in length-checked ids (validation) before anything reaches the store.
    odd = {"s": "a\x00b\udfff", "emoji": "\U0001f600", "nul\x00key": ["\x00", "\udbff", "\ud800"]}
    run_id = await create(store, clock, tags=["\ud800tag\x00"], metadata={"m\x00": "\udc00"})
    written = await write_once(store, clock, run_id, key="k\x00", data=odd, idempotency_key="i\x00")

    cold = await backend.open(cache_size=0)
    state, trace = await cold.load_run(TENANT, run_id)
    assert state.artifacts["k\x00"].data == odd
    assert state.run.tags == ["\ud800tag\x00"]
    assert state.run.metadata == {"m\x00": "\udc00"}
    assert "i\x00" in state.idempotency
    assert trace[-1] == written[0]
    assert (await cold.list_runs(TENANT)).items[0]["tags"] == ["\ud800tag\x00"]
    assert backend.integrity_problems() == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda sets: {**sets, "quiet": sets["default"].model_copy(update={"id": "quiet"})}, id="added"),
        pytest.param(lambda sets: {"extra": sets["extra"], "default": sets["default"]}, id="reordered"),
        pytest.param(lambda sets: {"extra": sets["extra"]}, id="removed"),
    ],
)
async def test_map_changes_no_event_names_are_still_stored(
    store: RunStore, backend: StoreBackend, clock: CountingClock, change: Callable[[Any], Any]
) -> None:
    """The events normally name every changed entry; a state changed otherwise is compared in full."""
    run_id = await busy_run(store, clock)
    async with store.run_transaction(TENANT, run_id) as tx:
        outcome = telemetry.annotate(tx.state, clock, text="unrelated event")
        changed = outcome.state.evolve(rule_sets=change(dict(outcome.state.rule_sets)))
        await tx.append(changed, [e.model_dump(mode="json") for e in outcome.events], BOB)

    cold = await backend.open(cache_size=0)
    assert await cold.load_state(TENANT, run_id) == changed
    assert list((await cold.load_state(TENANT, run_id)).rule_sets) == list(changed.rule_sets)
