"""Another tenant's run is indistinguishable from a missing one, through every store operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.store.conftest import ALICE, OTHER_TENANT, TENANT, create, new_run, write
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.run_store import RunStore

MISSING_RUN = "run_00000000-0000-4000-8000-00000000dead"

Probe = Callable[[RunStore, CountingClock, str], Awaitable[Any]]


async def _transaction(store: RunStore, clock: CountingClock, run_id: str) -> None:
    async with store.run_transaction(OTHER_TENANT, run_id) as tx:
        await write(tx, clock)


async def _transaction_with_revision(store: RunStore, clock: CountingClock, run_id: str) -> None:
    # The run's existence is checked before the revision, so a guess reveals nothing either.
    async with store.run_transaction(OTHER_TENANT, run_id, expected_revision=1) as tx:
        await write(tx, clock)


READS_AND_WRITES: dict[str, Probe] = {
    "run_transaction": _transaction,
    "run_transaction(expected_revision)": _transaction_with_revision,
    "load_state": lambda store, clock, run_id: store.load_state(OTHER_TENANT, run_id),
    "load_trace": lambda store, clock, run_id: store.load_trace(OTHER_TENANT, run_id),
    "load_run": lambda store, clock, run_id: store.load_run(OTHER_TENANT, run_id),
    "audit_log": lambda store, clock, run_id: store.audit_log(OTHER_TENANT, run_id),
    "review_requests": lambda store, clock, run_id: store.review_requests(OTHER_TENANT, run_id),
    "load_state_and_reviews": lambda store, clock, run_id: store.load_state_and_reviews(OTHER_TENANT, run_id),
}


async def _failure(probe: Probe, store: RunStore, clock: CountingClock, run_id: str) -> WorkbenchError:
    with pytest.raises(WorkbenchError) as caught:
        await probe(store, clock, run_id)
    return caught.value


@pytest.mark.parametrize("operation", READS_AND_WRITES)
async def test_another_tenants_run_looks_missing(store: RunStore, clock: CountingClock, operation: str) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)
    probe = READS_AND_WRITES[operation]

    foreign = await _failure(probe, store, clock, run_id)
    missing = await _failure(probe, store, clock, MISSING_RUN)

    assert foreign.code is missing.code is ErrorCode.UNKNOWN_RUN
    assert foreign.message.replace(run_id, "<id>") == missing.message.replace(MISSING_RUN, "<id>")
    assert await store.load_run(TENANT, run_id) == before


async def test_list_runs_shows_only_the_callers_runs(store: RunStore, clock: CountingClock) -> None:
    mine = await create(store, clock)
    theirs = await create(store, clock, tenant=OTHER_TENANT)

    assert [r["id"] for r in (await store.list_runs(TENANT)).items] == [mine]
    assert [r["id"] for r in (await store.list_runs(OTHER_TENANT)).items] == [theirs]
    assert (await store.list_runs("org_nobody")).items == []


async def test_a_cursor_never_leads_into_another_tenant(store: RunStore, clock: CountingClock) -> None:
    for _ in range(3):
        await create(store, clock)
    await create(store, clock, tenant=OTHER_TENANT)
    cursor = (await store.list_runs(TENANT, limit=1)).next_cursor

    assert (await store.list_runs(OTHER_TENANT, cursor=cursor)).items == []


async def test_delete_of_another_tenants_run_deletes_nothing(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)

    assert await store.delete_run(OTHER_TENANT, run_id) is False
    assert await store.delete_run(OTHER_TENANT, MISSING_RUN) is False
    for target in (run_id, MISSING_RUN):
        with pytest.raises(WorkbenchError) as caught:
            await store.delete_run(OTHER_TENANT, target, expected_revision=before[0].revision)
        assert caught.value.code is ErrorCode.REVISION_CONFLICT
    assert await store.load_run(TENANT, run_id) == before


async def test_replace_of_a_taken_run_id_creates_the_callers_own_run(store: RunStore, clock: CountingClock) -> None:
    """D3: a PUT of an id another tenant uses never touches that tenant's run."""
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)
    intruder_state, intruder_events = new_run(clock)
    hijack = intruder_state.evolve(run=intruder_state.run.model_copy(update={"id": run_id}))
    hijack_events = [e | {"runId": run_id} for e in intruder_events]

    await store.replace_run(OTHER_TENANT, hijack, hijack_events, ALICE)

    assert await store.load_run(TENANT, run_id) == before
    assert await store.load_run(OTHER_TENANT, run_id) == (hijack, hijack_events)
    assert [r["id"] for r in (await store.list_runs(TENANT)).items] == [run_id]


async def test_replace_with_expected_revision_on_another_tenants_run_is_like_a_missing_run(
    store: RunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    state, trace = await store.load_run(TENANT, run_id)

    foreign = await _replace_failure(store, state, trace, run_id)
    missing_state = state.evolve(run=state.run.model_copy(update={"id": MISSING_RUN}))
    missing = await _replace_failure(store, missing_state, [e | {"runId": MISSING_RUN} for e in trace], MISSING_RUN)

    assert foreign.code is missing.code is ErrorCode.REVISION_CONFLICT
    assert foreign.message.replace(run_id, "<id>") == missing.message.replace(MISSING_RUN, "<id>")


async def _replace_failure(store: RunStore, state: Any, trace: Any, run_id: str) -> WorkbenchError:
    with pytest.raises(WorkbenchError) as caught:
        await store.replace_run(OTHER_TENANT, state, trace, ALICE, expected_revision=state.revision)
    return caught.value


async def test_the_same_run_id_and_request_id_in_two_tenants_are_two_runs(
    store: RunStore, clock: CountingClock
) -> None:
    state, events = new_run(clock)

    assert await store.create_run(TENANT, state, events, ALICE, request_id="req") == state.run_id
    assert await store.create_run(OTHER_TENANT, state, events, ALICE, request_id="req") == state.run_id

    async with store.run_transaction(TENANT, state.run_id) as tx:
        await write(tx, clock)
    assert (await store.load_state(OTHER_TENANT, state.run_id)) == state
    assert (await store.load_state(TENANT, state.run_id)).revision == state.revision + 1
