"""run_watch.RunWatch on the PostgreSQL change feed (LISTEN/NOTIFY): the feed's task runs only while someone
waits, and a waiter that arrives right after the last one left still hears of changes."""

from __future__ import annotations

import asyncio

from tests.clocks import CountingClock
from tests.store.conftest import TENANT, create, write
from workbench_mcp.run_watch import RunWatch
from workbench_mcp.store.postgres_store import PostgresRunStore

HANG_GUARD_S = 30


async def test_a_waiter_arriving_as_the_last_one_leaves_hears_the_next_change(postgres_url: str) -> None:
    watched, writer, clock = PostgresRunStore(postgres_url), PostgresRunStore(postgres_url), CountingClock()
    await watched.open()
    await writer.open()
    try:
        run_id = await create(writer, clock)
        watch = RunWatch.for_store(watched)
        with watch.watching((TENANT, run_id)):
            pass  # the follower it started is cancelled on the way out, before it ever ran
        with watch.watching((TENANT, run_id)) as changed:
            async with asyncio.timeout(HANG_GUARD_S):
                await changed.wait()  # listening: "anything may have changed"
                changed.clear()
                async with writer.run_transaction(TENANT, run_id) as tx:
                    await write(tx, clock)
                await changed.wait()  # the other replica's commit, heard through NOTIFY
    finally:
        await watched.close()
        await writer.close()
