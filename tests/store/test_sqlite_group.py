"""Group commit (store/sqlite_group.py): concurrent writes share one transaction and one COMMIT, a
failing write fails alone, and a write that skips reading its run still sees another writer's commit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.store.conftest import TENANT, StoreFactory, create, write_once
from workbench_mcp.errors import WorkbenchError
from workbench_mcp.store.sqlite_store import SqliteRunStore

WRITERS = 8


async def _count_commits(store: SqliteRunStore) -> list[str]:
    """COMMITs the store's write connection sends from now on (its private connection: no public hook)."""
    seen: list[str] = []

    def trace_on(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)

    await store._on(store._writer, trace_on)
    return seen


def _versions(trace: list[dict[str, Any]], key: str = "draft") -> list[int]:
    written = [e["artifact"] for e in trace if e["type"] == "artifact_written"]
    return [a["version"] for a in written if a["artifactKey"] == key]


async def test_concurrent_writes_to_different_runs_share_one_commit(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    runs = [await create(store, clock) for _ in range(WRITERS)]
    commits = await _count_commits(store)

    await asyncio.gather(*(write_once(store, clock, run_id) for run_id in runs))

    assert len(commits) == 1  # one transaction for all eight (one each before group commit)
    for run_id in runs:
        assert _versions(await store.load_trace(TENANT, run_id)) == [1]


async def test_a_failing_write_in_a_group_fails_alone(
    store: SqliteRunStore, clock: CountingClock, db_path: Path
) -> None:
    """The poisoned write's rows are rolled back to its savepoint; its neighbours, the run's next write
    among them, commit in the same transaction."""
    runs = [await create(store, clock) for _ in range(WRITERS)]
    poisoned = runs[0]
    before = await store.load_run(TENANT, poisoned)
    with sqlite3.connect(db_path) as conn:  # a real failure inside SQLite, half-way through the write's rows
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON artifact_versions WHEN NEW.artifact_key = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned write'); END"
        )
    commits = await _count_commits(store)

    outcomes = await asyncio.gather(
        write_once(store, clock, poisoned, key="poison"),
        write_once(store, clock, poisoned),  # queued behind it on the same run
        *(write_once(store, clock, run_id) for run_id in runs[1:]),
        return_exceptions=True,
    )

    assert isinstance(outcomes[0], WorkbenchError)
    assert not any(isinstance(o, BaseException) for o in outcomes[1:]), outcomes
    assert len(commits) == 1  # they did share the transaction
    state, trace = await store.load_run(TENANT, poisoned, fresh=True)
    assert _versions(trace, "poison") == []
    assert _versions(trace) == [1]
    assert state.revision == before[0].revision + 1 == len(trace)
    for run_id in runs[1:]:
        assert _versions(await store.load_trace(TENANT, run_id)) == [1]


async def test_a_write_after_another_store_committed_reads_the_run_again(
    open_store: StoreFactory, clock: CountingClock
) -> None:
    """A write skips reading its run only while nobody else committed since this store last touched it
    (PRAGMA data_version); another store's (another process's) write in between is read, not overwritten."""
    ours, theirs = await open_store(), await open_store()
    run_id = await create(ours, clock)

    await write_once(ours, clock, run_id)
    await write_once(theirs, clock, run_id)
    await write_once(ours, clock, run_id)

    state, trace = await ours.load_run(TENANT, run_id)
    assert _versions(trace) == [1, 2, 3]
    assert state.artifacts["draft"].version == 3


@pytest.mark.slow
async def test_a_store_closing_waits_for_the_commit_its_writers_wait_for(
    store: SqliteRunStore, clock: CountingClock, db_path: Path
) -> None:
    runs = [await create(store, clock) for _ in range(WRITERS)]
    writes = [asyncio.create_task(write_once(store, clock, run_id)) for run_id in runs]
    await asyncio.gather(*writes)
    await store.close()
    with sqlite3.connect(db_path) as conn:
        count = conn.execute("SELECT COUNT(*) FROM artifact_versions").fetchone()[0]
    assert count == WRITERS
