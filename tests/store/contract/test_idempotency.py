"""Start requests (idempotent create_run), run id collisions and deletion."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.store.backends import StoreBackend
from tests.store.conftest import ALICE, TENANT, busy_run, create, new_run
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.run_store import RunStore


async def test_a_retried_start_request_returns_the_first_run(store: RunStore, clock: CountingClock) -> None:
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
    store: RunStore, clock: CountingClock, changed: dict[str, Any]
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


async def test_a_start_request_of_a_deleted_run_starts_a_new_one(store: RunStore, clock: CountingClock) -> None:
    first, first_events = new_run(clock)
    await store.create_run(TENANT, first, first_events, ALICE, request_id="req-1")
    await store.delete_run(TENANT, first.run_id)
    second, second_events = new_run(clock)

    assert await store.create_run(TENANT, second, second_events, ALICE, request_id="req-1") == second.run_id


async def test_creating_an_existing_run_id_is_a_collision(store: RunStore, clock: CountingClock) -> None:
    state, events = new_run(clock)
    await store.create_run(TENANT, state, events, ALICE)
    with pytest.raises(WorkbenchError) as caught:
        await store.create_run(TENANT, state, events, ALICE)
    assert caught.value.code is ErrorCode.RUN_ID_COLLISION


async def test_delete_run_removes_the_run_and_all_its_rows(
    store: RunStore, backend: StoreBackend, clock: CountingClock
) -> None:
    run_id = await busy_run(store, clock)

    assert await store.delete_run(TENANT, run_id) is True
    assert await store.delete_run(TENANT, run_id) is False
    with pytest.raises(WorkbenchError) as caught:
        await store.load_state(TENANT, run_id)
    assert caught.value.code is ErrorCode.UNKNOWN_RUN
    assert (await store.list_runs(TENANT)).items == []
    for table in ("trace_events", "artifact_versions", "artifact_heads", "rule_sets", "idempotency", "audit"):
        assert backend.rows(f"SELECT COUNT(*) FROM {table}") == [(0,)], table


async def test_delete_run_with_expected_revision_deletes_only_that_revision(
    store: RunStore, clock: CountingClock
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
