"""PostgresRunStore: the RunStore on a PostgreSQL database, shared by any number of server replicas.

Same guarantees as the SQLite store, for many writers instead of one:
- One run's writers serialize on its row lock (`SELECT ... FOR UPDATE` on the run row, taken by the
  transaction's first read), then the revision check; writers of different runs never wait for each other.
- A tenant's creates (and whole-run replaces, which may create) serialize on a per-tenant advisory
  transaction lock, so the run quota and the request-id check hold under concurrent creates; request ids
  are deduplicated by their unique key (`INSERT ... ON CONFLICT`).
- Every key and index leads with the tenant; listings page by the listing index (keyset cursors).
- JSON is TEXT (ASCII-escaped, as in SQLite), never jsonb: NUL and lone surrogates round-trip byte-exact.

Driver. psycopg 3 with psycopg_pool (the driver LangGraph's Postgres checkpointer uses), in its blocking
flavour on a small thread pool: each transaction body runs as one function on a pooled connection, and
those functions are the SQLite store's own (row writes, the ledger's hash chains, governance rows), run
through pg_connection.PgConnection. So the same operations store the same rows and reach the same chain
heads on both backends, from one implementation. A write is two thread hops (begin and lock; write and
commit), a create one, a read one; a read of a run is one statement (pg_reads.py).

Chains. This process's writers of one run take turns (creators of one tenant's runs likewise), and a writer
that finds the next already waiting leaves its transaction open for it instead of committing: the next writes
into it in a savepoint of its own, and the last commits (`_Chain`). So queued writers of one run take its row
lock, and queued creates the tenant's lock, once, and share one COMMIT, as SQLite's group commit shares one;
each is still acknowledged only after that COMMIT, and one that fails fails alone. Writes to different runs
keep their own transactions: holding several runs' row locks at once could deadlock with another replica.

Connection loss. A call whose connection breaks (the database restarted) fails with STORAGE_UNAVAILABLE;
nothing it did is acknowledged, since the commit never returned. The pool checks each connection before
handing it out and replaces broken ones, so the store recovers by itself once the database is back.

Change notifications. Every committing write sends `NOTIFY workbench_runs` with the run's ids
(postgres_watch.py turns them into the change feed wait_for_decision listens to).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

import psycopg
import psycopg.errors
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.ledger import scan as ledger_scan
from workbench_mcp.ledger import store_rows as ledger_rows
from workbench_mcp.ledger.checkpoints import Heads
from workbench_mcp.ledger.context import HeadsCache, LedgerContext
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.store import pg_reads, review_rows, row_codec
from workbench_mcp.store import sqlite_store as bodies
from workbench_mcp.store.page_cursor import PagePosition, decode_cursor, encode_cursor
from workbench_mcp.store.pg_connection import PgConnection
from workbench_mcp.store.pg_schema import TENANT_LOCK, bundled_pg_migrations, migrate, migration_lock
from workbench_mcp.store.pg_text import use_nul_safe_text
from workbench_mcp.store.postgres_watch import PostgresChangeFeed
from workbench_mcp.store.row_codec import StoredState, WriteContext
from workbench_mcp.store.run_store import (
    Actor,
    AuditRecord,
    EventJson,
    GovernanceRecord,
    ReviewRequest,
    RunPage,
    RunStore,
    StoredGovernanceRecord,
    StoreLimits,
)

T = TypeVar("T")
Key = tuple[str, str]

logger = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 10
"""Connections per store (per replica). Each in-flight mutation holds one from its first read to its commit."""
HEALTH_TIMEOUT_S = 2.0
"""How long /healthz waits for a connection before calling the database unreachable."""
CHAIN_MAX_WRITES = 32
CHAIN_MAX_AGE_S = 0.02
"""A chain stops taking writes past this age, so a steady stream of one run's writers still commits (and
lets another replica's writers of the run in) every few tens of milliseconds."""
_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_SAVEPOINT = "SAVEPOINT w"
_RELEASE = "RELEASE w"
_ROLLBACK_TO = "ROLLBACK TO w"
_CHANGES_SQL = "SELECT pg_current_wal_lsn() - '0/0'"


