"""run_transaction: expected revisions, rollback, empty blocks, several appends, consistency checks."""

from __future__ import annotations

import pytest

from tests.clocks import CountingClock
from tests.store.conftest import BOB, TENANT, create, write, write_once
from workbench_mcp.engine.artifacts import write_artifact
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.run_store import RunStore


async def test_expected_revision_mismatch_is_a_conflict_that_changes_nothing(
    store: RunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)

    with pytest.raises(WorkbenchError) as caught:
        async with store.run_transaction(TENANT, run_id, expected_revision=before[0].revision - 1) as tx:
            await write(tx, clock)

    assert caught.value.code is ErrorCode.REVISION_CONFLICT
    assert await store.load_run(TENANT, run_id) == before


async def test_matching_expected_revision_lets_the_write_through(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    revision = (await store.load_state(TENANT, run_id)).revision

    async with store.run_transaction(TENANT, run_id, expected_revision=revision) as tx:
        await write(tx, clock)

    assert (await store.load_state(TENANT, run_id)).revision == revision + 1


async def test_an_error_inside_the_block_rolls_back_what_was_appended(store: RunStore, clock: CountingClock) -> None:
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


async def test_a_block_that_appends_nothing_writes_nothing(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)

    async with store.run_transaction(TENANT, run_id) as tx:
        assert tx.state == before[0]

    assert await store.load_run(TENANT, run_id) == before


async def test_two_appends_in_one_block_commit_together(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    async with store.run_transaction(TENANT, run_id) as tx:
        await write(tx, clock, key="a")
        await write(tx, clock, key="b")
        await write(tx, clock, key="a")

    state, trace = await store.load_run(TENANT, run_id)
    assert {k: a.version for k, a in state.artifacts.items()} == {"a": 2, "b": 1}
    assert state.revision == len(trace)


async def test_append_refuses_a_state_that_does_not_follow_from_the_events(
    store: RunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)

    async def append_without_events() -> None:
        async with store.run_transaction(TENANT, run_id) as tx:
            outcome = write_artifact(tx.state, clock, artifact_key="k", type_id="t", data=1)
            await tx.append(outcome.state, [], BOB)  # events dropped: the revision no longer adds up

    with pytest.raises(WorkbenchError) as caught:
        await append_without_events()
    assert caught.value.code is ErrorCode.INTERNAL_ERROR
