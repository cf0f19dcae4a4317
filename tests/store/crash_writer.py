"""Child process for contract/test_crash.py: writes to its runs forever, one task per run, printing
`ack <version> <run id>` after each commit. The parent kills it with SIGKILL at an arbitrary moment.

Usage: python -m tests.store.crash_writer <backend> <location> <run id> [<run id> ...]
(several runs: concurrent writers, whose writes a store may commit together)"""

from __future__ import annotations

import asyncio
import sys

from tests.clocks import CountingClock
from tests.store.backends import open_at
from tests.store.conftest import TENANT, write
from workbench_mcp.store.run_store import RunStore


async def _write_forever(store: RunStore, clock: CountingClock, run_id: str) -> None:
    while True:
        async with store.run_transaction(TENANT, run_id) as tx:
            await write(tx, clock, key="journal", data={"payload": "x" * 200})
        # Printed only once the commit has returned: every ack names a durable version.
        print(f"ack {tx.state.artifacts['journal'].version} {run_id}", flush=True)


async def main(backend: str, location: str, run_ids: list[str]) -> None:
    clock = CountingClock()
    clock.ticks = clock.uuids = 1_000_000  # ids and timestamps unlike the parent's
    store = await open_at(backend, location)
    await asyncio.gather(*(_write_forever(store, clock, run_id) for run_id in run_ids))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