class _SharedHeadsCache(HeadsCache):
    """The ledger's heads cache, used here by several writer threads at once (one per in-flight write)."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._lock = threading.Lock()

    def get(self, key: Key, tag: int | None) -> Heads | None:
        with self._lock:
            return super().get(key, tag)

    def put(self, key: Key, tag: int, heads: Heads) -> None:
        with self._lock:
            super().put(key, tag, heads)


def _lock_tenant(conn: PgConnection, tenant_id: str) -> None:
    conn.raw.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (TENANT_LOCK, tenant_id))


def _begin(conn: PgConnection, tenant_id: str | None = None) -> None:
    conn.execute("BEGIN")
    if tenant_id is not None:
        _lock_tenant(conn, tenant_id)


def _locked(
    body: Callable[..., T], *, tenant_lock: bool = False, pipelined: bool = True, **kwargs: Any
) -> Callable[[PgConnection], T]:
    """`body(conn, **kwargs)` in a fresh write transaction, committed if it returns, rolled back if it raises
    (the bodies are the SQLite store's, which leave both to their caller: there, a group's)."""

    def run(conn: PgConnection) -> T:
        try:
            _begin(conn, kwargs["key"][0] if tenant_lock else None)
            result = body(conn.as_sqlite(), **kwargs)
            conn.execute("COMMIT")
        except BaseException:
            _rollback_quietly(conn)
            raise
        return result

    return _pipelined(run) if pipelined else run


def _opened(body: Callable[..., T], **kwargs: Any) -> Callable[[PgConnection], T]:
    """`body(conn, **kwargs)` in a fresh write transaction that stays open if it returns (run_transaction's
    checks: the run row's lock is held from here to the commit), rolled back if it raises."""

    def run(conn: PgConnection) -> T:
        try:
            _begin(conn)
            return body(conn.as_sqlite(), **kwargs)
        except BaseException:
            _rollback_quietly(conn)
            raise

    return _pipelined(run)  # BEGIN and the locking read: one round trip


def _rollback_quietly(conn: PgConnection) -> None:
    """On the way out of a failed body: its own error is the one worth reporting (a broken connection is
    discarded by the pool anyway)."""
    with contextlib.suppress(psycopg.Error):
        if conn.in_transaction and not conn.raw.closed:
            conn.raw.execute("ROLLBACK")


def _pipelined(fn: Callable[[PgConnection], T]) -> Callable[[PgConnection], T]:
    """`fn` in pipeline mode: its statements go out without waiting for each answer, and a read that needs
    one syncs. A write body's inserts, updates, NOTIFY and COMMIT cost one round trip instead of one each.
    Not for bodies that use a statement's rowcount or description without fetching (known only after a sync)."""

    def run(conn: PgConnection) -> T:
        with conn.raw.pipeline():
            return fn(conn)

    return run


class PostgresRunStore:
    """The RunStore on PostgreSQL. `url`: postgresql://user@host:port/dbname. Options:

    - `limits`, `cache_size`, `now`, `signer`, `chain`: as SqliteRunStore.
    - `pool_size`: connections (and writer threads) of this store, 10.
    - `lock_timeout_ms`: how long a write waits for another writer of the same run or tenant before
      STORAGE_UNAVAILABLE ("busy; try again"), 5,000.
    - `connect_timeout_s`: how long a call waits for a connection (the database down) before
      STORAGE_UNAVAILABLE, 5.
    """

    def __init__(
        self,
        url: str,
        *,
        limits: StoreLimits | None = None,
        cache_size: int = 256,
        now: Callable[[], str] = bodies._utc_now,
        signer: SigningKey | None = None,
        chain: bool = True,
        pool_size: int = DEFAULT_POOL_SIZE,
        lock_timeout_ms: int = 5_000,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.limits = limits or StoreLimits()
        self._signer = signer
        self._chain = chain
        self._now = now
        self._cache = bodies._StateCache(cache_size)
        self._heads = _SharedHeadsCache(cache_size)
        self._pool_size = pool_size
        self._lock_timeout_ms = lock_timeout_ms
        self._connect_timeout_s = connect_timeout_s
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(pool_size)
        self._checking: Future[None] | None = None
        self._queues: dict[Key, _Queue] = {}
        self._tenant_queues: dict[str, _Queue] = {}
        self._orphan_commits: set[asyncio.Future[None]] = set()
        self.changes = PostgresChangeFeed(url)
        """LISTEN/NOTIFY of committed run changes (run_watch.RunWatch follows it while anyone waits)."""

    # --- lifecycle ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, migrate (under the advisory lock) and open the ledger; STORAGE_UNAVAILABLE on failure."""
        if self._pool is not None:
            return
        self._threads = ThreadPoolExecutor(self._pool_size, thread_name_prefix="pg-store")
        self._pool = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self._pool_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            timeout=self._connect_timeout_s,
            open=False,
            name="workbench-pg",
        )
        try:
            await self._hop(partial(self._pool.open, wait=True, timeout=self._connect_timeout_s))
            await self._hop(self._prepare)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        pool, threads = self._pool, self._threads
        self._pool = self._threads = None
        await self.changes.close()
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(threads, pool.close)
        if threads is not None:
            threads.shutdown(wait=False)

    async def __aenter__(self) -> PostgresRunStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        use_nul_safe_text(conn)
        conn.execute(f"SET lock_timeout = {int(self._lock_timeout_ms)}")

    def _prepare(self) -> None:
        """Migrate and open the ledger, one replica at a time (the others wait, then find nothing to do)."""
        assert self._pool is not None
        with self._pool.connection() as raw:
            raw.execute("SET lock_timeout = 0")  # replicas starting together wait for the first
            try:
                with migration_lock(raw):
                    migrate(raw, bundled_pg_migrations())
                    if self._chain:
                        ledger_rows.open_ledger(PgConnection(raw).as_sqlite(), self._signer, self._now())
            finally:
                raw.execute(f"SET lock_timeout = {int(self._lock_timeout_ms)}")

    def file_problem(self) -> str | None:
        """/healthz asks the SQLite store whether its file is still there; a database has no such problem."""
        return None

    async def reachability_problem(self) -> str | None:
        """None if a pooled connection answers `SELECT 1` now; else why not (/healthz answers 503 meanwhile).
        A connection the database dropped (it restarted) fails here once and is discarded by the pool, so the
        next check after the database is back finds a live one."""
        pool = self._pool
        if pool is None:
            return "the run store is not open"
        try:
            await self._hop(partial(_ping, pool, min(self._connect_timeout_s, HEALTH_TIMEOUT_S)))
        except WorkbenchError as exc:
            return exc.message
        return None

    # --- connections and errors ----------------------------------------------------------------------

    async def _hop(self, fn: Callable[[], T]) -> T:
        if self._threads is None:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the run store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, fn)
        except WorkbenchError:
            raise
        except (psycopg.Error, PoolTimeout, UnicodeEncodeError) as exc:
            if isinstance(exc, psycopg.OperationalError):
                self._check_idle_connections()
            raise _storage_error(exc) from exc

    def _check_idle_connections(self) -> None:
        """A connection failed: the database may have restarted, leaving every idle pooled connection dead.
        The pool replaces the broken ones in the background, so the calls after it find live connections
        (checking each connection before every use would cost a round trip per call instead)."""
        pool, threads = self._pool, self._threads
        if pool is None or threads is None or (self._checking is not None and not self._checking.done()):
            return
        self._checking = threads.submit(_quietly, pool.check)

    @asynccontextmanager
    async def _session(self, *, begin: str = "BEGIN", locking: bool = True) -> AsyncIterator[_Session]:
        """One pooled connection for one operation, taken in its first hop and given back (rolled back) in its
        last (`run(..., last=True)`), so a read costs one thread hop and a write two, not two more for the pool."""
        session = await self._owned_session(begin=begin, locking=locking)
        try:
            yield session
        finally:
            await asyncio.shield(self._release(session))

    def _write_context(self, actor: Actor) -> WriteContext:
        at = self._now()
        ledger = LedgerContext(self._signer, at, self._heads) if self._chain else None
        return WriteContext(actor=actor, at=at, state_tag=bodies._new_tag(), limits=self.limits, ledger=ledger)

    # --- mutations ---------------------------------------------------------------------------------------

    @asynccontextmanager
    async def run_transaction(
        self, tenant_id: str, run_id: str, *, expected_revision: int | None = None
    ) -> AsyncIterator[bodies.SqliteTransaction]:
        """One write to a run, in this process's turn for the run. The writers queued behind it share its
        transaction (`_Chain`): each writes in a savepoint of its own, the last commits, and every one of
        them is acknowledged only once that COMMIT has returned."""
        key = (tenant_id, run_id)
        async with self._queued(self._queues, key) as turn:
            chain, turn.chain = turn.chain, None
            if chain is None:
                chain = await self._open_run_chain(key, expected_revision)
            mine = False
            try:
                run = chain.run
                assert run is not None
                if expected_revision is not None and run.meta.revision != expected_revision:
                    raise bodies._revision_conflict(run_id, expected_revision, run.meta.revision)
                tx = bodies.SqliteTransaction(key, run.meta, run.state, self._write_context, chain.session.run_sqlite)
                yield tx  # a use_review_request in here only checks the link (under the run's row lock)
                if tx.has_rows_to_write:
                    commit = not self._may_pass(turn, chain)
                    await chain.session.run(self._chained_write(chain, key, tx, commit=commit), last=commit)
                    mine = True
            finally:
                await self._leave(turn, chain)
        if mine:
            await asyncio.shield(chain.done)  # acknowledged only once committed

    async def _leave(self, turn: _Queue, chain: _Chain) -> None:
        """At the end of a writer's turn: hand the chain to the next writer, or end it."""
        await chain.session.settle()  # a cancelled writer's hop finishes before anyone else's starts
        if chain.ended:  # this writer's hop committed
            await asyncio.shield(self._after_chain(chain, None))
        elif self._may_pass(turn, chain):
            turn.chain = chain
        else:
            await asyncio.shield(self._end_chain(chain))

    def _may_pass(self, turn: _Queue, chain: _Chain) -> bool:
        """Whether to leave the transaction open for the turn's next writer, already waiting for it."""
        return (
            turn.waiting > 1
            and not chain.broken
            and chain.writes < CHAIN_MAX_WRITES
            and asyncio.get_running_loop().time() - chain.started < CHAIN_MAX_AGE_S
        )

    async def _owned_session(self, *, begin: str = "BEGIN", locking: bool = True) -> _Session:
        """A session holding one of the store's slots until `_release` (an operation's, or a chain's)."""
        pool = self._require_pool()
        await self._slots.acquire()  # never more owners than connections: a thread is always free for an owner
        return _Session(self, pool, begin=begin, locking=locking)

    async def _open_run_chain(self, key: Key, expected_revision: int | None) -> _Chain:
        """BEGIN and the run row's lock (then the revision check): one hop."""
        cached = self._cache.peek(key)
        cached_tag = None if cached is None else cached[0]
        open_tx = _opened(bodies._open_run_tx, key=key, expected_revision=expected_revision, cached_tag=cached_tag)
        session = await self._owned_session()
        session.notify.append(key)
        try:
            meta, stored = await session.run(open_tx)
            state = self._state_of(key, meta, stored, cached)
        except BaseException:
            await asyncio.shield(self._release(session))
            raise
        return self._new_chain(session, _RunChain(meta, state))

    async def _open_tenant_chain(self, tenant_id: str) -> _Chain:
        """A session for a tenant's creates; its first create's hop begins the transaction and takes the
        tenant's advisory lock (which orders its creates: quota, request ids), so a lone create is one hop."""
        chain = self._new_chain(await self._owned_session(), None)
        chain.begin = partial(_begin, tenant_id=tenant_id)
        return chain

    def _new_chain(self, session: _Session, run: _RunChain | None) -> _Chain:
        loop = asyncio.get_running_loop()
        return _Chain(session, run, loop.time(), loop.create_future())

    def _chained_write(
        self, chain: _Chain, key: Key, tx: bodies.SqliteTransaction, *, commit: bool
    ) -> Callable[[PgConnection], None]:
        """The hop that writes `tx`'s rows into a run chain's transaction."""
        run = chain.run
        assert run is not None
        finish = partial(
            bodies._finish_run_tx,
            key=key,
            writes=tx.writes,
            previous_tag=run.meta.state_tag,
            records=tx.records,
            at=self._now(),
            revision=tx.state.revision,
            reviews=tx.reviews,
            review_uses=tx.review_uses,
        )
        meta = run.meta
        if tx.writes:
            last = tx.writes[-1]
            meta = bodies._RunMeta(last.revision, last.trace_length, last.state_tag)
        state = tx.state

        def learn(_: None) -> None:
            run.meta, run.state = meta, state
            if tx.writes:
                chain.committed[key] = (meta.state_tag, state)

        # Marking a review link used reads the UPDATE's row count, known in pipeline mode only after a sync.
        return _in_chain(chain, _sqlite_body(finish), learn, commit=commit, pipelined=not tx.review_uses)

    async def _end_chain(self, chain: _Chain) -> None:
        """COMMIT the chain's writes (or roll back: it has none, or lost its transaction), then `_after_chain`."""
        error: BaseException | None = None
        try:
            if chain.writes and not chain.broken:
                await chain.session.run(_commit)
        except BaseException as exc:  # reported to the chain's writers, none of whose writes was committed
            error = exc
        chain.ended = True
        await self._after_chain(chain, error)

    async def _after_chain(self, chain: _Chain, error: BaseException | None) -> None:
        """Give the chain's connection back and tell its writers how it ended; cache what it committed."""
        await self._release(chain.session)
        if not chain.writes:
            return
        if error is None and not chain.broken:
            for key, (tag, state) in chain.committed.items():
                self._cache.put(key, tag, state)
            _settle_done(chain.done, None)
        else:
            _settle_done(chain.done, error if isinstance(error, WorkbenchError) else _lost_transaction())

    async def _release(self, session: _Session) -> None:
        """Give `session`'s connection back (rolled back unless committed) and its slot."""
        try:
            await session.settle()
            if session.conn is not None:
                await self._hop(partial(_give_back, session.pool, session.conn))
                session.conn = None
        finally:
            self._slots.release()

    def _require_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        if self._pool is None:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the run store is not open")
        return self._pool

    @asynccontextmanager
    async def _queued(self, queues: dict[Any, _Queue], key: Any) -> AsyncIterator[_Queue]:
        """This process's writers of one run (or creators of one tenant's runs) take turns here before taking
        its lock, so the others wait on the event loop instead of each holding a connection, a thread and a
        backend blocked on the lock (c=8 on one run measured faster); a writer that finds the one before it
        left its transaction open (`_Chain`) writes into it. The database's lock still orders them against
        other replicas. The wait is bounded like that lock's."""
        entry = queues.get(key)
        if entry is None:
            entry = queues[key] = _Queue()
        entry.waiting += 1
        try:
            try:
                async with asyncio.timeout(self._lock_timeout_ms / 1000):
                    await entry.lock.acquire()
            except TimeoutError:
                raise WorkbenchError(  # the same words as SQLite's: the queue is a run's or a tenant's creates'
                    ErrorCode.STORAGE_UNAVAILABLE, "the run store is busy (too many queued writes); try again"
                ) from None
            try:
                yield entry
            finally:
                entry.lock.release()
        finally:
            entry.waiting -= 1
            if entry.waiting == 0:
                del queues[key]
                if entry.chain is not None:  # left for a writer that gave up waiting
                    orphan = asyncio.ensure_future(self._end_chain(entry.chain))
                    self._orphan_commits.add(orphan)
                    orphan.add_done_callback(self._orphan_commits.discard)
                    entry.chain = None

    async def create_run(
        self,
        tenant_id: str,
        state: RunState,
        events: Sequence[EventJson],
        actor: Actor,
        *,
        request_id: str | None = None,
        governance: Sequence[GovernanceRecord] = (),
    ) -> str:
        """In this process's turn for the tenant; creates queued behind it share its transaction (`_Chain`)."""
        key = (tenant_id, state.run_id)
        write = row_codec.full_write(state, events, self._write_context(actor))
        create = partial(
            bodies._create, key=key, write=write, request_id=request_id, limits=self.limits, records=governance
        )  # no `at`, as in SqliteRunStore.create_run: the same rows, so the same governance chain

        async with self._queued(self._tenant_queues, tenant_id) as turn:
            chain, turn.chain = turn.chain, None
            if chain is None:
                chain = await self._open_tenant_chain(tenant_id)
            try:
                learn = partial(_learn_create, chain, key, write.state_tag, state)
                commit = not self._may_pass(turn, chain)
                earlier: str | None = await chain.session.run(
                    _in_chain(chain, _sqlite_body(create), learn, commit=commit), last=commit
                )
            finally:
                await self._leave(turn, chain)
        await asyncio.shield(chain.done)
        return state.run_id if earlier is None else earlier

    async def replace_run(
        self,
        tenant_id: str,
        state: RunState,
        trace: Sequence[EventJson],
        actor: Actor,
        *,
        expected_revision: int | None = None,
    ) -> None:
        key = (tenant_id, state.run_id)
        write = row_codec.full_write(state, trace, self._write_context(actor))
        replace = _locked(
            bodies._replace,
            tenant_lock=True,
            key=key,
            write=write,
            expected_revision=expected_revision,
            limits=self.limits,
        )
        async with self._session() as session:
            session.notify = [key]
            await session.run(replace, last=True)
        self._cache.put(key, write.state_tag, state)

    async def delete_run(self, tenant_id: str, run_id: str, *, expected_revision: int | None = None) -> bool:
        key = (tenant_id, run_id)
        self._cache.drop(key)
        async with self._session() as session:
            session.notify = [key]
            delete = _locked(bodies._delete, pipelined=False, key=key, expected_revision=expected_revision)
            return await session.run(delete, last=True)

    async def record_governance(self, tenant_id: str, run_id: str | None, record: GovernanceRecord) -> None:
        key = (tenant_id, run_id or "")
        insert = _locked(
            _insert_governance, tenant_lock=True, key=key, record=record, at=self._now()
        )  # the tenant lock orders the chain of refusals that name no run
        async with self._session() as session:
            session.notify = [key]
            await session.run(insert, last=True)

    # --- reads ---------------------------------------------------------------------------------------

    async def load_state(self, tenant_id: str, run_id: str) -> RunState:
        state, _ = await self._snapshot((tenant_id, run_id), with_state=True, with_trace=False)
        return cast(RunState, state)

    async def load_trace(self, tenant_id: str, run_id: str) -> list[EventJson]:
        return (await self._snapshot((tenant_id, run_id), with_state=False, with_trace=True))[1]

    async def load_run(self, tenant_id: str, run_id: str, *, fresh: bool = False) -> tuple[RunState, list[EventJson]]:
        state, trace = await self._snapshot((tenant_id, run_id), with_state=True, with_trace=True, fresh=fresh)
        return cast(RunState, state), trace

    async def list_runs(
        self, tenant_id: str, *, limit: int = bodies.LIST_LIMIT_DEFAULT, cursor: str | None = None
    ) -> RunPage:
        """Newest first; `limit` clamped to 1..500. The next page starts after this page's last row."""
        size = max(1, min(bodies.LIST_LIMIT_MAX, limit))
        after = decode_cursor(cursor) if cursor else bodies._FIRST_PAGE
        async with self._session(locking=False) as session:
            rows = await session.run_sqlite(
                partial(bodies._read_page, tenant_id=tenant_id, after=after, limit=size + 1), last=True
            )
        page = rows[:size]
        items = [row_codec.saved_run_meta(*row[:6]) for row in page]
        more = len(rows) > size
        next_cursor = encode_cursor(PagePosition(page[-1][6], page[-1][0])) if more else None
        return RunPage(items=items, next_cursor=next_cursor)

    async def audit_log(self, tenant_id: str, run_id: str) -> list[AuditRecord]:
        async with self._session(begin=_SNAPSHOT, locking=False) as session:
            rows = await session.run_sqlite(partial(bodies._read_audit, key=(tenant_id, run_id)), last=True)
        return [AuditRecord(*row) for row in rows]

    async def governance_log(self, tenant_id: str, run_id: str) -> list[StoredGovernanceRecord]:
        async with self._session(begin=_SNAPSHOT, locking=False) as session:
            return await session.run_sqlite(partial(bodies._read_governance, key=(tenant_id, run_id)), last=True)

    async def data_version(self) -> int:
        """The cluster's WAL position: it moves whenever anyone commits (waiters follow `changes` instead)."""
        async with self._session(locking=False) as session:
            return await session.run(lambda conn: int(conn.raw.execute(_CHANGES_SQL).fetchone()[0]), last=True)  # type: ignore[index]

    async def _snapshot(
        self, key: Key, *, with_state: bool, with_trace: bool, fresh: bool = False
    ) -> tuple[RunState | None, list[EventJson]]:
        cached = None if fresh else self._cache.peek(key)
        read = partial(
            pg_reads.read_snapshot,
            key=key,
            cached_tag=None if cached is None else cached[0],
            with_state=with_state,
            with_trace=with_trace,
        )
        async with self._session(begin=_SNAPSHOT, locking=False) as session:
            meta, stored, texts = await session.run(read, last=True)
        state = self._state_of(key, meta, stored, cached) if with_state else None
        return state, bodies._decode_trace(texts) if with_trace else []

    def _state_of(
        self, key: Key, meta: Any, stored: StoredState | None, cached: tuple[int, RunState] | None
    ) -> RunState:
        if stored is None and cached is not None and cached[0] == meta.state_tag:
            return cached[1]
        if stored is None:
            raise WorkbenchError(ErrorCode.INTERNAL_ERROR, "run state rows were not read")
        state = row_codec.decode_state(stored)
        self._cache.put(key, meta.state_tag, state)
        return state

    async def review_requests(self, tenant_id: str, run_id: str) -> list[ReviewRequest]:
        async with self._session(begin=_SNAPSHOT, locking=False) as session:
            return await session.run_sqlite(partial(bodies._read_review_requests, key=(tenant_id, run_id)), last=True)

    async def load_state_and_reviews(self, tenant_id: str, run_id: str) -> tuple[RunState, list[ReviewRequest]]:
        key = (tenant_id, run_id)
        cached = self._cache.peek(key)
        read = partial(pg_reads.read_state_and_reviews, key=key, cached_tag=None if cached is None else cached[0])
        async with self._session(begin=_SNAPSHOT, locking=False) as session:
            meta, stored, reviews = await session.run(read, last=True)
        return self._state_of(key, meta, stored, cached), reviews

    async def review_request(self, tenant_id: str, request_id: str, reviewer: str) -> ReviewRequest | None:
        read = partial(review_rows.one, tenant_id=tenant_id, request_id=request_id, reviewer=reviewer)
        async with self._session(locking=False) as session:
            return await session.run_sqlite(read, last=True)

    # --- ledger ------------------------------------------------------------------------------------------

    async def export_checkpoint(self, tenant_id: str, run_id: str) -> tuple[RunState, ledger_rows.LedgerExport]:
        """As SqliteRunStore.export_checkpoint: sign an `export` checkpoint and read what an attestation
        covers, in one transaction that holds the run's row lock."""
        signer = self._signer
        if signer is None or not self._chain:
            raise WorkbenchError(ErrorCode.INVALID_INPUT, "this server has no signing key, so it cannot attest runs")
        key = (tenant_id, run_id)
        body = _locked(_export_body, pipelined=False, key=key, signer=signer, at=self._now())  # reads descriptions
        async with self._session() as session:
            stored, export = await session.run(body, last=True)
        return row_codec.decode_state(stored), export

    @property
    def signer(self) -> SigningKey | None:
        return self._signer if self._chain else None

    async def published_keys(self) -> list[dict[str, Any]]:
        async with self._session(locking=False) as session:
            return await session.run_sqlite(ledger_rows.published_keys, last=True)


