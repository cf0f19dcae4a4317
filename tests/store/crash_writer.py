"""Child process for test_crash.py: writes to one run forever, printing `ack <version>` after each
commit. The parent kills it with SIGKILL at an arbitrary moment."""

from __future__ import annotations

import asyncio
import sys

from tests.clocks import CountingClock
from tests.store.conftest import TENANT, write
from workbench_mcp.store.sqlite_store import SqliteRunStore


async def main(path: str, run_id: str) -> None:
    clock = CountingClock()
    clock.ticks = clock.uuids = 1_000_000  # ids and timestamps unlike the parent's
    store = SqliteRunStore(path)
    await store.open()
    while True:
        async with store.run_transaction(TENANT, run_id) as tx:
            await write(tx, clock, key="journal", data={"payload": "x" * 200})
        # Printed only once the commit has returned: every ack names a durable version.
        print(f"ack {tx.state.artifacts['journal'].version}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
