"""Start requests (idempotent create_run), run id collisions and deletion."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.store.backends import StoreBackend
from tests.store.conftest import ALICE, TENANT, busy_run, create, new_run
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.run_store import RunStore, StoreLimits


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


async def test_concurrent_creates_of_one_tenant_keep_the_quota_and_the_request_ids_and_fail_alone(
    backend: StoreBackend, clock: CountingClock
) -> None:
    """Creates queued on one tenant may share a transaction (SQLite's group commit, PostgreSQL's chains): the run
    limit and the request ids still hold across them, and a refused create takes none of the others with it."""
    store = await backend.open(limits=StoreLimits(max_runs_per_tenant=10))
    existing, existing_events = new_run(clock)
    await store.create_run(TENANT, existing, existing_events, ALICE)
    retried = [new_run(clock) for _ in range(4)]  # one start request, sent four times
    plain = [new_run(clock) for _ in range(18)]

    outcomes = await asyncio.gather(
        *(store.create_run(TENANT, s, e, ALICE, request_id="req-1") for s, e in retried),
        *(store.create_run(TENANT, existing, existing_events, ALICE) for _ in range(2)),
        *(store.create_run(TENANT, s, e, ALICE) for s, e in plain),
        return_exceptions=True,
    )

    by_request = outcomes[:4]
    assert not any(isinstance(o, BaseException) for o in by_request)
    assert len(set(by_request)) == 1
    codes = [o.code for o in outcomes[4:] if isinstance(o, WorkbenchError)]
    assert codes.count(ErrorCode.RUN_ID_COLLISION) == 2
    assert codes.count(ErrorCode.LIMIT_EXCEEDED) == 10  # 1 existing + 1 requested + 8 plain fill the 10
    created = [o for o in outcomes[6:] if isinstance(o, str)]
    listed = {item["id"] for item in (await store.list_runs(TENANT)).items}
    assert listed == {existing.run_id, by_request[0], *created}
    assert len(listed) == 10