class _Queue:
    """One run's in-process turn (`PostgresRunStore._queued`), dropped when nobody waits."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0
        self.chain: _Chain | None = None
        """The transaction the turn's last holder left open for the next (`run_transaction`)."""


@dataclass(eq=False)
class _RunChain:
    """A run chain's run: its row as the chain's transaction has left it, and its state."""

    meta: bodies._RunMeta
    state: RunState


@dataclass(eq=False)
class _Chain:
    """One write transaction handed from each of this process's writers of one run (or creators of one tenant's
    runs) to the next while more are waiting, up to CHAIN_MAX_WRITES writes and for at most CHAIN_MAX_AGE_S: the
    lock is taken and the transaction committed once for all of them, not once each."""

    session: _Session
    run: _RunChain | None
    """None: a tenant's chain of creates."""
    started: float
    done: asyncio.Future[None]
    """The COMMIT's outcome, which every writer of the chain waits for."""
    writes: int = 0
    """Writes in the transaction (each committed with it, or with none)."""
    committed: dict[Key, tuple[int, RunState]] = field(default_factory=dict)
    """Each run's state tag and state once the chain commits (for the state cache)."""
    broken: bool = False
    """A write failed outside a savepoint, or its savepoint could not be rolled back: nothing commits."""
    ended: bool = False
    begin: Callable[[PgConnection], None] | None = None
    """What the first write's hop does first (a tenant chain's BEGIN and advisory lock), if not done yet."""


