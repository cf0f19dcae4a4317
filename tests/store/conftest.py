"""Store fixtures: a real SQLite file under tmp_path (WAL, locks and crash recovery exist only on
disk), and small builders that drive the real engine to produce states and events."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.clocks import CountingClock
from workbench_mcp.engine.artifacts import write_artifact
from workbench_mcp.engine.lifecycle import StartRun, start_run
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.protocol.reference_workflow import DEFAULT_RULE_SET, JOB_SEARCH_WORKFLOW
from workbench_mcp.store.run_store import Actor, EventJson
from workbench_mcp.store.sqlite_store import SqliteRunStore, SqliteTransaction

TENANT = "org_acme"
OTHER_TENANT = "org_globex"
ALICE = Actor(principal="user_alice", tool="start_run", correlation_id="corr-1")
BOB = Actor(principal="user_bob", tool="write_artifact")

_COUNTER: Any = object()  # default data: {"n": revision}, so consecutive writes differ

StoreFactory = Callable[..., Awaitable[SqliteRunStore]]


def new_run(clock: CountingClock, **start: Any) -> tuple[RunState, list[EventJson]]:
    """A started job-search run with its default rule set: the state and its first events."""
    command = StartRun(workflow=JOB_SEARCH_WORKFLOW, rule_sets=[DEFAULT_RULE_SET], **start)
    outcome = start_run(clock, command)
    return outcome.state, [e.model_dump(mode="json") for e in outcome.events]


async def create(store: SqliteRunStore, clock: CountingClock, tenant: str = TENANT, **start: Any) -> str:
    state, events = new_run(clock, **start)
    return await store.create_run(tenant, state, events, ALICE)


async def write(
    tx: SqliteTransaction,
    clock: CountingClock,
    *,
    key: str = "draft",
    data: Any = _COUNTER,
    idempotency_key: str | None = None,
    actor: Actor = BOB,
) -> list[EventJson]:
    """One write_artifact through the engine, appended to `tx`; returns the dumped events."""
    outcome = write_artifact(
        tx.state,
        clock,
        artifact_key=key,
        type_id="note",
        data={"n": tx.state.revision} if data is _COUNTER else data,
        idempotency_key=idempotency_key,
    )
    events = [e.model_dump(mode="json") for e in outcome.events]
    await tx.append(outcome.state, events, actor)
    return events


async def mutate(
    store: SqliteRunStore,
    clock: CountingClock,
    run_id: str,
    operation: Callable[..., Outcome],
    *,
    tenant: str = TENANT,
    actor: Actor = BOB,
    **kwargs: Any,
) -> Outcome:
    """Any engine operation on a stored run, the way the service does it: one transaction."""
    async with store.run_transaction(tenant, run_id) as tx:
        outcome = operation(tx.state, clock, **kwargs)
        if outcome.events:
            await tx.append(outcome.state, [e.model_dump(mode="json") for e in outcome.events], actor)
    return outcome


async def write_once(store: SqliteRunStore, clock: CountingClock, run_id: str, **kw: Any) -> list[EventJson]:
    async with store.run_transaction(TENANT, run_id) as tx:
        return await write(tx, clock, **kw)


def db_rows(path: Path, sql: str, *params: Any) -> list[Any]:
    """A plain read of the file, beside the store, for what the store API does not show."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
async def open_store(db_path: Path) -> AsyncIterator[StoreFactory]:
    """`await open_store(**options)`: another opened store on the same file, closed after the test."""
    opened: list[SqliteRunStore] = []

    async def factory(**options: Any) -> SqliteRunStore:
        store = SqliteRunStore(options.pop("path", db_path), **options)
        await store.open()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: StoreFactory) -> SqliteRunStore:
    return await open_store()
