"""Group commit for SqliteRunStore: concurrent writes share one SQLite transaction and one COMMIT.

Before, every write took the store's one write lock for its whole transaction (BEGIN IMMEDIATE, read,
the caller's engine decision, write, COMMIT), so eight concurrent writers queued for eight commits and the
SQLite thread sat idle while each engine decided. Now a write joins the open *group*: one BEGIN
IMMEDIATE that the group's writes share, each write inside a savepoint of its own, and one COMMIT once
no member is still working. Writes to different runs overlap (one decides while another's rows go in);
writes to the same run queue on that run's lock, in arrival order, and may join the same group.

What stays as it was:
- A write is acknowledged only after the COMMIT that holds it has returned (`member` waits for it);
  the durability mode (PRAGMA synchronous) is the connection's, untouched here.
- Per-run order and revision checks: the run's lock is held from the read of its row to its write,
  and a write reads (inside the group's transaction) every earlier write of the group.
- One failing write fails alone: its savepoint is rolled back, the group commits the others. Should
  SQLite itself roll the whole transaction back (I/O error, full disk), every write of the group
  that was not yet committed fails, and nothing of it was acknowledged.
- A group is one write transaction: another process waits for it on the busy timeout as before. A
  group admits at most GROUP_MAX_WRITES writes, and none once it is GROUP_MAX_AGE_S old.

The savepoint of a write opens and closes within one hop to the SQLite thread, so savepoints never
nest or interleave; reads of a write (its run row, governance rows) run in other hops and change
nothing. Thread-side state (`_open`, `_version`, `_epoch`) is touched only on the writer thread,
loop-side state only on the event loop.

Epochs. Each hop costs a thread switch (and a GIL hand-over); a write's first hop only reads its run row
to check the cached state. The group's BEGIN reads `PRAGMA data_version`, which changes exactly when
another connection (another process, another store, a tool) has committed. While it stays the same from
group to group, nobody but this store wrote since, so what this store's own writes left (its per-run
`epoch`-stamped entries) is still the stored truth and a write may skip that read: `Member.trusts`. Any
change, and any group that did not commit, starts a new epoch, so every older entry is distrusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from workbench_mcp.errors import ErrorCode, WorkbenchError

T = TypeVar("T")
Key = tuple[str, str]
Job = Callable[[sqlite3.Connection], Any]

GROUP_MAX_WRITES = 64
GROUP_MAX_AGE_S = 0.02
"""A group stops admitting writes past this age, so a steady stream of writers still commits (and
another process gets its turn at the database) every few tens of milliseconds."""

_SAVEPOINT = "SAVEPOINT w"
_RELEASE = "RELEASE w"
_ROLLBACK_TO = "ROLLBACK TO w"


@dataclass(eq=False)
class _Group:
    number: int
    done: asyncio.Future[None]
    formed: float
    members: int = 0
    """Admitted and not finished yet."""
    admitted: int = 0
    writes: int = 0
    closed: bool = False
    committing: bool = False
    epoch: int | None = None
    """The epoch its transaction began in, once `began` is done."""
    began: asyncio.Future[tuple[int, None] | tuple[None, Exception]] | None = None
    """The hop a write that reads first waits for: BEGIN IMMEDIATE (unless a hop before it began the
    group) and the epoch check."""


@dataclass(eq=False)
class _RunLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class GroupLost(Exception):
    """SQLite rolled the group's transaction back on its own; writes of the group not committed fail."""