class _Session:
    """One operation's connection; every call on it is one thread hop, the first of which takes the
    connection from the pool and the last (`last=True`) gives it back."""

    def __init__(
        self, store: PostgresRunStore, pool: ConnectionPool[psycopg.Connection[Any]], *, begin: str, locking: bool
    ) -> None:
        self._store = store
        self.pool = pool
        self._begin = begin
        self._locking = locking
        self.conn: PgConnection | None = None
        self.notify: list[Key] = []
        """The run keys announced on COMMIT (PgConnection.notify; the same list)."""
        self._running: asyncio.Future[Any] | None = None

    async def run(self, fn: Callable[[PgConnection], T], *, last: bool = False) -> T:
        future = asyncio.ensure_future(self._store._hop(partial(self._call, fn, last)))
        self._running = future
        # Shielded: a cancelled caller must not hand the connection back while its thread still uses it.
        return await asyncio.shield(future)

    def _call(self, fn: Callable[[PgConnection], T], last: bool) -> T:
        conn = self.conn
        if conn is None:
            conn = self.conn = PgConnection(self.pool.getconn(), begin=self._begin, locking=self._locking)
        conn.notify = self.notify
        try:
            return fn(conn)
        finally:
            if last:
                self.conn = None
                _give_back(self.pool, conn)

    async def run_sqlite(self, fn: Callable[..., T], *, last: bool = False) -> T:
        return await self.run(_sqlite_body(fn), last=last)

    async def rollback(self) -> None:
        with contextlib.suppress(Exception):
            await self.run(_sqlite_body(bodies._rollback), last=True)

    async def settle(self) -> None:
        if self._running is not None:
            with contextlib.suppress(BaseException):
                await self._running


