"""What only the SQLite backend has: constant work per write (statement trace), the background WAL
checkpoint, the listing index, busy timeouts, a full disk, paths that are no database, PRAGMAs and
the database file itself. What every backend must do is in contract/."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.clocks import CountingClock
from tests.store.conftest import (
    TENANT,
    StoreFactory,
    create,
    db_rows,
    write,
    write_once,
)
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.sqlite_store import CHECKPOINT_EVERY, SqliteRunStore


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


def test_the_listing_query_is_answered_from_the_covering_index(db_path: Path) -> None:
    from workbench_mcp.store.schema import bundled_migrations, migrate
    from workbench_mcp.store.sqlite_store import _SELECT_PAGE

    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, bundled_migrations())
    plan = conn.execute("EXPLAIN QUERY PLAN " + _SELECT_PAGE, (TENANT, 0, "", 10)).fetchall()
    conn.close()
    assert "USING COVERING INDEX runs_listing" in plan[0][3]
    assert "TEMP B-TREE" not in str(plan)  # no sort: rows come out of the index in order


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


@pytest.mark.parametrize(("durability", "synchronous"), [("normal", 1), ("full", 2)])
async def test_pragmas_follow_the_durability_setting(
    open_store: StoreFactory, durability: str, synchronous: int
) -> None:
    store = await open_store(durability=durability)

    def pragmas(conn: sqlite3.Connection) -> tuple[Any, ...]:
        return tuple(conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous", "foreign_keys"))

    assert await store._on(store._writer, pragmas) == ("wal", synchronous, 1)


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


async def test_a_store_closed_under_an_open_transaction_refuses_its_commit(
    store: SqliteRunStore, clock: CountingClock
) -> None:
    """The transaction holds the write connection it began on; once closed, that connection answers
    STORAGE_UNAVAILABLE at once (it must never leave the caller waiting for a thread that is gone)."""
    run_id = await create(store, clock)

    async def write_across_close() -> None:
        async with store.run_transaction(TENANT, run_id) as tx:
            await write(tx, clock)
            await store.close()

    with pytest.raises(WorkbenchError) as refused:
        await asyncio.wait_for(write_across_close(), timeout=30)
    assert refused.value.code is ErrorCode.STORAGE_UNAVAILABLE
