"""run_watch.RunWatch on each backend's change source (SQLite: the data_version poll; PostgreSQL: the change
feed, LISTEN/NOTIFY): the watch runs only while someone waits, and a waiter that arrives right after the last one
left still hears of another store's changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.clocks import CountingClock
from tests.store.backends import BACKENDS
from tests.store.conftest import TENANT, create, write
from workbench_mcp.run_watch import RunWatch

HANG_GUARD_S = 30


@pytest.mark.parametrize("backend_name", sorted(BACKENDS))
async def test_a_waiter_arriving_as_the_last_one_leaves_hears_the_next_change(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend, clock = BACKENDS[backend_name](tmp_path, request), CountingClock()
    try:
        watched, writer = await backend.open(), await backend.open()
        run_id = await create(writer, clock)
        watch = RunWatch.for_store(watched)
        with watch.watching((TENANT, run_id)):
            pass  # a feed's follower is cancelled on the way out, before it ever ran (a poll task stays)
        with watch.watching((TENANT, run_id)) as changed:
            async with asyncio.timeout(HANG_GUARD_S):
                await changed.wait()  # watching: "anything may have changed"
                changed.clear()
                async with writer.run_transaction(TENANT, run_id) as tx:
                    await write(tx, clock)
                await changed.wait()  # the other store's commit, heard through its change source
    finally:
        await backend.close()