def _sqlite_body(body: Callable[..., T]) -> Callable[[PgConnection], T]:
    """A SQLite store body (keyword arguments bound) run on the adapter."""
    return lambda conn: body(conn.as_sqlite())


def _in_chain(
    chain: _Chain,
    body: Callable[[PgConnection], T],
    learn: Callable[[T], None],
    *,
    commit: bool,
    pipelined: bool = True,
) -> Callable[[PgConnection], T]:
    """The hop of one write in `chain`'s transaction: `body`, in a savepoint when earlier writes of the chain are
    in it (so a failure undoes this write alone), then COMMIT if `commit` (the earlier writes' too, should this one
    fail). The chain learns the write here, on the thread (`learn`), so a writer cancelled meanwhile cannot leave
    it behind. Run with `last=commit`: once it returns or raises, a committing hop's chain is ended or broken."""
    savepoint = chain.writes > 0
    begin = chain.begin
    chain.begin = None

    def run(conn: PgConnection) -> T:
        try:
            with conn.raw.pipeline() if pipelined else contextlib.nullcontext():
                if begin is not None:
                    begin(conn)
                if savepoint:
                    conn.execute(_SAVEPOINT)
                result = body(conn)
                if savepoint:
                    conn.execute(_RELEASE)
        except BaseException:
            if not savepoint:
                chain.broken = True  # nothing of the chain's to keep: the whole transaction goes
            else:
                try:
                    conn.raw.execute(_ROLLBACK_TO)
                except psycopg.Error:
                    chain.broken = True
                else:
                    if commit:
                        _end(chain, conn)
            raise
        learn(result)
        chain.writes += 1
        if commit:
            _end(chain, conn)
        return result

    return run


