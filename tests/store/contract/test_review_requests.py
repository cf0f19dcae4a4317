"""Review requests (README "Human review"): one row per reviewer, tenant-scoped, and a link that is used at most
once, in the same transaction as the decision it records."""

from __future__ import annotations

import asyncio

import pytest

from tests.clocks import CountingClock
from tests.store.conftest import OTHER_TENANT, TENANT, create, write
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.run_store import ReviewRequest, RunStore


def _request(
    run_id: str, reviewer: str, *, request_id: str = "rr_1", created: str = "2026-01-01T00:00:00.000Z"
) -> ReviewRequest:
    return ReviewRequest(
        request_id=request_id,
        reviewer=reviewer,
        run_id=run_id,
        step_id="collect_job",
        gate="PAUSE_AFTER",
        reason="check the posting",
        requested_by="agent_1",
        created_at=created,
        expires_at="2026-01-04T00:00:00.000Z",
    )


async def _add(store: RunStore, run_id: str, *requests: ReviewRequest, tenant: str = TENANT) -> None:
    async with store.run_transaction(tenant, run_id) as tx:
        tx.add_review_requests(requests)


async def _use(store: RunStore, run_id: str, request_id: str, reviewer: str, decision: str = "approved") -> bool:
    async with store.run_transaction(TENANT, run_id) as tx:
        return await tx.use_review_request(request_id, reviewer, decision=decision, at="2026-01-02T00:00:00.000Z")


async def test_requests_added_in_a_transaction_without_events_are_stored_per_reviewer(
    store: RunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    revision = (await store.load_state(TENANT, run_id)).revision
    later = _request(run_id, "carol", request_id="rr_2", created="2026-01-01T01:00:00.000Z")

    await _add(store, run_id, _request(run_id, "bob"), _request(run_id, "alice"))
    await _add(store, run_id, later)

    found = await store.review_requests(TENANT, run_id)
    assert [(r.request_id, r.reviewer) for r in found] == [("rr_1", "alice"), ("rr_1", "bob"), ("rr_2", "carol")]
    assert found[2] == later
    assert await store.review_request(TENANT, "rr_1", "bob") == _request(run_id, "bob")
    assert (await store.load_state(TENANT, run_id)).revision == revision  # no trace event
    assert await store.load_state_and_reviews(TENANT, run_id) == (await store.load_state(TENANT, run_id), found)


async def test_another_tenant_sees_no_request(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    await _add(store, run_id, _request(run_id, "bob"))

    assert await store.review_request(OTHER_TENANT, "rr_1", "bob") is None
    assert await store.review_request(TENANT, "rr_1", "mallory") is None
    with pytest.raises(WorkbenchError) as caught:
        await _add(store, run_id, _request(run_id, "mallory"), tenant=OTHER_TENANT)
    assert caught.value.code is ErrorCode.UNKNOWN_RUN
    assert [r.reviewer for r in await store.review_requests(TENANT, run_id)] == ["bob"]


async def test_a_request_is_used_once_and_records_the_decision(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    await _add(store, run_id, _request(run_id, "bob"), _request(run_id, "carol"))

    assert await _use(store, run_id, "rr_1", "bob", "rejected") is True
    assert await _use(store, run_id, "rr_1", "bob") is False
    assert await _use(store, run_id, "rr_1", "nobody") is False

    bob = await store.review_request(TENANT, "rr_1", "bob")
    assert bob is not None
    assert (bob.used_at, bob.decision) == ("2026-01-02T00:00:00.000Z", "rejected")
    carol = await store.review_request(TENANT, "rr_1", "carol")
    assert carol is not None
    assert (carol.used_at, carol.decision) == (None, None)


async def test_a_use_rolls_back_with_a_failed_transaction(store: RunStore, clock: CountingClock) -> None:
    """The decision and the link's use commit together: a block that fails leaves the link unused."""
    run_id = await create(store, clock)
    await _add(store, run_id, _request(run_id, "bob"))

    async def use_then_refuse() -> None:
        async with store.run_transaction(TENANT, run_id) as tx:
            assert await tx.use_review_request("rr_1", "bob", decision="approved", at="2026-01-02T00:00:00.000Z")
            raise WorkbenchError(ErrorCode.NOT_AUTHORIZED, "refused after the use")

    with pytest.raises(WorkbenchError):
        await use_then_refuse()

    unused = await store.review_request(TENANT, "rr_1", "bob")
    assert unused is not None
    assert unused.used_at is None
    assert await _use(store, run_id, "rr_1", "bob") is True


async def test_a_use_commits_with_the_events_of_its_transaction(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    await _add(store, run_id, _request(run_id, "bob"))

    async with store.run_transaction(TENANT, run_id) as tx:
        assert await tx.use_review_request("rr_1", "bob", decision="approved", at="2026-01-02T00:00:00.000Z")
        written = await write(tx, clock)

    assert (await store.load_trace(TENANT, run_id))[-1] == written[-1]
    used = await store.review_request(TENANT, "rr_1", "bob")
    assert used is not None
    assert used.decision == "approved"


async def test_requests_go_with_their_run(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    kept = await create(store, clock)
    await _add(store, run_id, _request(run_id, "bob"))
    await _add(store, kept, _request(kept, "bob", request_id="rr_kept"))

    assert await store.delete_run(TENANT, run_id) is True

    assert await store.review_request(TENANT, "rr_1", "bob") is None
    assert await store.review_request(TENANT, "rr_kept", "bob") is not None


async def test_a_failed_use_leaves_the_link_unused_while_a_concurrent_write_commits(
    store: RunStore, clock: CountingClock
) -> None:
    """Concurrent writes may share one commit (group commit): the refused block's use must not ride along."""
    run_id = await create(store, clock)
    other = await create(store, clock)
    await _add(store, run_id, _request(run_id, "bob"))
    claimed = asyncio.Event()

    async def use_then_refuse() -> None:
        async with store.run_transaction(TENANT, run_id) as tx:
            assert await tx.use_review_request("rr_1", "bob", decision="approved", at="2026-01-02T00:00:00.000Z")
            claimed.set()
            await asyncio.sleep(0.01)  # the other write joins while this block is still open
            raise WorkbenchError(ErrorCode.NOT_AUTHORIZED, "refused after the use")

    async def write_other() -> None:
        await claimed.wait()
        async with store.run_transaction(TENANT, other) as tx:
            await write(tx, clock)

    outcomes = await asyncio.gather(use_then_refuse(), write_other(), return_exceptions=True)

    assert isinstance(outcomes[0], WorkbenchError)
    assert outcomes[1] is None
    unused = await store.review_request(TENANT, "rr_1", "bob")
    assert unused is not None
    assert unused.used_at is None
    assert await _use(store, run_id, "rr_1", "bob") is True
