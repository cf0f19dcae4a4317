"""One read-only snapshot of a PostgreSQL store's database, for the offline commands (`ledger check|keys`).

The ledger's scan reads rows through the few sqlite3.Connection members pg_connection.PgConnection provides,
so the very code that checks a SQLite file recomputes the chains from PostgreSQL's rows. Every driver error
stops here as a WorkbenchError (one line on the command line, never a traceback).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.pg_connection import PgConnection
from workbench_mcp.store.pg_text import use_nul_safe_text

CONNECT_TIMEOUT_S = 10


@contextmanager
def ledger_snapshot(url: str) -> Iterator[sqlite3.Connection]:
    """The database in one REPEATABLE READ READ ONLY transaction (every run checked as of the same moment),
    typed as the SQLite connection the ledger's functions take. INVALID_INPUT if it has no ledger yet;
    STORAGE_UNAVAILABLE if it cannot be reached or the connection fails."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as raw:
            use_nul_safe_text(raw)
            found = raw.execute("SELECT to_regclass('ledger_runs') IS NOT NULL").fetchone()
            if found is None or not found[0]:
                raise WorkbenchError(
                    ErrorCode.INVALID_INPUT,
                    "the database has no ledger yet: start the server on it once (that chains its runs)",
                )
            raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield PgConnection(raw).as_sqlite()
            raw.execute("ROLLBACK")
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, f"cannot read the PostgreSQL database: {detail}") from None
