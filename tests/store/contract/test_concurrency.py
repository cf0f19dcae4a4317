"""Many writers, one run: nothing lost, nothing interleaved, readers never see half an operation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.store.backends import StoreBackend
from tests.store.conftest import TENANT, create, write, write_once
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.run_store import EventJson, RunStore


async def _hammer(store: RunStore, clock: CountingClock, run_id: str, writes: int) -> None:
    for _ in range(writes):
        await write_once(store, clock, run_id, key="shared")


def _assert_versions_1_to(n: int, trace: list[dict[str, object]]) -> None:
    written = [e["artifact"]["version"] for e in trace if e["type"] == "artifact_written"]  # type: ignore[index]
    assert written == list(range(1, n + 1))


async def test_8_tasks_times_200_writes_to_one_key_lose_nothing(
    store: RunStore, backend: StoreBackend, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    first_events = len(await store.load_trace(TENANT, run_id))

    await asyncio.gather(*(_hammer(store, clock, run_id, 200) for _ in range(8)))

    state, trace = await store.load_run(TENANT, run_id)
    assert state.artifacts["shared"].version == 1600
    _assert_versions_1_to(1600, trace)
    assert len(trace) == first_events + 1600 == state.revision
    seqs = backend.rows("SELECT seq FROM trace_events WHERE run_id = ? ORDER BY seq", run_id)
    assert [s for (s,) in seqs] == list(range(1, len(trace) + 1))
    versions = backend.rows("SELECT COUNT(*) FROM artifact_versions WHERE run_id = ?", run_id)
    assert versions == [(1600,)]


async def test_two_store_instances_on_one_storage_serialize_their_writes(
    store: RunStore, backend: StoreBackend, clock: CountingClock
) -> None:
    """Each instance has its own lock and cache, like two processes: only the storage's own locking
    (SQLite: BEGIN IMMEDIATE and the state tag read inside the transaction) keeps them from losing
    each other's writes."""
    other = await backend.open()
    run_id = await create(store, clock)

    await asyncio.gather(
        *(_hammer(store, clock, run_id, 50) for _ in range(4)),
        *(_hammer(other, clock, run_id, 50) for _ in range(4)),
    )

    for reader in (store, other):
        state, trace = await reader.load_run(TENANT, run_id)
        assert state.artifacts["shared"].version == 400
        assert state.revision == len(trace)
        _assert_versions_1_to(400, trace)


