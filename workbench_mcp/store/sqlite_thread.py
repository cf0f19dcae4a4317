"""One plain `sqlite3` connection, used only from a thread of its own.

The store runs a whole transaction body as one function on the connection's thread: one hop per
body instead of one per statement (a hop costs ~85 us here, and a write is a dozen statements).
aiosqlite offers only one statement per hop in its public API, so the store owns its thread.

A job that was submitted runs even if the awaiting task is cancelled meanwhile (the commit of a
transaction whose caller went away still happens, as it did under aiosqlite); the task just does
not wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConnectionClosed(Exception):
    """A job reached a connection that was closed (or never opened)."""


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[sqlite3.Connection | None], Any]]


class SqliteThread:
    """`await run(fn)` calls `fn(connection)` on the connection's own thread, jobs in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._conn: sqlite3.Connection | None = None
        self._stopped = False  # read and set on the event loop only
        self._thread = threading.Thread(target=self._serve, name="workbench-sqlite", daemon=True)

    @classmethod
    async def connect(cls, path: Path, *, timeout_s: float) -> SqliteThread:
        """isolation_level=None: no implicit transactions; every BEGIN the store sends is explicit."""
        self = cls()
        self._thread.start()

        def open_it(_: sqlite3.Connection | None) -> None:
            self._conn = sqlite3.connect(path, isolation_level=None, timeout=timeout_s, check_same_thread=False)

        try:
            await self._submit(open_it)
        except BaseException:
            await self._stop()
            raise
        return self

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        result: T = await self.submit(fn)
        return result

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """`run` without a coroutine: the job is queued now, the future settles once it has run (and
        ConnectionClosed is raised at once if the thread is gone)."""

        def body(conn: sqlite3.Connection | None) -> T:
            if conn is None:
                raise ConnectionClosed("the connection is closed")
            return fn(conn)

        return self._queue(body)

    async def close(self) -> None:
        def close_it(conn: sqlite3.Connection | None) -> None:
            self._conn = None
            if conn is not None:
                conn.close()

        try:
            await self._submit(close_it)
        finally:
            await self._stop()

    async def _submit(self, fn: Callable[[sqlite3.Connection | None], Any]) -> Any:
        return await self._queue(fn)

    def _queue(self, fn: Callable[[sqlite3.Connection | None], Any]) -> asyncio.Future[Any]:
        if self._stopped:  # the thread is gone (or going): nothing would ever answer
            raise ConnectionClosed("the connection is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((loop, future, fn))
        return future

    async def _stop(self) -> None:
        self._stopped = True
        self._jobs.put(None)
        # Let the thread finish while this loop still runs: it reports results to the loop.
        await asyncio.to_thread(self._thread.join, 1.0)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, fn = job
            try:
                outcome: tuple[bool, Any] = (True, fn(self._conn))
            except BaseException as exc:
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():  # the awaiting task was cancelled
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
