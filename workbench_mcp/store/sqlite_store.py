"""SqliteRunStore: the RunStore on one SQLite file, each connection on a thread of its own.

Connections. One write connection; its transactions are shared by concurrent writes (group commit,
sqlite_group.py): a group opens with `BEGIN IMMEDIATE` (another process's writer waits on the busy
timeout instead of failing), each write goes in inside a savepoint of its own, and one COMMIT ends the
group; a write is acknowledged only after that COMMIT. Writes to one run queue on that run's lock, and
the revision a write is checked against is read inside the group's transaction. Reads use a second
connection; under WAL they see the last committed state and never a partial operation. A third
connection checkpoints the WAL in the background every CHECKPOINT_EVERY committed writes: inside a
commit, as SQLite does by default, the checkpoint's fsync stalled that write for milliseconds and cut
sustained throughput by about half (measured).

Thread hops. Each connection lives on its own thread (sqlite_thread.py) and every call to it
costs a hop (~85 us on this machine); a write made of BEGIN, a read and six statements would
spend most of its time hopping. So a whole transaction body runs as ONE function on that thread:
a write is at most three hops (the group's BEGIN, shared; the read of its run row, skipped while no
other connection committed since this store last wrote the run; its rows, with the group's COMMIT if
it is the group's last), a read is one.

Cache. Per store, `(tenant, run) -> (state_tag, RunState)`. Every write gives the run row a new
random `state_tag`, read inside the transaction, so a cached state is used only if nothing,
in this process or another, has written the run since (a revision alone would not notice a
PUT that stores a different state under the same revision).

Durability (a SQLite notion, so the vocabulary lives here, not in run_store.py).
`durability="normal"` is `synchronous=NORMAL`: a committed write survives the
process being killed (SIGKILL, OOM), but the last commits may be lost on power failure or an
OS crash. `durability="full"` (`synchronous=FULL`) syncs the WAL on every commit and survives
those too, at the cost of one fsync per write.

The file itself. Open connections keep writing to the file they opened even after it is deleted
(or replaced by another file at the same path): every write would answer OK and be gone at the
next start. So the store remembers the file's identity (st_dev, st_ino) at open, and each write
transaction checks it with one os.stat (~5 us here; bench/store_bench.py --quick: 1,917 committed
writes/s with and without it). Once the file is gone or replaced, the store refuses every call
with STORAGE_UNAVAILABLE for good and `file_problem()` says so (/healthz answers 503). Reads too:
with the directory gone SQLite itself fails them ("disk I/O error", the WAL index went with it),
and the state cache must not answer for a file that no longer exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from cachetools import LRUCache

from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.ledger import scan as ledger_scan
from workbench_mcp.ledger import store_rows as ledger_rows
from workbench_mcp.ledger.context import HeadsCache, LedgerContext
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.store import governance_rows, review_rows, row_codec
from workbench_mcp.store.page_cursor import PagePosition, decode_cursor, encode_cursor
from workbench_mcp.store.private_files import make_database_private
from workbench_mcp.store.row_codec import RunWrite, StoredState, WriteContext
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
from workbench_mcp.store.schema import bundled_migrations, migrate
from workbench_mcp.store.sqlite_group import GroupLost, Member, WriteGroups
from workbench_mcp.store.sqlite_thread import ConnectionClosed, SqliteThread

T = TypeVar("T")
Key = tuple[str, str]
ReviewUse = tuple[str, str, str, str]
"""(request id, reviewer, decision, time) of a review link used by a write."""

LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 500
CHECKPOINT_EVERY = 100
"""Commits between background WAL checkpoints (~1,000 WAL pages, SQLite's own interval)."""
SAFETY_AUTOCHECKPOINT_PAGES = 4_000
"""The writer still checkpoints by itself past ~16 MB of WAL, should the background lag."""

Durability = Literal["normal", "full"]
"""What a committed write survives: "normal" a killed process, "full" also power loss (module docstring)."""

__all__ = ["AuditRecord", "Durability", "SqliteRunStore", "SqliteTransaction"]

_CHILD_TABLES = (
    *("trace_events", "artifact_versions", "artifact_heads", "rule_sets", "idempotency", "audit"),
    *ledger_rows.LEDGER_TABLES,
)


@dataclass(frozen=True, slots=True)
class _RunMeta:
    """The run row's bookkeeping, read inside the transaction."""

    revision: int
    trace_length: int
    state_tag: int


# --- statements ------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)

_SELECT_META = "SELECT revision, trace_length, state_tag FROM runs WHERE tenant_id = ? AND run_id = ?"
_SELECT_STATE = "SELECT run_json, engine_json FROM runs WHERE tenant_id = ? AND run_id = ?"
# CROSS JOIN fixes the loop order: one lookup per head, never a scan of every version.
_SELECT_HEADS = """
SELECT h.artifact_key, v.artifact_json FROM artifact_heads h
CROSS JOIN artifact_versions v ON v.tenant_id = h.tenant_id AND v.run_id = h.run_id
    AND v.artifact_key = h.artifact_key AND v.version = h.version
WHERE h.tenant_id = ? AND h.run_id = ? ORDER BY h.position
"""
_SELECT_RULE_SETS = (
    "SELECT rule_set_id, rule_set_json FROM rule_sets WHERE tenant_id = ? AND run_id = ? ORDER BY position"
)
_SELECT_IDEMPOTENCY = """
SELECT idempotency_key, artifact_key, version, payload_digest FROM idempotency
WHERE tenant_id = ? AND run_id = ? ORDER BY position
"""
_SELECT_TRACE = "SELECT event_json FROM trace_events WHERE tenant_id = ? AND run_id = ? ORDER BY seq"
_SELECT_PAGE = """
SELECT run_id, workflow_id, started_at, ended_at, status, tags, started_us FROM runs
WHERE tenant_id = ? AND (started_us, run_id) < (?, ?)
ORDER BY started_us DESC, run_id DESC LIMIT ?
"""
_SELECT_RUN_COUNT = "SELECT run_count FROM tenant_run_counts WHERE tenant_id = ?"
_SELECT_REQUEST = (
    "SELECT r.run_id, r.workflow_id, r.run_json FROM start_requests s"
    " JOIN runs r ON r.tenant_id = s.tenant_id AND r.run_id = s.run_id"
    " WHERE s.tenant_id = ? AND s.request_id = ?"
)
_INSERT_REQUEST = "INSERT OR REPLACE INTO start_requests (tenant_id, request_id, run_id) VALUES (?, ?, ?)"
_SELECT_SPEND = """
SELECT event_json FROM trace_events WHERE tenant_id = ? AND run_id = ? AND type IN ('model_io', 'tool_call')
ORDER BY seq
"""
_SELECT_AUDIT = """
SELECT seq, event_id, principal, tool, correlation_id, at FROM audit
WHERE tenant_id = ? AND run_id = ? ORDER BY seq
"""

_INSERT_RUN = """
INSERT INTO runs (tenant_id, run_id, workflow_id, status, started_at, started_us, ended_at, tags,
                  revision, trace_length, state_tag, run_json, engine_json)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
# Two updates, so that a plain append leaves the listing index untouched.
_UPDATE_RUN = """
UPDATE runs SET workflow_id = ?, status = ?, started_at = ?, started_us = ?, ended_at = ?, tags = ?,
                run_json = ?, revision = ?, trace_length = ?, state_tag = ?, engine_json = COALESCE(?, engine_json)
WHERE tenant_id = ? AND run_id = ?
"""
_UPDATE_PROGRESS = """
UPDATE runs SET revision = ?, trace_length = ?, state_tag = ?, engine_json = COALESCE(?, engine_json)
WHERE tenant_id = ? AND run_id = ?
"""
_INSERT_EVENTS = """
INSERT INTO trace_events (tenant_id, run_id, seq, event_id, type, event_json) VALUES (?, ?, ?, ?, ?, ?)
"""
_INSERT_AUDIT = """
INSERT INTO audit (tenant_id, run_id, seq, event_id, principal, tool, correlation_id, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
# A plain insert: a version written twice means a stale state, which must fail, not overwrite.
_INSERT_VERSIONS = """
INSERT INTO artifact_versions (tenant_id, run_id, artifact_key, version, artifact_json) VALUES (?, ?, ?, ?, ?)
"""
_UPSERT_HEADS = """
INSERT INTO artifact_heads (tenant_id, run_id, artifact_key, position, version) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, run_id, artifact_key) DO UPDATE SET version = excluded.version
"""
_UPSERT_RULE_SETS = """
INSERT INTO rule_sets (tenant_id, run_id, rule_set_id, position, rule_set_json) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, run_id, rule_set_id) DO UPDATE SET rule_set_json = excluded.rule_set_json
"""
_UPSERT_IDEMPOTENCY = """
INSERT INTO idempotency (tenant_id, run_id, idempotency_key, position, artifact_key, version, payload_digest)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, run_id, idempotency_key) DO UPDATE SET
    artifact_key = excluded.artifact_key, version = excluded.version, payload_digest = excluded.payload_digest
"""


# --- functions that run on a connection's thread -------------------------------------------------------
# Each is one whole transaction body, or the read it needs; none touches the store's Python state.
# A write body runs inside the BEGIN IMMEDIATE that `SqliteRunStore._write` opens in the same hop.


def _file_identity(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _begin_immediate(conn: sqlite3.Connection, wait_s: float) -> None:
    """Take the database's write lock, waiting up to `wait_s` for another process's writer.

    The writer connection has SQLite's busy handler off (busy_timeout 0) and this polls every
    0.1-1 ms instead: the handler sleeps 1, 2, 5, 10, 15 ... ms between tries, and with `serve
    --workers 2` the other process commits every ~1 ms, so those sleeps mostly missed the free
    moments (measured: writes at c=8 slower on 2 workers than 1). Uncontended, this is one statement.
    """
    if conn.in_transaction:  # a cancelled caller may have left one open
        conn.execute("ROLLBACK")
    deadline = time.monotonic() + wait_s
    pause = _FIRST_PAUSE_S
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE_S)


def _without_busy_handler(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout = 0")


_FIRST_PAUSE_S = 0.0001
_LONGEST_PAUSE_S = 0.001


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _read_meta(conn: sqlite3.Connection, key: Key) -> _RunMeta | None:
    row = conn.execute(_SELECT_META, key).fetchone()
    return None if row is None else _RunMeta(row[0], row[1], row[2])


def _read_state(conn: sqlite3.Connection, key: Key, meta: _RunMeta) -> StoredState:
    run_json, engine_json = conn.execute(_SELECT_STATE, key).fetchone()
    return StoredState(
        revision=meta.revision,
        run_json=run_json,
        engine_json=engine_json,
        artifacts=conn.execute(_SELECT_HEADS, key).fetchall(),
        rule_sets=conn.execute(_SELECT_RULE_SETS, key).fetchall(),
        idempotency=conn.execute(_SELECT_IDEMPOTENCY, key).fetchall(),
    )


def _open_run_tx(
    conn: sqlite3.Connection, key: Key, expected_revision: int | None, cached_tag: int | None
) -> tuple[_RunMeta, StoredState | None]:
    """The checks, in the group's write transaction (reads only: a failed check changes nothing)."""
    meta = _read_meta(conn, key)
    if meta is None:
        raise _unknown_run(key[1])
    if expected_revision is not None and meta.revision != expected_revision:
        raise _revision_conflict(key[1], expected_revision, meta.revision)
    stored = None if meta.state_tag == cached_tag else _read_state(conn, key, meta)
    return meta, stored


def _finish_run_tx(
    conn: sqlite3.Connection,
    key: Key,
    writes: list[RunWrite],
    previous_tag: int,
    records: list[GovernanceRecord],
    at: str,
    revision: int,
    reviews: Sequence[ReviewRequest] = (),
    review_uses: Sequence[ReviewUse] = (),
) -> None:
    # Governance rows first: the checkpoint a gate decision below signs covers them (a quorum's approvals).
    governance_rows.insert(conn, key, records, at, revision)
    review_rows.insert(conn, key[0], reviews)
    for use in review_uses:
        if not review_rows.use(conn, key, *use):
            # The run's lock kept every other write of this run out since the claim saw the link unused.
            raise WorkbenchError(ErrorCode.REVIEW_LINK_USED, "this review link was already used")
    for write in writes:
        _write_rows(conn, key, write, is_new=False, previous_tag=previous_tag)
        previous_tag = write.state_tag


def _write_rows(
    conn: sqlite3.Connection,
    key: Key,
    write: RunWrite,
    *,
    is_new: bool,
    previous_tag: int | None = None,
    replacing: bool = False,
) -> None:
    """`previous_tag`: the run row's tag before this write, if read in this transaction (the ledger's
    cached chain heads are trusted only for that tag). `replacing`: a whole-run replace of a stored run
    (its checkpoint says `import`; a run's first events appended to an empty trace are no import)."""
    if is_new:
        run = write.run
        if run is None or write.engine_json is None:
            raise ValueError("a new run needs its run and engine columns")
        conn.execute(
            _INSERT_RUN,
            (*key, run.workflow_id, run.status, run.started_at, run.started_us, run.ended_at, run.tags,
             write.revision, write.trace_length, write.state_tag, run.run_json, write.engine_json),
        )  # fmt: skip
    elif write.run is not None:
        run = write.run
        conn.execute(
            _UPDATE_RUN,
            (run.workflow_id, run.status, run.started_at, run.started_us, run.ended_at, run.tags,
             run.run_json, write.revision, write.trace_length, write.state_tag, write.engine_json, *key),
        )  # fmt: skip
    else:
        conn.execute(_UPDATE_PROGRESS, (write.revision, write.trace_length, write.state_tag, write.engine_json, *key))
    events, audit, linked = write.events, write.audit, None
    whole_run = is_new or (bool(write.events) and write.events[0][0] == 1)
    if write.ledger is not None:  # the rows carry their hash-chain links (workbench_mcp/ledger)
        linked = ledger_rows.link_rows(
            conn, key, events, write.chained, audit, whole_run=whole_run,
            cache=write.ledger.heads, tags=(previous_tag, write.state_tag),
        )  # fmt: skip
        events, audit = linked.events, linked.audit
    _insert_many(conn, _INSERT_EVENTS if linked is None else ledger_rows.INSERT_EVENTS, key, events)
    _insert_many(conn, _INSERT_AUDIT if linked is None else ledger_rows.INSERT_AUDIT, key, audit)
    _insert_many(conn, _INSERT_VERSIONS, key, write.versions)
    for table, sql, rows in (
        ("artifact_heads", _UPSERT_HEADS, write.heads),
        ("rule_sets", _UPSERT_RULE_SETS, write.rule_sets),
        ("idempotency", _UPSERT_IDEMPOTENCY, write.idempotency),
    ):
        if rows.rewrite and not is_new:
            conn.execute(f"DELETE FROM {table} WHERE tenant_id = ? AND run_id = ?", key)
        _insert_many(conn, sql, key, rows.rows)
    if write.ledger is not None and linked is not None:
        ledger_rows.finish_write(
            conn, key, write.ledger, linked, whole_run=whole_run, replaced=replacing and not is_new
        )


def _insert_many(conn: sqlite3.Connection, sql: str, key: Key, rows: list[tuple[Any, ...]]) -> None:
    if len(rows) == 1:
        conn.execute(sql, (*key, *rows[0]))
    elif rows:
        conn.executemany(sql, [(*key, *row) for row in rows])


def _check_room(conn: sqlite3.Connection, tenant_id: str, limits: StoreLimits) -> None:
    row = conn.execute(_SELECT_RUN_COUNT, (tenant_id,)).fetchone()
    if row is not None and row[0] >= limits.max_runs_per_tenant:
        raise WorkbenchError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a tenant may hold at most {limits.max_runs_per_tenant} runs (max_runs_per_tenant)",
        )


def _create(
    conn: sqlite3.Connection,
    key: Key,
    write: RunWrite,
    request_id: str | None,
    limits: StoreLimits,
    records: Sequence[GovernanceRecord] = (),
    at: str = "",
) -> str | None:
    """Insert a new run; if request_id already created a run that still exists, return its id.

    IDEMPOTENCY_CONFLICT if that run was started with other arguments (workflow, tags, metadata)."""
    if request_id is not None:
        earlier = conn.execute(_SELECT_REQUEST, (key[0], request_id)).fetchone()
        if earlier is not None:
            if write.run is None or not row_codec.same_start(earlier[1], earlier[2], write.run):
                raise WorkbenchError(
                    ErrorCode.IDEMPOTENCY_CONFLICT,
                    f"requestId {request_id!r} already started run {earlier[0]} with other arguments "
                    "(workflowId, tags or metadata); use a new requestId for a different run",
                )
            return str(earlier[0])
    if _read_meta(conn, key) is not None:
        raise WorkbenchError(ErrorCode.RUN_ID_COLLISION, f"Run id {key[1]} already exists")
    _check_room(conn, key[0], limits)
    governance_rows.insert(conn, key, records, at, write.revision)  # first: covered by any checkpoint below
    _write_rows(conn, key, write, is_new=True)
    if request_id is not None:
        conn.execute(_INSERT_REQUEST, (key[0], request_id, key[1]))
    return None


def _replace(
    conn: sqlite3.Connection, key: Key, write: RunWrite, expected_revision: int | None, limits: StoreLimits
) -> None:
    meta = _read_meta(conn, key)
    if expected_revision is not None and (meta is None or meta.revision != expected_revision):
        raise _revision_conflict(key[1], expected_revision, None if meta is None else meta.revision)
    if meta is None:
        _check_room(conn, key[0], limits)
    else:
        # The run row stays (and with it the start request that created it); its rows go.
        for table in _CHILD_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE tenant_id = ? AND run_id = ?", key)
    _write_rows(conn, key, write, is_new=meta is None, replacing=True)


def _delete(conn: sqlite3.Connection, key: Key, expected_revision: int | None) -> bool:
    if expected_revision is not None:
        meta = _read_meta(conn, key)
        if meta is None or meta.revision != expected_revision:
            raise _revision_conflict(key[1], expected_revision, None if meta is None else meta.revision)
    # The rows of every child table go with it (ON DELETE CASCADE); governance rows have no foreign key.
    deleted = conn.execute("DELETE FROM runs WHERE tenant_id = ? AND run_id = ?", key).rowcount
    governance_rows.delete(conn, key)
    return bool(deleted > 0)


@contextlib.contextmanager
def _reading(conn: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: every SELECT inside sees the same committed state (WAL snapshot)."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        _rollback(conn)  # nothing to keep; ends the snapshot


def _read_snapshot(
    conn: sqlite3.Connection, key: Key, cached_tag: int | None, with_state: bool, with_trace: bool
) -> tuple[_RunMeta, StoredState | None, list[str]]:
    """State and trace from one snapshot, so they belong to the same committed write."""
    with _reading(conn):
        meta = _read_meta(conn, key)
        if meta is None:
            raise _unknown_run(key[1])
        fresh = with_state and meta.state_tag != cached_tag
        stored = _read_state(conn, key, meta) if fresh else None
        trace = [row[0] for row in conn.execute(_SELECT_TRACE, key)] if with_trace else []
    return meta, stored, trace


def _checkpoint_passively(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _read_page(conn: sqlite3.Connection, tenant_id: str, after: PagePosition, limit: int) -> list[Any]:
    return conn.execute(_SELECT_PAGE, (tenant_id, after.started_us, after.run_id, limit)).fetchall()


def _read_audit(conn: sqlite3.Connection, key: Key) -> list[Any]:
    with _reading(conn):
        if _read_meta(conn, key) is None:
            raise _unknown_run(key[1])
        return conn.execute(_SELECT_AUDIT, key).fetchall()


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _read_governance(conn: sqlite3.Connection, key: Key) -> list[StoredGovernanceRecord]:
    with _reading(conn):
        if _read_meta(conn, key) is None:
            raise _unknown_run(key[1])
        return governance_rows.select(conn, key)


def _read_state_and_reviews(
    conn: sqlite3.Connection, key: Key, cached_tag: int | None
) -> tuple[_RunMeta, StoredState | None, list[ReviewRequest]]:
    with _reading(conn):
        meta = _read_meta(conn, key)
        if meta is None:
            raise _unknown_run(key[1])
        stored = None if meta.state_tag == cached_tag else _read_state(conn, key, meta)
        return meta, stored, review_rows.of_run(conn, key)


def _read_review_requests(conn: sqlite3.Connection, key: Key) -> list[ReviewRequest]:
    with _reading(conn):
        if _read_meta(conn, key) is None:
            raise _unknown_run(key[1])
        return review_rows.of_run(conn, key)


def _read_spend_events(conn: sqlite3.Connection, key: Key) -> list[str]:
    return [row[0] for row in conn.execute(_SELECT_SPEND, key)]


def _insert_governance(
    conn: sqlite3.Connection, tenant_id: str, run_id: str, record: GovernanceRecord, at: str
) -> None:
    governance_rows.insert_if_run(conn, tenant_id, run_id, record, at)


# --- errors ---------------------------------------------------------------------------------------------


def _unknown_run(run_id: str) -> WorkbenchError:
    # The same text whether the run is missing or another tenant's: nothing reveals the other tenant.
    return WorkbenchError(ErrorCode.UNKNOWN_RUN, f"No run named {run_id}")


def _revision_conflict(run_id: str, expected: int, actual: int | None) -> WorkbenchError:
    now = "does not exist" if actual is None else f"is at revision {actual}"
    return WorkbenchError(ErrorCode.REVISION_CONFLICT, f"run {run_id} {now}, not the expected revision {expected}")


def _storage_error(exc: sqlite3.Error) -> WorkbenchError:
    """Driver errors stop here. Busy, I/O, full disk, corruption: STORAGE_UNAVAILABLE. A duplicate
    key: a writer decided on a stale state, REVISION_CONFLICT. Anything else is our bug."""
    name = getattr(exc, "sqlite_errorname", "")
    if isinstance(exc, sqlite3.IntegrityError):
        if name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
            return WorkbenchError(ErrorCode.REVISION_CONFLICT, "another writer changed the run at the same time")
        return WorkbenchError(ErrorCode.INTERNAL_ERROR, f"run store constraint failed: {exc}")
    if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return WorkbenchError(ErrorCode.INTERNAL_ERROR, f"run store misuse: {exc}")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        message = "the run store is busy (another writer held it past the busy timeout); try again"
    else:
        message = f"the run store is unavailable: {exc}"
    return WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, message)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the store --------------------------------------------------------------------------------------------


class _StateCache:
    """Least-recently-used `(tenant, run) -> (state_tag, RunState)`; RunState is immutable, so shared."""

    def __init__(self, capacity: int) -> None:
        self._entries: LRUCache[Key, tuple[int, RunState]] | None = LRUCache(capacity) if capacity > 0 else None

    def peek(self, key: Key) -> tuple[int, RunState] | None:
        return None if self._entries is None else self._entries.get(key)

    def put(self, key: Key, tag: int, state: RunState) -> None:
        if self._entries is not None:
            self._entries[key] = (tag, state)

    def drop(self, key: Key) -> None:
        if self._entries is not None:
            self._entries.pop(key, None)


@dataclass(frozen=True, slots=True)
class _Latest:
    epoch: int
    tag: int
    state: RunState
    trace_length: int


class SqliteTransaction:
    """One open `BEGIN IMMEDIATE` on one run. Appends are encoded at once (so limits and bad
    values fail inside the caller's block) and written, with the commit, when the block exits."""

    def __init__(
        self,
        key: Key,
        meta: _RunMeta,
        state: RunState,
        context: Callable[[Actor], WriteContext],
        read: Callable[[Callable[[sqlite3.Connection], Any]], Any],
    ) -> None:
        self._key = key
        self._state = state
        self._trace_length = meta.trace_length
        self._context = context
        self._read = read  # on the writer connection, inside this transaction
        self.writes: list[RunWrite] = []
        self.records: list[GovernanceRecord] = []
        self.reviews: list[ReviewRequest] = []
        self.review_uses: list[ReviewUse] = []
        """Review requests to mark used when the write commits (a link's one use goes with its decision)."""

    async def governance(self) -> list[StoredGovernanceRecord]:
        rows: list[StoredGovernanceRecord] = await self._read(partial(governance_rows.select, key=self._key))
        return rows

    async def spend_events(self) -> list[EventJson]:
        texts: list[str] = await self._read(partial(_read_spend_events, key=self._key))
        return _decode_trace(texts)

    def add_governance(self, record: GovernanceRecord) -> None:
        self.records.append(record)

    async def completer(self, step_id: str) -> str | None:
        found: str | None = await self._read(partial(governance_rows.completer, key=self._key, step_id=step_id))
        return found

    def add_review_requests(self, requests: Sequence[ReviewRequest]) -> None:
        if any(r.run_id != self._key[1] for r in requests):
            raise WorkbenchError(ErrorCode.INTERNAL_ERROR, f"review requests must be of run {self._key[1]}")
        self.reviews.extend(requests)

    async def use_review_request(self, request_id: str, reviewer: str, *, decision: str, at: str) -> bool:
        # Checked now, marked with the write (_finish_run_tx, in its savepoint): a block that fails after this
        # leaves the link unused. The run's lock keeps every other decision on this run out until then.
        unused: bool = await self._read(
            partial(review_rows.unused, key=self._key, request_id=request_id, reviewer=reviewer)
        )
        if unused:
            self.review_uses.append((request_id, reviewer, decision, at))
        return unused

    @property
    def has_rows_to_write(self) -> bool:
        """Events, governance records, review requests or a link's use: else the block wrote nothing to commit."""
        return bool(self.writes or self.records or self.reviews or self.review_uses)

    @property
    def state(self) -> RunState:
        return self._state

    async def append(self, new_state: RunState, events: Sequence[EventJson], actor: Actor) -> None:
        old = self._state
        if new_state.run_id != old.run_id or new_state.revision != old.revision + len(events):
            raise WorkbenchError(
                ErrorCode.INTERNAL_ERROR,
                f"append of {len(events)} events must move run {old.run_id} from revision "
                f"{old.revision} to {old.revision + len(events)}, not {new_state.revision}",
            )
        write = row_codec.append_write(old, self._trace_length, new_state, events, self._context(actor))
        self.writes.append(write)
        self._state = new_state
        self._trace_length = write.trace_length


class SqliteRunStore:
    """The RunStore on one SQLite file. Options and their defaults:

    - `limits`: StoreLimits() = 100,000 trace events per run, 100,000 runs per tenant, 1 MiB of
      artifact data per version; each refused with LIMIT_EXCEEDED naming the limit.
    - `durability`: "normal" (survives a killed process) or "full" (also power loss); module docstring.
    - `busy_timeout_ms`: how long a write waits for another writer (process or queued task) before
      STORAGE_UNAVAILABLE; 5,000.
    - `cache_size`: engine states kept in memory, least recently used first out; 256.
    - `now`: the audit clock.
    - `signer`: the ledger's Ed25519 key for checkpoints (workbench_mcp/ledger); None: no checkpoints.
    - `chain`: keep the hash chain of events and audit rows (True; off only to measure its cost).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        limits: StoreLimits | None = None,
        durability: Durability = "normal",
        busy_timeout_ms: int = 5_000,
        cache_size: int = 256,
        now: Callable[[], str] = _utc_now,
        signer: SigningKey | None = None,
        chain: bool = True,
    ) -> None:
        self.path = Path(path)
        self._signer = signer
        self._chain = chain
        self.limits = limits or StoreLimits()
        self._durability = durability
        self._busy_timeout_ms = busy_timeout_ms
        self._now = now
        self._cache = _StateCache(cache_size)
        self._heads = HeadsCache(cache_size)  # the ledger's chain heads, checked against the same row tag
        # Per run, what this store's last write (or read in a write) of it left, stamped with its epoch
        # (sqlite_group.py); written on the event loop by writers only, unlike `_cache`, which readers fill.
        self._latest: LRUCache[Key, _Latest] | None = LRUCache(cache_size) if cache_size > 0 else None
        self._groups = WriteGroups(
            submit=self._submit_writer,
            begin=self._begin_group,
            convert=self._converted,
            committed=self._committed,
            wait_s=busy_timeout_ms / 1000,
        )
        self._writer: SqliteThread | None = None
        self._reader: SqliteThread | None = None
        self._checkpointer: SqliteThread | None = None
        self._commits = 0
        self._checkpointing: asyncio.Task[None] | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self._lost: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, set the PRAGMAs and bring the schema up to date (STORAGE_UNAVAILABLE on failure)."""
        if self._writer is not None:
            return
        make_database_private(self.path)  # before SQLite creates it (and its WAL/SHM) with the umask's 0644
        try:
            self._writer = await self._connect()
            await self._on(self._writer, self._configure_writer)
            await self._on(self._writer, partial(migrate, migrations=bundled_migrations()))
            if self._chain:
                await self._on(self._writer, partial(ledger_rows.open_ledger, signer=self._signer, at=self._now()))
            await self._on(self._writer, _without_busy_handler)  # from now on _begin_immediate waits
            self._reader = await self._connect()
            await self._on(self._reader, self._configure_reader)
            self._checkpointer = await self._connect()
            self._identity = _file_identity(self.path)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await self._groups.close()
        if self._checkpointing is not None:
            await self._checkpointing
        connections = [c for c in (self._checkpointer, self._reader, self._writer) if c is not None]
        self._checkpointer = self._reader = self._writer = None
        for conn in connections:
            await conn.close()

    async def __aenter__(self) -> SqliteRunStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _connect(self) -> SqliteThread:
        try:
            return await SqliteThread.connect(self.path, timeout_s=self._busy_timeout_ms / 1000)
        except sqlite3.Error as exc:
            raise _storage_error(exc) from exc

    def _configure_writer(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, f"cannot use WAL mode on {self.path} ({mode})")
        conn.execute(f"PRAGMA synchronous = {'FULL' if self._durability == 'full' else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_AUTOCHECKPOINT_PAGES}")

    def _configure_reader(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA query_only = ON")

    async def _on(self, conn: SqliteThread | None, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(sqlite3_connection)` on the connection's thread: one hop, whatever fn does."""
        if conn is None:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the run store is not open")
        if self._lost is not None:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, self._lost)

        try:
            return await conn.run(fn)
        except sqlite3.Error as exc:
            raise _storage_error(exc) from exc
        except ConnectionClosed as exc:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the run store is closed") from exc

    def file_problem(self) -> str | None:
        """None while the database file at `path` is the one this store opened; else why not.

        Once the file was deleted or replaced the answer stays: the open connections still point
        at the old file, whatever appears at the path later."""
        if self._lost is None and self._identity is not None:
            try:
                now = _file_identity(self.path)
            except FileNotFoundError:
                now = None
            except OSError as exc:  # e.g. the directory made unreadable: not proof of loss, so no latch
                return f"the database file cannot be checked ({exc.strerror}); try again"
            if now != self._identity:
                what = "deleted" if now is None else "replaced by another file"
                logger.error("database file %s was %s while the server was running; refusing writes", self.path, what)
                self._lost = (
                    f"the database file was {what} while the server was running; every call is refused "
                    "(writes would be lost) until the server is restarted"
                )
        return self._lost

    def _begin_group(self, conn: sqlite3.Connection) -> None:
        """On the writer thread, a group's first hop: BEGIN IMMEDIATE, the lock wait ending at the busy
        timeout. Refused (STORAGE_UNAVAILABLE) once the database file is gone: see the module docstring."""
        problem = self.file_problem()
        if problem is not None:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, problem)
        _begin_immediate(conn, self._busy_timeout_ms / 1000)

    def _converted(self, exc: BaseException) -> BaseException:
        """A failure caught inside a writer-thread job, as the store reports it (like `_on`)."""
        if isinstance(exc, sqlite3.Error):
            return _storage_error(exc)
        if isinstance(exc, ConnectionClosed):
            return WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the run store is closed")
        if isinstance(exc, GroupLost):
            return WorkbenchError(
                ErrorCode.STORAGE_UNAVAILABLE,
                "the run store rolled back a transaction this write shared (see the log); try again",
            )
        return exc

    def _submit_writer(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue `fn(conn)` on the write connection's thread; its future carries the driver's own errors
        (the groups convert them with `_converted`)."""
        if self._writer is None:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the run store is not open")
        if self._lost is not None:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, self._lost)
        try:
            return self._writer.submit(fn)
        except ConnectionClosed as exc:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the run store is closed") from exc

    def _committed(self, writes: int) -> None:
        """Checkpoint the WAL every CHECKPOINT_EVERY committed writes, on a connection of its own: SQLite
        would otherwise do it inside a commit, and its fsync stalls that write for milliseconds."""
        self._commits += max(1, writes)
        idle = self._checkpointing is None or self._checkpointing.done()
        if self._commits >= CHECKPOINT_EVERY and idle:
            self._commits = 0
            self._checkpointing = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        # PASSIVE never waits for readers or writers; frames it cannot copy now go in the next round.
        with contextlib.suppress(WorkbenchError):
            await self._on(self._checkpointer, _checkpoint_passively)

    def _write_context(self, actor: Actor) -> WriteContext:
        at = self._now()
        ledger = LedgerContext(self._signer, at, self._heads) if self._chain else None
        return WriteContext(actor=actor, at=at, state_tag=_new_tag(), limits=self.limits, ledger=ledger)

    # --- mutations ---------------------------------------------------------------------------------------

    @asynccontextmanager
    async def run_transaction(
        self, tenant_id: str, run_id: str, *, expected_revision: int | None = None
    ) -> AsyncIterator[SqliteTransaction]:
        key = (tenant_id, run_id)
        async with self._groups.member(key) as member:
            known = None if self._latest is None else self._latest.get(key)
            # A write sure or likely to read its run row (another process committed since its entry, or there is
            # none: `--workers N` on one file) reads it in the hop that begins the group, when it is the group's
            # first; any other waits for that BEGIN and checks its entry against the group's epoch as before.
            early_read = member.first_hop and (known is None or not member.may_trust(known.epoch))
            if not early_read:
                await member.ready()
            if (
                not early_read
                and known is not None
                and member.trusts(known.epoch)
                and expected_revision in (None, known.state.revision)
            ):
                # Nobody else committed since this store last wrote or read the run (sqlite_group.py): no hop.
                meta, state = _RunMeta(known.state.revision, known.trace_length, known.tag), known.state
            else:
                cached = self._cache.peek(key)
                open_tx = partial(
                    _open_run_tx,
                    key=key,
                    expected_revision=expected_revision,
                    cached_tag=None if cached is None else cached[0],
                )
                meta, stored = await (member.begin_reading if early_read else member.read)(open_tx)
                state = self._state_of(key, meta, stored, cached)
                self._remember(key, member, meta.state_tag, state, meta.trace_length)
            tx = SqliteTransaction(key, meta, state, self._write_context, member.read)
            yield tx  # a failure in the caller's block leaves nothing to undo: its writes are not sent yet
            if not tx.has_rows_to_write:
                return
            finish = partial(
                _finish_run_tx,
                key=key,
                writes=tx.writes,
                previous_tag=meta.state_tag,
                records=tx.records,
                at=self._now(),
                revision=tx.state.revision,
                reviews=tx.reviews,
                review_uses=tx.review_uses,
            )
            await member.write(finish)
            if tx.writes:
                # Before the commit, so that the run's next write in this group finds it; the tag is new and
                # random, so should the commit fail, no row ever carries it and the entry never matches.
                self._cache.put(key, tx.writes[-1].state_tag, tx.state)
                self._remember(key, member, tx.writes[-1].state_tag, tx.state, tx.writes[-1].trace_length)

    def _remember(self, key: Key, member: Member, tag: int, state: RunState, trace_length: int) -> None:
        """What the run's row holds as of this write's group, for the run's next write (`_latest`)."""
        if self._latest is not None and member.epoch is not None:
            self._latest[key] = _Latest(member.epoch, tag, state, trace_length)

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
        """RUN_ID_COLLISION if the tenant already has this run id; LIMIT_EXCEEDED at max_runs_per_tenant.
        `governance` records (the pinned policy) are stored with the run, in its transaction."""
        key = (tenant_id, state.run_id)
        write = row_codec.full_write(state, events, self._write_context(actor))
        create = partial(_create, key=key, write=write, request_id=request_id, limits=self.limits, records=governance)
        async with self._groups.member(key) as member:
            earlier = await member.write(create)
            if earlier is None:
                self._remember(key, member, write.state_tag, state, write.trace_length)
        if earlier is not None:
            return earlier
        self._cache.put(key, write.state_tag, state)
        return state.run_id

    async def replace_run(
        self,
        tenant_id: str,
        state: RunState,
        trace: Sequence[EventJson],
        actor: Actor,
        *,
        expected_revision: int | None = None,
    ) -> None:
        """Upsert the caller's run from a whole state. An existing run's trace, artifact versions and
        audit rows are replaced by the new ones (the audit then names this actor for every event)."""
        key = (tenant_id, state.run_id)
        write = row_codec.full_write(state, trace, self._write_context(actor))
        replace = partial(_replace, key=key, write=write, expected_revision=expected_revision, limits=self.limits)
        async with self._groups.member(key) as member:
            await member.write(replace)
            self._remember(key, member, write.state_tag, state, write.trace_length)
        self._cache.put(key, write.state_tag, state)

    async def delete_run(self, tenant_id: str, run_id: str, *, expected_revision: int | None = None) -> bool:
        """False if the tenant had no such run; REVISION_CONFLICT if expected_revision is given and
        the run is missing or at another revision."""
        key = (tenant_id, run_id)
        async with self._groups.member(key) as member:
            self._cache.drop(key)
            if self._latest is not None:
                self._latest.pop(key, None)
            return await member.write(partial(_delete, key=key, expected_revision=expected_revision))

    # --- reads ---------------------------------------------------------------------------------------

    async def load_state(self, tenant_id: str, run_id: str) -> RunState:
        state, _ = await self._snapshot((tenant_id, run_id), with_state=True, with_trace=False)
        return cast(RunState, state)

    async def load_trace(self, tenant_id: str, run_id: str) -> list[EventJson]:
        return (await self._snapshot((tenant_id, run_id), with_state=False, with_trace=True))[1]

    async def load_run(self, tenant_id: str, run_id: str, *, fresh: bool = False) -> tuple[RunState, list[EventJson]]:
        state, trace = await self._snapshot((tenant_id, run_id), with_state=True, with_trace=True, fresh=fresh)
        return cast(RunState, state), trace

    async def list_runs(self, tenant_id: str, *, limit: int = LIST_LIMIT_DEFAULT, cursor: str | None = None) -> RunPage:
        """Newest first; `limit` clamped to 1..500. The next page starts after this page's last row."""
        size = max(1, min(LIST_LIMIT_MAX, limit))
        after = decode_cursor(cursor) if cursor else _FIRST_PAGE
        read = partial(_read_page, tenant_id=tenant_id, after=after, limit=size + 1)
        rows = await self._on(self._reader, read)
        page = rows[:size]
        items = [row_codec.saved_run_meta(*row[:6]) for row in page]
        more = len(rows) > size
        next_cursor = encode_cursor(PagePosition(page[-1][6], page[-1][0])) if more else None
        return RunPage(items=items, next_cursor=next_cursor)

    async def audit_log(self, tenant_id: str, run_id: str) -> list[AuditRecord]:
        """Who appended each event of the run, in trace order."""
        rows = await self._on(self._reader, partial(_read_audit, key=(tenant_id, run_id)))
        return [AuditRecord(*row) for row in rows]

    async def data_version(self) -> int:
        """SQLite's PRAGMA data_version on the reader: it changes when any other connection (this process's
        writer, another worker process, another tool on the file) commits. One read of the WAL index, no I/O
        on the database pages, so waiters may poll it a few times a second."""
        return await self._on(self._reader, _data_version)

    async def governance_log(self, tenant_id: str, run_id: str) -> list[StoredGovernanceRecord]:
        key = (tenant_id, run_id)
        return await self._on(self._reader, partial(_read_governance, key=key))

    async def record_governance(self, tenant_id: str, run_id: str | None, record: GovernanceRecord) -> None:
        insert = partial(_insert_governance, tenant_id=tenant_id, run_id=run_id or "", record=record, at=self._now())
        async with self._groups.member((tenant_id, run_id or "")) as member:
            await member.write(insert)

    async def review_requests(self, tenant_id: str, run_id: str) -> list[ReviewRequest]:
        return await self._on(self._reader, partial(_read_review_requests, key=(tenant_id, run_id)))

    async def load_state_and_reviews(self, tenant_id: str, run_id: str) -> tuple[RunState, list[ReviewRequest]]:
        key = (tenant_id, run_id)
        cached = self._cache.peek(key)
        read = partial(_read_state_and_reviews, key=key, cached_tag=None if cached is None else cached[0])
        meta, stored, reviews = await self._on(self._reader, read)
        return self._state_of(key, meta, stored, cached), reviews

    async def review_request(self, tenant_id: str, request_id: str, reviewer: str) -> ReviewRequest | None:
        read = partial(review_rows.one, tenant_id=tenant_id, request_id=request_id, reviewer=reviewer)
        return await self._on(self._reader, read)

    # --- ledger ------------------------------------------------------------------------------------------

    async def export_checkpoint(self, tenant_id: str, run_id: str) -> tuple[RunState, ledger_rows.LedgerExport]:
        """Sign an `export` checkpoint and read, in that same transaction, the state, trace, audit rows
        and checkpoints an attestation covers. UNKNOWN_RUN as usual; INVALID_INPUT without a signing key;
        LEDGER_MISMATCH (nothing signed) when the run's rows no longer match their chains or checkpoints."""
        signer = self._signer
        if signer is None or not self._chain:
            raise WorkbenchError(ErrorCode.INVALID_INPUT, "this server has no signing key, so it cannot attest runs")
        key = (tenant_id, run_id)
        at = self._now()

        def body(conn: sqlite3.Connection) -> tuple[StoredState, ledger_rows.LedgerExport]:
            meta = _read_meta(conn, key)
            if meta is None:
                raise _unknown_run(run_id)
            stored = _read_state(conn, key, meta)
            if not ledger_rows.is_linked(conn, key):
                ledger_rows.backfill_run(conn, key, None, at)
            # Never sign rows changed behind the store's back: they must match their links and
            # every signed checkpoint, as `ledger check` would find.
            finding, _ = ledger_scan.check_run(conn, key, meta.trace_length, ledger_scan.database_keys(conn))
            if finding is not None:
                raise WorkbenchError(
                    ErrorCode.LEDGER_MISMATCH,
                    f"run {run_id} no longer matches its ledger at seq {finding.seq} ({finding.problem}); "
                    "it is not attested (see `workbench-mcp ledger check`)",
                )
            export = ledger_rows.export_checkpoint(conn, key, signer, at)
            return stored, export

        async with self._groups.member(key) as member:
            stored, export = await member.write(body)
        return row_codec.decode_state(stored), export

    @property
    def signer(self) -> SigningKey | None:
        return self._signer if self._chain else None

    async def published_keys(self) -> list[dict[str, Any]]:
        """Every public key this database's checkpoints were signed with (JWK), current first."""
        return await self._on(self._reader, ledger_rows.published_keys)

    async def _snapshot(
        self, key: Key, *, with_state: bool, with_trace: bool, fresh: bool = False
    ) -> tuple[RunState | None, list[EventJson]]:
        cached = None if fresh else self._cache.peek(key)
        read = partial(
            _read_snapshot,
            key=key,
            cached_tag=None if cached is None else cached[0],
            with_state=with_state,
            with_trace=with_trace,
        )
        meta, stored, texts = await self._on(self._reader, read)
        state = self._state_of(key, meta, stored, cached) if with_state else None
        return state, _decode_trace(texts)

    def _state_of(
        self, key: Key, meta: _RunMeta, stored: StoredState | None, cached: tuple[int, RunState] | None
    ) -> RunState:
        """The cached state if the row still carries its tag (then nothing was read), else the rows'."""
        if stored is None and cached is not None and cached[0] == meta.state_tag:
            return cached[1]
        if stored is None:
            raise WorkbenchError(ErrorCode.INTERNAL_ERROR, "run state rows were not read")
        state = row_codec.decode_state(stored)
        self._cache.put(key, meta.state_tag, state)
        return state


_FIRST_PAGE = PagePosition(2**63 - 1, "")


def _decode_trace(texts: list[str]) -> list[EventJson]:
    # One parse of the whole array is ~2x faster than one json.loads per event.
    return cast(list[EventJson], row_codec.load_json("[" + ",".join(texts) + "]"))


def _new_tag() -> int:
    return random.getrandbits(63)


def _is_a_run_store(store: SqliteRunStore) -> RunStore:
    """Never called: mypy checks here that SqliteRunStore implements the RunStore protocol."""
    return store