async def test_readers_never_see_a_partial_operation(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    done = asyncio.Event()
    snapshots = 0

    async def writer() -> None:
        for _ in range(150):
            async with store.run_transaction(TENANT, run_id) as tx:  # three events per operation
                for key in ("a", "b", "a"):
                    await write(tx, clock, key=key)
        done.set()

    async def reader() -> None:
        nonlocal snapshots
        while not done.is_set():
            state, trace = await store.load_run(TENANT, run_id)
            written = [e for e in trace if e["type"] == "artifact_written"]
            assert state.revision == len(trace)
            assert len(written) % 3 == 0
            assert state.artifacts.get("a", None) is None or state.artifacts["a"].version == 2 * len(written) // 3
            snapshots += 1

    await asyncio.gather(writer(), reader(), reader())
    assert snapshots > 10


def _assert_whole_operations(state: RunState | None, trace: list[EventJson] | None, acknowledged: int) -> None:
    """What any read of a run written by `_whole_operations` must show: whole operations only, state and
    trace of the same commit, and nothing older than the last write acknowledged before the read began."""
    if state is not None:
        a, b = state.artifacts.get("a"), state.artifacts.get("b")
        assert (a.version if a else 0) == 2 * (b.version if b else 0)
        assert state.revision >= acknowledged
    if trace is not None:
        assert len([e for e in trace if e["type"] == "artifact_written"]) % 3 == 0
        assert len(trace) >= acknowledged
    if state is not None and trace is not None:
        assert state.revision == len(trace)


async def test_a_replica_reads_whole_and_current_runs_while_another_writes(
    store: RunStore, backend: StoreBackend, clock: CountingClock
) -> None:
    """Store A reads (each read kind) while store B, with its own cache like another process or replica,
    writes: A's cached state goes stale with each of B's writes, and no read may pair it with a newer trace,
    return it as current, or mix two commits. After each write, B waits until every kind of read has begun
    after it (so each write is followed by reads of a stale cache), while other reads overlap the writes."""
    writer_store = await backend.open()
    run_id = await create(store, clock)
    acknowledged = (await store.load_state(TENANT, run_id)).revision
    done = asyncio.Event()
    readers: list[Callable[[], Awaitable[tuple[RunState | None, list[EventJson] | None]]]] = [
        lambda: store.load_run(TENANT, run_id),
        lambda: _pair(store.load_state(TENANT, run_id), None),
        lambda: _pair(None, store.load_trace(TENANT, run_id)),
        lambda: _pair(_first(store.load_state_and_reviews(TENANT, run_id)), None),
    ]
    reads = [0] * len(readers)  # reads each kind has finished
    read_done = asyncio.Condition()

    async def writer() -> None:
        nonlocal acknowledged
        for _ in range(40):
            async with writer_store.run_transaction(TENANT, run_id) as tx:  # three events per operation
                for key in ("a", "b", "a"):
                    await write(tx, clock, key=key)
            acknowledged = tx.state.revision
            wanted = [n + 2 for n in reads]  # the read in flight may have begun before the commit; the next not
            async with read_done:
                await read_done.wait_for(partial(_reached, reads, wanted))
        done.set()

    async def reader(kind: int) -> None:
        while not done.is_set():
            floor = acknowledged
            state, trace = await readers[kind]()
            _assert_whole_operations(state, trace, floor)
            reads[kind] += 1
            async with read_done:
                read_done.notify_all()

    await asyncio.gather(writer(), *(reader(kind) for kind in range(len(readers))))
    assert await store.load_run(TENANT, run_id) == await writer_store.load_run(TENANT, run_id)


async def test_a_run_another_store_deleted_is_unknown_to_a_store_that_cached_it(
    store: RunStore, backend: StoreBackend, clock: CountingClock
) -> None:
    other = await backend.open()
    run_id = await create(store, clock)  # cached by `store`
    assert await other.delete_run(TENANT, run_id)

    for read in (store.load_state, store.load_trace, store.load_run, store.load_state_and_reviews):
        with pytest.raises(WorkbenchError) as caught:
            await read(TENANT, run_id)
        assert caught.value.code is ErrorCode.UNKNOWN_RUN
        assert caught.value.message == f"No run named {run_id}"


def _reached(counts: list[int], wanted: list[int]) -> bool:
    return all(n >= w for n, w in zip(counts, wanted, strict=True))


async def _pair(
    state: Awaitable[RunState] | None, trace: Awaitable[list[EventJson]] | None
) -> tuple[RunState | None, list[EventJson] | None]:
    return (None if state is None else await state), (None if trace is None else await trace)


async def _first(pair: Awaitable[tuple[RunState, Any]]) -> RunState:
    return (await pair)[0]


async def test_the_first_of_racing_writers_with_the_same_expected_revision_wins(
    store: RunStore, clock: CountingClock
) -> None:
    run_id = await create(store, clock)
    revision = (await store.load_state(TENANT, run_id)).revision

    async def attempt() -> ErrorCode | None:
        try:
            async with store.run_transaction(TENANT, run_id, expected_revision=revision) as tx:
                await write(tx, clock)
        except WorkbenchError as exc:
            return exc.code
        return None

    outcomes = await asyncio.gather(*(attempt() for _ in range(8)))

    assert outcomes.count(None) == 1
    assert outcomes.count(ErrorCode.REVISION_CONFLICT) == 7
    assert (await store.load_state(TENANT, run_id)).revision == revision + 1


async def test_a_cancelled_operation_leaves_nothing_behind(store: RunStore, clock: CountingClock) -> None:
    run_id = await create(store, clock)
    before = await store.load_run(TENANT, run_id)
    inside = asyncio.Event()

    async def stalled() -> None:
        async with store.run_transaction(TENANT, run_id) as tx:
            await write(tx, clock)
            inside.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(stalled())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await store.load_run(TENANT, run_id) == before
    await write_once(store, clock, run_id)
    assert (await store.load_state(TENANT, run_id)).revision == before[0].revision + 1


async def test_a_failing_writer_among_queued_writers_of_one_run_fails_alone(
    store: RunStore, clock: CountingClock
) -> None:
    """Queued writers of one run may share one transaction (SQLite's group commit, PostgreSQL's chains): an error
    in one's block, a stale expected revision or a cancelled caller takes nothing of the others' writes with it."""
    run_id = await create(store, clock)
    stale = (await store.load_state(TENANT, run_id)).revision - 1
    stuck = asyncio.Event()

    async def writer(i: int) -> None:
        kind = i % 4
        if kind == 1:
            async with store.run_transaction(TENANT, run_id) as tx:
                await write(tx, clock, key=f"k{i}")
                raise RuntimeError("the engine refused")
        if kind == 2:
            await write_once_expecting(i, stale)
            return
        await write_once(store, clock, run_id, key=f"k{i}")

    async def write_once_expecting(i: int, revision: int) -> None:
        async with store.run_transaction(TENANT, run_id, expected_revision=revision) as tx:
            await write(tx, clock, key=f"k{i}")

    async def cancelled_writer() -> None:
        async with store.run_transaction(TENANT, run_id) as tx:
            await write(tx, clock, key="cancelled")
            stuck.set()
            await asyncio.sleep(3600)

    hung = asyncio.create_task(cancelled_writer())
    await stuck.wait()  # it holds the run's turn now: the others queue behind it
    writers = asyncio.gather(*(writer(i) for i in range(16)), return_exceptions=True)
    await asyncio.sleep(0.05)
    hung.cancel()
    outcomes = await writers

    kinds = {i: type(o).__name__ for i, o in enumerate(outcomes) if o is not None}
    assert kinds == {i: ("RuntimeError" if i % 4 == 1 else "WorkbenchError") for i in range(16) if i % 4 in (1, 2)}
    assert all(o.code == ErrorCode.REVISION_CONFLICT for o in outcomes if isinstance(o, WorkbenchError))
    state, trace = await store.load_run(TENANT, run_id)
    assert sorted(state.artifacts) == sorted(f"k{i}" for i in range(16) if i % 4 in (0, 3))
    assert state.revision == len(trace)
