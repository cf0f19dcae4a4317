"""Store builders that drive the real engine to produce states and events (any RunStore), and the
fixtures of the SQLite-specific tests: a real SQLite file under tmp_path (WAL, locks and crash
recovery exist only on disk). The backend-parametrized contract suite is in contract/."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.clocks import CountingClock
from workbench_mcp.engine import gates, rules, steps, telemetry
from workbench_mcp.engine.artifacts import patch_artifact, write_artifact
from workbench_mcp.engine.lifecycle import StartRun, start_run
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.protocol.reference_workflow import DEFAULT_RULE_SET, JOB_SEARCH_WORKFLOW
from workbench_mcp.store.run_store import Actor, EventJson, RunStore, RunTransaction
from workbench_mcp.store.sqlite_store import SqliteRunStore

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


async def create(store: RunStore, clock: CountingClock, tenant: str = TENANT, **start: Any) -> str:
    state, events = new_run(clock, **start)
    return await store.create_run(tenant, state, events, ALICE)


async def write(
    tx: RunTransaction,
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
    store: RunStore,
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


async def write_once(store: RunStore, clock: CountingClock, run_id: str, **kw: Any) -> list[EventJson]:
    async with store.run_transaction(TENANT, run_id) as tx:
        return await write(tx, clock, **kw)


async def busy_run(store: RunStore, clock: CountingClock) -> str:
    """A run that went through most kinds of operation, so every table and map has entries."""
    run_id = await create(store, clock, tags=["blue"], metadata={"owner": "qa"})
    await mutate(store, clock, run_id, gates.resolve_gate, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    await mutate(store, clock, run_id, steps.begin_step, step_id="parser1")
    await mutate(store, clock, run_id, telemetry.begin_span, name="parse", step_id="parser1")
    for key in ("compiledProfile", "notes", "compiledProfile"):
        await mutate(
            store,
            clock,
            run_id,
            write_artifact,
            artifact_key=key,
            type_id="t",
            data={"k": key},
            idempotency_key=f"w-{key}-{clock.ticks}",
        )
    await mutate(
        store, clock, run_id, patch_artifact, artifact_key="notes", patch=[{"op": "add", "path": "/x", "value": 1}]
    )
    await mutate(store, clock, run_id, rules.reorder_rules, rule_set_id="default", ordered_rule_ids=["r2", "r1"])
    new_set = {"id": "extra", "ruleSchemaId": "demoJobRule", "rules": []}
    await mutate(store, clock, run_id, rules.replace_rule_set, rule_set=new_set)
    await mutate(store, clock, run_id, steps.complete_step, step_id="parser1")
    await mutate(store, clock, run_id, telemetry.annotate, text="looks good")
    return run_id  # fmt: skip


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