class WriteGroups:
    """The store's write side: `member(key)` admits one write to the open group.

    `submit(job)` queues `job(conn)` for the writer thread now and returns the future of its outcome (a
    plain future, not a task: no extra turn of the event loop per hop); `begin(conn)` opens a transaction
    there (file check, BEGIN IMMEDIATE); `convert(exc)` turns a driver error from a job into the store's
    error; `committed(writes)` is told after each successful COMMIT."""

    def __init__(
        self,
        *,
        submit: Callable[[Job], asyncio.Future[Any]],
        begin: Callable[[sqlite3.Connection], None],
        convert: Callable[[BaseException], BaseException],
        committed: Callable[[int], None],
        wait_s: float,
    ) -> None:
        self._submit = submit
        self._begin = begin
        self._convert = convert
        self._committed = committed
        self._wait_s = wait_s
        self._current: _Group | None = None
        self._numbers = 0
        self._locks: dict[Key, _RunLock] = {}
        self._commits: set[asyncio.Future[Any]] = set()
        self._open: int | None = None  # writer thread only: the group whose transaction is open
        self._version: int | None = None  # writer thread only: data_version at the last BEGIN (None: untrusted)
        self._epoch = 0  # writer thread only

    # --- the event loop's side ---------------------------------------------------------------------

    @asynccontextmanager
    async def member(self, key: Key) -> AsyncIterator[Member]:
        """One write to run `key`: its run's turn and a place in a group; on a clean exit, waits for the
        group's COMMIT. STORAGE_UNAVAILABLE if neither comes within the busy timeout."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = _RunLock()
        entry.users += 1
        try:
            # The group first, then the run's turn: a write queued behind another of its run keeps the
            # group open until it is in, so the run's queued writes share the commit.
            group = self._join_now()
            if group is None or entry.lock.locked():
                group = await self._wait_for_turn(entry, group)
            else:
                await entry.lock.acquire()  # free: returns at once
            member = Member(self, group)
            try:
                yield member
            finally:
                entry.lock.release()  # the run's next write may join this same group
                self._leave(group)
            await self._acknowledged(group)
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[key]

    async def close(self) -> None:
        """Wait for commits under way (their writers wait for them too)."""
        while self._commits:
            await asyncio.wait(list(self._commits))

    async def _wait_for_turn(self, entry: _RunLock, group: _Group | None) -> _Group:
        """The slow way in: a closed group to wait out, or the run's lock to queue for (bounded)."""
        try:
            async with asyncio.timeout(self._wait_s):
                while group is None:
                    current = self._current
                    if current is not None:
                        await asyncio.wait([current.done])  # its outcome is its members' business
                    group = self._join_now()
                try:
                    await entry.lock.acquire()
                except BaseException:
                    self._leave(group)
                    raise
        except TimeoutError:
            raise WorkbenchError(
                ErrorCode.STORAGE_UNAVAILABLE, "the run store is busy (too many queued writes); try again"
            ) from None
        return group

    def _join_now(self) -> _Group | None:
        """A place in the open group (one is formed if none is), or None while a closed one finishes."""
        group = self._current
        if group is None:
            self._numbers += 1
            group = self._current = _Group(self._numbers, asyncio.get_running_loop().create_future(), time.monotonic())
        young = group.admitted == 0 or time.monotonic() - group.formed < GROUP_MAX_AGE_S
        if not group.closed and young and group.admitted < GROUP_MAX_WRITES:
            group.members += 1
            group.admitted += 1
            return group
        group.closed = True
        return None

    def _leave(self, group: _Group) -> None:
        group.members -= 1
        if group.members == 0 and not group.committing:
            self._start_commit(group, partial(self._commit_job, number=group.number))

    def _start_commit(self, group: _Group, job: Job) -> asyncio.Future[Any]:
        group.closed = group.committing = True
        try:
            future = self._submit(job)
        except BaseException as exc:  # the store closed: nothing will commit
            self._settle_with(group, exc)
            raise
        self._commits.add(future)
        future.add_done_callback(partial(self._settle, group))
        return future

    def _settle(self, group: _Group, future: asyncio.Future[Any]) -> None:
        self._commits.discard(future)
        if future.cancelled():
            failure: BaseException | None = WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the commit was cancelled")
        else:
            failure = future.exception()
            if failure is None:
                outcome = future.result()
                failure = outcome[2] if isinstance(outcome, tuple) else None
        self._settle_with(group, failure)

    def _settle_with(self, group: _Group, failure: BaseException | None) -> None:
        if self._current is group:
            self._current = None
        if group.done.done():
            return
        if failure is None:
            group.done.set_result(None)
            self._committed(group.writes)
        else:
            group.done.set_exception(self._convert(failure))
            group.done.exception()  # retrieved: a group whose writers all went away logs no warning

    async def _acknowledged(self, group: _Group) -> None:
        if not group.done.done():  # else the write's own hop committed the group
            with contextlib.suppress(Exception):  # read below
                await asyncio.shield(group.done)
        failure = group.done.exception()
        if failure is not None:  # a fresh error per writer: they share the group's outcome, not its traceback
            if isinstance(failure, WorkbenchError):
                raise WorkbenchError(failure.code, failure.message) from failure
            raise failure

    # --- the writer thread's side ---------------------------------------------------------------------

    def _enter(self, conn: sqlite3.Connection, number: int) -> int:
        """Begin the group's transaction at its first hop; the epoch it runs in."""
        if self._open != number:
            if conn.in_transaction:  # what a failed group left
                conn.execute("ROLLBACK")
                self._version = None
            self._open = None
            self._begin(conn)
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._epoch += 1
                self._version = version
            self._open = number
        elif not conn.in_transaction:
            self._version = None
            raise GroupLost
        return self._epoch

    def _begin_job(self, conn: sqlite3.Connection, number: int) -> tuple[int, None] | tuple[None, Exception]:
        """(epoch, None) or (None, why not): a value either way, so that a group whose writers all went away
        leaves no unretrieved exception behind."""
        try:
            return self._enter(conn, number), None
        except Exception as exc:
            return None, exc

    def _read_job(self, conn: sqlite3.Connection, number: int, fn: Job) -> tuple[int, Any]:
        epoch = self._enter(conn, number)
        return epoch, fn(conn)

    def _write_job(
        self, conn: sqlite3.Connection, number: int, fn: Job, commit: bool
    ) -> tuple[Any, BaseException | None, BaseException | None, int]:
        """(fn's result, fn's own error, the commit's error, the epoch): a failed write rolls back to its
        savepoint and the group still commits the writes before it."""
        epoch = self._enter(conn, number)
        result, own = None, None
        try:
            result = _in_savepoint(conn, fn)
        except Exception as exc:
            own = exc
        failed = None
        if commit:
            try:
                self._commit_job(conn, number)
            except Exception as exc:
                failed = exc
        return result, own, failed, epoch

    def _commit_job(self, conn: sqlite3.Connection, number: int) -> None:
        if self._open != number:  # nobody in the group reached the database
            return
        self._open = None
        if not conn.in_transaction:
            self._version = None
            raise GroupLost
        try:
            conn.execute("COMMIT")
        except BaseException:
            self._version = None
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