def _end(chain: _Chain, conn: PgConnection) -> None:
    try:
        _commit(conn)
    except BaseException:
        chain.broken = True
        raise
    chain.ended = True


def _learn_create(chain: _Chain, key: Key, tag: int, state: RunState, earlier: str | None) -> None:
    if earlier is None:  # a new run (else a requestId's earlier run: nothing written)
        chain.committed[key] = (tag, state)
        chain.session.notify.append(key)


def _commit(conn: PgConnection) -> None:
    """COMMIT, unless an error left the transaction aborted: PostgreSQL would answer that COMMIT with a silent
    ROLLBACK, and writes that were never stored would be acknowledged."""
    if conn.raw.info.transaction_status == TransactionStatus.INERROR:
        raise _lost_transaction()
    conn.execute("COMMIT")


def _lost_transaction() -> WorkbenchError:
    return WorkbenchError(
        ErrorCode.STORAGE_UNAVAILABLE, "the run store lost the write's transaction; nothing of it was stored, try again"
    )


def _settle_done(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
        done.add_done_callback(lambda f: f.exception())  # its writers may all have been cancelled


def _quietly(fn: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):
        fn()


def _ping(pool: ConnectionPool[psycopg.Connection[Any]], timeout_s: float) -> None:
    with pool.connection(timeout=timeout_s) as raw:
        raw.execute("SELECT 1")


def _give_back(pool: ConnectionPool[psycopg.Connection[Any]], conn: PgConnection) -> None:
    _rollback_quietly(conn)
    pool.putconn(conn.raw)  # a broken connection is discarded and replaced by the pool


def _insert_governance(conn: Any, key: Key, record: GovernanceRecord, at: str) -> None:
    bodies._insert_governance(conn, tenant_id=key[0], run_id=key[1], record=record, at=at)


def _export_body(conn: Any, key: Key, signer: SigningKey, at: str) -> tuple[StoredState, ledger_rows.LedgerExport]:
    meta = bodies._read_meta(conn, key)  # FOR UPDATE: no other write of the run until the commit
    if meta is None:
        raise bodies._unknown_run(key[1])
    stored = bodies._read_state(conn, key, meta)
    if not ledger_rows.is_linked(conn, key):
        ledger_rows.backfill_run(conn, key, None, at)
    finding, _ = ledger_scan.check_run(conn, key, meta.trace_length, ledger_scan.database_keys(conn))
    if finding is not None:
        raise WorkbenchError(
            ErrorCode.LEDGER_MISMATCH,
            f"run {key[1]} no longer matches its ledger at seq {finding.seq} ({finding.problem}); "
            "it is not attested (see `workbench-mcp ledger check`)",
        )
    return stored, ledger_rows.export_checkpoint(conn, key, signer, at)


def _storage_error(exc: Exception) -> WorkbenchError:
    """Driver errors stop here. A duplicate key: a writer decided on a stale state (REVISION_CONFLICT).
    A NUL or a lone surrogate in an id (PostgreSQL text cannot hold them): INVALID_INPUT. Lock waits,
    deadlocks, a lost or refused connection: STORAGE_UNAVAILABLE. Anything else is our bug."""
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return WorkbenchError(ErrorCode.REVISION_CONFLICT, "another writer changed the run at the same time")
    if isinstance(exc, UnicodeEncodeError) or (isinstance(exc, psycopg.DataError) and "NUL" in str(exc)):
        return WorkbenchError(ErrorCode.INVALID_INPUT, "ids may not contain NUL characters or lone surrogates")
    if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected):
        return WorkbenchError(
            ErrorCode.STORAGE_UNAVAILABLE, "the run store is busy (another writer held the run); try again"
        )
    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        logger.warning("PostgreSQL unavailable: %s", exc)
        return WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the run store is unavailable (database unreachable)")
    if isinstance(exc, psycopg.IntegrityError | psycopg.ProgrammingError | psycopg.DataError):
        return WorkbenchError(ErrorCode.INTERNAL_ERROR, f"run store error: {exc}")
    return WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, f"the run store is unavailable: {exc}")


def _is_a_run_store(store: PostgresRunStore) -> RunStore:
    """Never called: mypy checks here that PostgresRunStore implements the RunStore protocol."""
    return store
