"""What only the PostgreSQL store has to show beyond the contract suite: replicas (several store instances
on one database) starting and writing at once, the same rows and chain heads as SQLite, text PostgreSQL
cannot hold, and a database restart under load. A real PostgreSQL (tests/postgres_cluster.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.clocks import CountingClock
from tests.ledger.conftest import ALICE as SERVICE_ALICE
from tests.ledger.conftest import gated_run
from tests.postgres_cluster import PostgresCluster
from tests.store.conftest import ALICE, TENANT, busy_run, create, new_run, write
from tests.store.stored_rows import postgres_rows, sqlite_rows
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.protocol.bundle import compute_integrity
from workbench_mcp.service import RunService
from workbench_mcp.store.pg_schema import bundled_pg_migrations
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.run_store import Actor, GovernanceRecord, RunStore, StoreLimits
from workbench_mcp.store.sqlite_store import SqliteRunStore

Opener = Callable[..., Awaitable[PostgresRunStore]]


@pytest.fixture
async def open_pg(postgres_url: str) -> AsyncIterator[Opener]:
    """`await open_pg(**options)`: another store (another replica) on the test's database."""
    opened: list[PostgresRunStore] = []

    async def factory(**options: Any) -> PostgresRunStore:
        store = PostgresRunStore(postgres_url, **options)
        await store.open()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


def pg_rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


