"""StoreLimits: each quota refused with LIMIT_EXCEEDED naming it, changing nothing; a closed store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.store.backends import StoreBackend
from tests.store.conftest import ALICE, TENANT, create, new_run, write_once
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.run_store import RunStore, StoreLimits


async def test_the_trace_limit_refuses_the_write_and_keeps_the_run(backend: StoreBackend, clock: CountingClock) -> None:
    state, events = new_run(clock)
    store = await backend.open(limits=StoreLimits(max_trace_events_per_run=len(events) + 1))
    run_id = await store.create_run(TENANT, state, events, ALICE)
    await write_once(store, clock, run_id)
    before = await store.load_run(TENANT, run_id)

    with pytest.raises(WorkbenchError) as caught:
        await write_once(store, clock, run_id)

    assert caught.value.code is ErrorCode.LIMIT_EXCEEDED
    assert "max_trace_events_per_run" in caught.value.message
    assert await store.load_run(TENANT, run_id) == before


async def test_the_trace_limit_applies_to_imports(backend: StoreBackend, clock: CountingClock) -> None:
    state, events = new_run(clock)
    store = await backend.open(limits=StoreLimits(max_trace_events_per_run=len(events) - 1))
    with pytest.raises(WorkbenchError) as caught:
        await store.replace_run(TENANT, state, events, ALICE)
    assert caught.value.code is ErrorCode.LIMIT_EXCEEDED


async def test_the_run_limit_counts_runs_per_tenant(backend: StoreBackend, clock: CountingClock) -> None:
    store = await backend.open(limits=StoreLimits(max_runs_per_tenant=2))
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


async def _create_one(store: RunStore, clock: CountingClock) -> None:
    await create(store, clock)


async def _import_one(store: RunStore, clock: CountingClock) -> None:
    state, events = new_run(clock)
    await store.replace_run(TENANT, state, events, ALICE)


async def test_the_payload_limit_counts_utf8_bytes_of_the_data(backend: StoreBackend, clock: CountingClock) -> None:
    store = await backend.open(limits=StoreLimits(max_artifact_payload_bytes=1_000))
    run_id = await create(store, clock)

    await write_once(store, clock, run_id, data="é" * 498)  # 998 bytes: stored as 2,990 escaped characters
    with pytest.raises(WorkbenchError) as caught:
        await write_once(store, clock, run_id, data="é" * 500)

    assert caught.value.code is ErrorCode.LIMIT_EXCEEDED
    assert "max_artifact_payload_bytes" in caught.value.message
    assert (await store.load_state(TENANT, run_id)).artifacts["draft"].version == 1


async def test_a_closed_store_is_storage_unavailable(backend: StoreBackend, clock: CountingClock) -> None:
    store = await backend.open()
    run_id = await create(store, clock)
    await store.close()

    calls: list[Callable[[], Any]] = [
        lambda: store.load_state(TENANT, run_id),
        lambda: store.list_runs(TENANT),
        lambda: write_once(store, clock, run_id),
        lambda: store.delete_run(TENANT, run_id),
        lambda: store.audit_log(TENANT, run_id),
    ]
    for call in calls:
        with pytest.raises(WorkbenchError) as caught:
            await call()
        assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