class Member:
    """One write's place in a group: `read` hops, then at most one `write` hop."""

    def __init__(self, groups: WriteGroups, group: _Group) -> None:
        self._groups = groups
        self._group = group
        self.epoch: int | None = None
        """The epoch of the group's transaction, once a hop of this write came back."""

    def trusts(self, epoch: int) -> bool:
        """Whether what this store wrote or read in `epoch` is still what is stored (module docstring);
        after `ready`."""
        return self._group.epoch is not None and self._group.epoch == epoch

    async def ready(self) -> None:
        """Wait for the group's transaction to begin (a hop, shared by the group's writes that need it); a
        failure to begin (the busy timeout, a lost file) fails every write of the group. A write that only
        writes (create, replace, delete, a governance record) skips this: its own hop begins the group."""
        began = self._group.began
        if began is None:
            begin = partial(self._groups._begin_job, number=self._group.number)
            began = self._group.began = self._groups._submit(begin)
        if not began.done():
            with contextlib.suppress(Exception):  # read below
                await asyncio.shield(began)
        try:
            epoch, failure = began.result()
        except Exception as exc:  # the connection closed under the queued job
            epoch, failure = None, exc
        if failure is not None:  # shared by the group's writes: a fresh error each
            failed = self._groups._convert(failure)
            if isinstance(failed, WorkbenchError):
                raise WorkbenchError(failed.code, failed.message) from failure
            raise failed
        if epoch is None:
            raise RuntimeError("a group that began has an epoch")
        self._came_back(epoch)

    def _came_back(self, epoch: int) -> None:
        self.epoch = epoch
        if self._group.epoch is None:
            self._group.epoch = epoch

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(conn)` inside the group's transaction; it must change nothing."""
        await self.ready()
        try:
            job = partial(self._groups._read_job, number=self._group.number, fn=fn)
            epoch, result = await asyncio.shield(self._groups._submit(job))
        except Exception as exc:
            raise self._groups._convert(exc) from None
        self._came_back(epoch)
        value: T = result
        return value

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(conn)` inside a savepoint of the group's transaction. The last member still working commits
        the group in the same hop. The caller waits for the commit when it leaves `member`."""
        groups, group = self._groups, self._group
        group.writes += 1
        last = group.members == 1 and not group.committing
        job = partial(groups._write_job, number=group.number, fn=fn, commit=last)
        # Shielded: the hop's outcome reaches the group even if this writer is cancelled meanwhile.
        future = groups._start_commit(group, job) if last else groups._submit(job)
        try:
            result, own, _, epoch = await asyncio.shield(future)
        except Exception as exc:
            raise groups._convert(exc) from None
        self._came_back(epoch)
        if own is not None:
            raise groups._convert(own)
        value: T = result
        return value


def _in_savepoint(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute(_SAVEPOINT)
    try:
        result = fn(conn)
    except BaseException:
        if conn.in_transaction:  # else SQLite already rolled the whole transaction back
            conn.execute(_ROLLBACK_TO)
            conn.execute(_RELEASE)
        raise
    conn.execute(_RELEASE)
    return result
