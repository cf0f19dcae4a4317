"""Store backends the contract suite runs against (tests/store/contract). Adding a backend means
adding a class here and its name to BACKENDS; the contract tests themselves do not change.

A backend opens stores on one storage (a file, a database) and offers the few looks beside the
store API the contract needs: rows the API does not show (kept versions, deleted rows), an
integrity check, fast bulk copies of a run for listing tests, and the child process of the
crash test."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest

from tests.postgres_cluster import PostgresCluster
from workbench_mcp.store.pg_connection import translate
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.run_store import RunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore


class StoreBackend(Protocol):
    name: str

    async def open(self, **options: Any) -> RunStore:
        """Another opened store on the same storage, closed by `close()`. Options every backend takes:
        `limits` (StoreLimits), `cache_size` (0: every state decoded from storage) and `now` (audit clock)."""
        ...

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """A plain read of the storage beside the store (SQL over the shared table names, `?` parameters)."""
        ...

    def integrity_problems(self) -> list[Any]:
        """What the storage's own consistency checks report; [] when sound."""
        ...

    def copy_run(self, tenant_id: str, run_id: str, copies: int) -> None:
        """`copies` more runs that are copies of the given one, each started a microsecond later."""
        ...

    def writer_command(self, run_id: str) -> list[str]:
        """argv of a process that writes to the run forever (tests.store.crash_writer)."""
        ...

    async def close(self) -> None: ...


class SqliteBackend:
    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "runs.db"
        self._opened: list[SqliteRunStore] = []

    async def open(self, **options: Any) -> SqliteRunStore:
        store = SqliteRunStore(self.path, **options)
        await store.open()
        self._opened.append(store)
        return store

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as conn:
            return conn.execute(sql, params).fetchall()

    def integrity_problems(self) -> list[Any]:
        problems = [row for row in self.rows("PRAGMA integrity_check") if row != ("ok",)]
        return problems + self.rows("PRAGMA foreign_key_check")

    def copy_run(self, tenant_id: str, run_id: str, copies: int) -> None:
        with sqlite3.connect(self.path) as conn:  # copies of one real row: the listing only reads the row
            conn.execute(
                """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                INSERT INTO runs SELECT tenant_id, run_id || '_' || i, workflow_id, status, started_at,
                    started_us + i, ended_at, tags, revision, trace_length, state_tag, run_json, engine_json
                FROM runs, n WHERE tenant_id = ? AND run_id = ?
                """,
                (copies, tenant_id, run_id),
            )

    def writer_command(self, run_id: str) -> list[str]:
        return [sys.executable, "-m", "tests.store.crash_writer", self.name, str(self.path), run_id]

    async def close(self) -> None:
        for store in self._opened:
            await store.close()


class PostgresBackend:
    """A fresh database on the session's throwaway cluster (tests/postgres_cluster.py)."""

    name = "postgresql"

    def __init__(self, cluster: PostgresCluster) -> None:
        self.url = cluster.new_database()
        self._opened: list[PostgresRunStore] = []

    async def open(self, **options: Any) -> PostgresRunStore:
        store = PostgresRunStore(self.url, **options)
        await store.open()
        self._opened.append(store)
        return store

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        text, order = translate(sql, False)
        with psycopg.connect(self.url) as conn:
            return conn.execute(text, params if order is None else [params[i] for i in order]).fetchall()

    def integrity_problems(self) -> list[Any]:
        # PostgreSQL enforces the keys itself; what it cannot see is a quota counter that drifted from the runs.
        return self.rows(
            "SELECT c.tenant_id, c.run_count, COUNT(r.run_id) FROM tenant_run_counts c"
            " LEFT JOIN runs r ON r.tenant_id = c.tenant_id GROUP BY c.tenant_id, c.run_count"
            " HAVING c.run_count <> COUNT(r.run_id)"
        )

    def copy_run(self, tenant_id: str, run_id: str, copies: int) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute(
                """
                INSERT INTO runs SELECT tenant_id, run_id || '_' || i, workflow_id, status, started_at,
                    started_us + i, ended_at, tags, revision, trace_length, state_tag, run_json, engine_json
                FROM runs, generate_series(1, %s) AS i WHERE tenant_id = %s AND run_id = %s
                """,
                (copies, tenant_id, run_id),
            )

    def writer_command(self, run_id: str) -> list[str]:
        return [sys.executable, "-m", "tests.store.crash_writer", self.name, self.url, run_id]

    async def close(self) -> None:
        for store in self._opened:
            await store.close()


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], StoreBackend]] = {
    "sqlite": lambda folder, _: SqliteBackend(folder),
    "postgresql": lambda _, request: PostgresBackend(request.getfixturevalue("postgres_cluster")),
}
"""Backend name -> a backend on fresh storage (a temporary folder; the test's request, for session fixtures)."""


async def open_at(backend: str, location: str) -> RunStore:
    """A store of the named backend at `location` (what writer_command passes to the child)."""
    if backend == "sqlite":
        store = SqliteRunStore(location)
        await store.open()
        return store
    if backend == "postgresql":
        pg_store = PostgresRunStore(location)
        await pg_store.open()
        return pg_store
    raise ValueError(f"unknown backend {backend!r}")