async def test_replicas_starting_together_apply_each_migration_once(postgres_url: str) -> None:
    stores = [PostgresRunStore(postgres_url) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        versions = pg_rows(postgres_url, "SELECT version FROM schema_migrations ORDER BY version")
        assert versions == [(m.version,) for m in bundled_pg_migrations()]
        assert len(pg_rows(postgres_url, "SELECT kid FROM ledger_keys")) == 0  # no signer: nothing published
    finally:
        for store in stores:
            await store.close()


async def test_the_same_operations_store_the_same_rows_and_chain_heads_as_sqlite(
    postgres_url: str, tmp_path: Path
) -> None:
    key = SigningKey.generate()
    fixed = "2026-01-01T00:00:00.000Z"
    sqlite_store = SqliteRunStore(tmp_path / "same.db", signer=key, now=lambda: fixed)
    pg_store = PostgresRunStore(postgres_url, signer=key, now=lambda: fixed)
    bundles = []
    for store in (sqlite_store, pg_store):
        await store.open()
        service = RunService(store, clock=CountingClock())
        run_id = await gated_run(service)
        refusal = GovernanceRecord("denied", "user_eve", "resolve_gate", {"why": "nul\x00 \ud800"})
        await store.record_governance(SERVICE_ALICE.tenant_id, run_id, refusal)
        await store.record_governance(SERVICE_ALICE.tenant_id, None, refusal)
        await store.export_checkpoint(SERVICE_ALICE.tenant_id, run_id)
        bundles.append(await service.bundles.export_bundle(SERVICE_ALICE, run_id))
        await store.close()

    expected = sqlite_rows(tmp_path / "same.db")
    assert all(expected[i] for i in (1, 2, 9, 10))  # events, audit, checkpoints, governance: rows to compare
    assert postgres_rows(postgres_url) == expected
    assert compute_integrity(bundles[0]) == compute_integrity(bundles[1])


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the stores' connection threads send, in order: the driver's own Cursor.execute (through
    which Connection.execute goes too), recording each one's first words before it runs as usual."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def recording(cursor: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> psycopg.Cursor[Any]:
        if threading.current_thread().name.startswith("pg-store"):
            sent.append(" ".join(str(query).split()[:4]))
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    return sent


@pytest.mark.parametrize("cache_size", [256, 0])
async def test_a_read_of_a_run_is_one_statement_and_leaves_no_transaction_open(
    open_pg: Opener, statements: list[str], cache_size: int
) -> None:
    """With its state cached or not (cache_size 0: every state read from its rows). A state and reviews
    read of an uncached state still takes a snapshot transaction."""
    store, clock = await open_pg(cache_size=cache_size), CountingClock()
    run_id = await busy_run(store, clock)
    expected = await store.load_run(TENANT, run_id)
    reads: dict[str, Callable[[], Awaitable[Any]]] = {
        "load_state": lambda: store.load_state(TENANT, run_id),
        "load_trace": lambda: store.load_trace(TENANT, run_id),
        "load_run": lambda: store.load_run(TENANT, run_id),
        "load_run fresh": lambda: store.load_run(TENANT, run_id, fresh=True),
    }
    if cache_size:
        reads["load_state_and_reviews"] = lambda: store.load_state_and_reviews(TENANT, run_id)
    for name, read in reads.items():
        statements.clear()
        await read()
        assert len(statements) == 1, (name, statements)
        assert statements[0].startswith(("SELECT", "WITH"))
    assert await store.load_run(TENANT, run_id) == expected


async def test_a_read_after_another_replica_wrote_reads_state_and_trace_from_one_statement(
    open_pg: Opener, statements: list[str]
) -> None:
    reader, writer, clock = await open_pg(), await open_pg(), CountingClock()
    run_id = await busy_run(reader, clock)
    await writer.load_run(TENANT, run_id)
    async with writer.run_transaction(TENANT, run_id) as tx:  # the reader's cached state is stale now
        await write(tx, clock)

    statements.clear()
    state, trace = await reader.load_run(TENANT, run_id)
    sent = list(statements)

    assert (state, trace) == await writer.load_run(TENANT, run_id)
    assert state.revision == len(trace)
    assert len(sent) == 2  # the run row, whose state tag is not the cached one; then state and trace
    assert all(statement.startswith(("SELECT", "WITH")) for statement in sent)
    statements.clear()
    assert await reader.load_run(TENANT, run_id) == (state, trace)  # cached now
    assert len(statements) == 1


async def test_nul_and_the_escape_character_in_keys_round_trip(open_pg: Opener) -> None:
    store, clock = await open_pg(cache_size=0), CountingClock()
    run_id = await create(store, clock)
    keys = ["\x00", "\ufdd0", "\ufdd00", "\ufdd01", "a\ufdd0\x00b", "\ufdd0\ufdd0"]  # distinct after escaping too
    async with store.run_transaction(TENANT, run_id) as tx:
        for key in keys:
            await write(tx, clock, key=key, data={"key": key}, idempotency_key=key + "!")
    state = await store.load_state(TENANT, run_id)
    assert [k for k in state.artifacts if k in keys] == keys
    assert {k: state.artifacts[k].data for k in keys} == {k: {"key": k} for k in keys}
    assert {k + "!" for k in keys} <= set(state.idempotency)


async def test_an_id_with_a_lone_surrogate_is_invalid_input_and_changes_nothing(open_pg: Opener) -> None:
    store, clock = await open_pg(), CountingClock()
    run_id = await create(store, clock)
    with pytest.raises(WorkbenchError) as caught:
        async with store.run_transaction(TENANT, run_id) as tx:
            await write(tx, clock, actor=Actor("user_bob", "write_artifact", correlation_id="\ud800"))
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert (await store.load_state(TENANT, run_id)).revision == 1


@pytest.mark.parametrize("same_replica", [True, False])
async def test_a_write_waiting_past_the_lock_timeout_is_storage_unavailable_and_changes_nothing(
    open_pg: Opener, same_replica: bool
) -> None:
    """Behind a writer of the same run that does not finish: in this process (the in-process queue) or on another
    replica (the run row's lock), the wait ends at lock_timeout_ms; once the first commits, writes go on."""
    holder, clock = await open_pg(lock_timeout_ms=200), CountingClock()
    waiter = holder if same_replica else await open_pg(lock_timeout_ms=200)
    run_id = await create(holder, clock)
    async with holder.run_transaction(TENANT, run_id) as tx:
        await write(tx, clock)
        with pytest.raises(WorkbenchError) as caught:
            async with waiter.run_transaction(TENANT, run_id) as late:
                await write(late, clock)
    assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
    assert "busy" in caught.value.message
    assert (await waiter.load_state(TENANT, run_id)).revision == 2  # the holder's write only
    async with waiter.run_transaction(TENANT, run_id) as tx:
        await write(tx, clock)
    assert (await holder.load_state(TENANT, run_id)).revision == 3


async def test_the_run_quota_holds_under_concurrent_creates_on_two_replicas(open_pg: Opener) -> None:
    limits = StoreLimits(max_runs_per_tenant=3)
    replicas: list[RunStore] = [await open_pg(limits=limits), await open_pg(limits=limits)]
    clocks = [CountingClock() for _ in range(12)]
    for i, clock in enumerate(clocks):
        clock.uuids = i * 1000  # distinct run ids

    async def attempt(i: int) -> str:
        try:
            return await create(replicas[i % 2], clocks[i])
        except WorkbenchError as exc:
            return exc.code.value

    results = await asyncio.gather(*(attempt(i) for i in range(12)))
    assert results.count("LIMIT_EXCEEDED") == 9
    assert len((await replicas[0].list_runs(TENANT)).items) == 3


async def test_a_request_id_retried_at_once_on_two_replicas_starts_one_run(open_pg: Opener) -> None:
    replicas = [await open_pg(), await open_pg()]

    async def start(i: int) -> str:
        clock = CountingClock()
        clock.uuids = i * 1000
        state, events = new_run(clock)
        return await replicas[i % 2].create_run(TENANT, state, events, ALICE, request_id="req-1")

    started = await asyncio.gather(*(start(i) for i in range(8)))
    assert len(set(started)) == 1
    assert len((await replicas[1].list_runs(TENANT)).items) == 1


async def test_a_database_restart_fails_calls_in_flight_and_the_store_recovers_losing_no_acknowledged_write(
    open_pg: Opener, postgres_cluster: PostgresCluster
) -> None:
    store, clock = await open_pg(), CountingClock()
    run_ids = [await create(store, clock) for _ in range(4)]
    acknowledged: dict[str, list[int]] = {run_id: [] for run_id in run_ids}
    failures: list[BaseException] = []
    warmed, restarted = asyncio.Event(), asyncio.Event()

    async def writer(run_id: str) -> None:
        # Writes until well after the restart; a failed write is retried, as a client would.
        successes_after = 0
        while successes_after < 5:
            try:
                async with store.run_transaction(TENANT, run_id) as tx:
                    await write(tx, clock, key="journal")
                acknowledged[run_id].append(tx.state.artifacts["journal"].version)
                if min(len(versions) for versions in acknowledged.values()) >= 5:
                    warmed.set()
                successes_after += restarted.is_set()
            except WorkbenchError as exc:
                failures.append(exc)
                await asyncio.sleep(0.05)
            except BaseException as exc:  # anything else is a bug the assertion below names
                failures.append(exc)
                raise

    async def crash() -> None:
        await warmed.wait()
        await asyncio.to_thread(postgres_cluster.restart, "immediate")
        restarted.set()

    await asyncio.gather(crash(), *(writer(run_id) for run_id in run_ids))
    assert failures, "the restart should have failed some call in flight"
    assert {getattr(exc, "code", exc) for exc in failures} == {ErrorCode.STORAGE_UNAVAILABLE}
    for run_id, versions in acknowledged.items():
        stored = await store.load_trace(TENANT, run_id)
        kept = {e["artifact"]["version"] for e in stored if e["type"] == "artifact_written"}
        assert set(versions) <= kept
        assert versions == sorted(versions)


def test_notify_payloads_carry_ids_only() -> None:
    from workbench_mcp.store.pg_connection import notify_payload
    from workbench_mcp.store.postgres_watch import parse_payload

    payload = notify_payload("org_\x00", "run_\ud800")
    assert json.loads(payload) == ["org_\x00", "run_\ud800"]
    assert parse_payload(payload) == ("org_\x00", "run_\ud800")
    assert parse_payload("not json") is None
