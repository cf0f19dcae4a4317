"""A PostgreSQL store's database for the offline commands: one read-only snapshot (`ledger check|keys`), or
the migrated database under the migration lock (`ledger rotate-key`).

The ledger's functions read and write rows through the few sqlite3.Connection members
pg_connection.PgConnection provides, so the very code that checks or rotates on a SQLite file does it on
PostgreSQL's rows. Every driver error stops here as a WorkbenchError (one line on the command line, never a
traceback).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.pg_connection import PgConnection
from workbench_mcp.store.pg_schema import bundled_pg_migrations, migrate, migration_lock
from workbench_mcp.store.pg_text import use_nul_safe_text

CONNECT_TIMEOUT_S = 10


@contextmanager
def _connected(url: str, doing: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection; STORAGE_UNAVAILABLE ("cannot `doing` the PostgreSQL database: ...") if it
    cannot be reached or fails."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as raw:
            use_nul_safe_text(raw)
            yield raw
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = f"cannot {doing} the PostgreSQL database: {detail}"
        raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, message) from None


@contextmanager
def ledger_snapshot(url: str) -> Iterator[sqlite3.Connection]:
    """The database in one REPEATABLE READ READ ONLY transaction (every run checked as of the same moment),
    typed as the SQLite connection the ledger's functions take. INVALID_INPUT if it has no ledger yet;
    STORAGE_UNAVAILABLE if it cannot be reached or the connection fails."""
    with _connected(url, "read") as raw:
        found = raw.execute("SELECT to_regclass('ledger_runs') IS NOT NULL").fetchone()
        if found is None or not found[0]:
            raise WorkbenchError(
                ErrorCode.INVALID_INPUT,
                "the database has no ledger yet: start the server on it once (that chains its runs)",
            )
        raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield PgConnection(raw).as_sqlite()
        raw.execute("ROLLBACK")


@contextmanager
def migrated_database(url: str) -> Iterator[sqlite3.Connection]:
    """The database migrated to this code's schema, holding the migration lock until the block ends (a replica
    starting meanwhile registers its key after, never in the middle of, the block's transaction); typed as the
    SQLite connection the ledger's functions take, which begin and commit their own transactions."""
    with _connected(url, "write") as raw, migration_lock(raw):
        migrate(raw, bundled_pg_migrations())
        yield PgConnection(raw).as_sqlite()
