"""Change events for wait_for_decision: who to wake when a run may have changed, at no CPU cost while idle.

This process's own writes wake a run's waiters at once (`changed`). Writes by anyone else on the same SQLite
file (another `--workers` process, stdio, a CLI) are seen by ONE poll task per process, alive only while
someone waits: every POLL_SECONDS it reads the store's `PRAGMA data_version` (one WAL-index read, no page
I/O) and, when the number moved, wakes every waiter, which then compares its run's revision (a cached tag
check) before reading anything more. So the cost of waiting is four tiny reads a second per process,
whatever the number of waiters; SQLite offers no cross-process notification to do better without a
broker. The PostgreSQL store has one: its change feed (LISTEN/NOTIFY, store/postgres_watch.py) names each
changed run, so with it the one task per process follows the feed instead of polling and wakes only that
run's waiters (all of them when the feed may have missed something).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

from workbench_mcp.errors import WorkbenchError

POLL_SECONDS = 0.25
"""How often the process's poll task reads data_version while anyone waits: the cross-process latency bound."""
Key = tuple[str, str]


@runtime_checkable
class ChangeFeed(Protocol):
    async def follow(self, on_change: Callable[[Key | None], None]) -> None:
        """Until cancelled: on_change(run key) per committed change, on_change(None) when any run may have changed."""
        ...


class RunWatch:
    def __init__(self, data_version: Callable[[], Awaitable[int]], feed: ChangeFeed | None = None) -> None:
        self._data_version = data_version
        self._feed = feed
        self._waiters: dict[Key, set[asyncio.Event]] = {}
        self._poller: asyncio.Task[None] | None = None
        self.version: int | None = None
        """The data_version the poll task saw last (None before its first read)."""

    @classmethod
    def for_store(cls, store: Any) -> RunWatch:
        """Following the store's change feed if it has one (`store.changes`), else polling data_version."""
        feed = getattr(store, "changes", None)
        return cls(store.data_version, feed if isinstance(feed, ChangeFeed) else None)

    @contextmanager
    def watching(self, key: Key, event: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
        """An event set whenever the run may have changed; the poll task runs while any such event exists.
        Pass one `event` for several runs to sleep on all of them at once (a listen stream does)."""
        event = event or asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll() if self._feed is None else self._follow(self._feed))
        try:
            yield event
        finally:
            waiters = self._waiters.get(key, set())
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(key, None)
            if not self._waiters and self._feed is not None and self._poller is not None:
                self._poller.cancel()  # the feed's connection is open only while someone waits
                # A cancelled task is not done() until it runs again: a waiter arriving before then must start
                # a follower of its own, not count on this one (it would never wake).
                self._poller = None

    def changed(self, key: Key) -> None:
        """This process wrote the run."""
        for event in self._waiters.get(key, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    def _heard(self, key: Key | None) -> None:
        if key is None:
            self._wake_all()
        else:
            self.changed(key)

    async def _follow(self, feed: ChangeFeed) -> None:
        await feed.follow(self._heard)

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
