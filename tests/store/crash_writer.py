"""Child process for contract/test_crash.py: writes to one run forever, printing `ack <version>` after
each commit. The parent kills it with SIGKILL at an arbitrary moment.

Usage: python -m tests.store.crash_writer <backend> <location> <run id>"""

from __future__ import annotations

import asyncio
import sys

from tests.clocks import CountingClock
from tests.store.backends import open_at
from tests.store.conftest import TENANT, write


async def main(backend: str, location: str, run_id: str) -> None:
    clock = CountingClock()
    clock.ticks = clock.uuids = 1_000_000  # ids and timestamps unlike the parent's
    store = await open_at(backend, location)
    while True:
        async with store.run_transaction(TENANT, run_id) as tx:
            await write(tx, clock, key="journal", data={"payload": "x" * 200})
        # Printed only once the commit has returned: every ack names a durable version.
        print(f"ack {tx.state.artifacts['journal'].version}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
