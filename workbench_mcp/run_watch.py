"""Change events for wait_for_decision: who to wake when a run may have changed, at no CPU cost while idle.

This process's own writes wake a run's waiters at once (`changed`). Writes by anyone else on the same SQLite
file (another `--workers` process, stdio, a CLI) are seen by ONE poll task per process, alive only while
someone waits: every POLL_SECONDS it reads the store's `PRAGMA data_version` (one WAL-index read, no page
I/O) and, when the number moved, wakes every waiter, which then compares its run's revision (a cached tag
check) before reading anything more. So the cost of waiting is four tiny reads a second per process,
whatever the number of waiters; SQLite offers no cross-process notification to do better without a
broker (LISTEN/NOTIFY needs PostgreSQL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from workbench_mcp.errors import WorkbenchError

POLL_SECONDS = 0.25
"""How often the process's poll task reads data_version while anyone waits: the cross-process latency bound."""
Key = tuple[str, str]


class RunWatch:
    def __init__(self, data_version: Callable[[], Awaitable[int]]) -> None:
        self._data_version = data_version
        self._waiters: dict[Key, set[asyncio.Event]] = {}
        self._poller: asyncio.Task[None] | None = None
        self.version: int | None = None
        """The data_version the poll task saw last (None before its first read)."""

    @contextmanager
    def watching(self, key: Key, event: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
        """An event set whenever the run may have changed; the poll task runs while any such event exists.
        Pass one `event` for several runs to sleep on all of them at once (a listen stream does)."""
        event = event or asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            yield event
        finally:
            waiters = self._waiters.get(key, set())
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(key, None)

    def changed(self, key: Key) -> None:
        """This process wrote the run."""
        for event in self._waiters.get(key, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def _poll(self) -> None:
        while self._waiters:
            try:
                version = await self._data_version()
            except WorkbenchError:
                self._wake_all()  # the store failed: each waiter's own read reports it
            else:
                if version != self.version:  # the first read wakes all: a commit may precede it
                    self.version = version
                    self._wake_all()
            await asyncio.sleep(POLL_SECONDS)
