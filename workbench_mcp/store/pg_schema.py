"""Versioned PostgreSQL migrations: `migrations_pg/NNNN_name.sql`, the same versions as SQLite's
`migrations/` in PostgreSQL's dialect, applied in order when a store opens.

Replicas start at the same time, so the whole check-and-apply runs under a session advisory lock
(`pg_advisory_lock`): the first applies the pending migrations, each in one transaction with its
`schema_migrations` row; the others wait, then find nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import psycopg

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.schema import _FILE_NAME, Migration

MIGRATION_LOCK = 0x776F726B62656E63
"""The advisory lock key ("workbenc") held while migrating and opening the ledger."""
TENANT_LOCK = 0x77620001
"""First key of the per-tenant advisory transaction lock (the second is hashtext(tenant_id)): creates,
replaces, refusals and the SQLite copy of one tenant serialize on it."""

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


def bundled_pg_migrations() -> list[Migration]:
    folder = resources.files("workbench_mcp.store").joinpath("migrations_pg")
    found = [
        Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if (match := _FILE_NAME.fullmatch(entry.name)) is not None
    ]
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must be 1..n without gaps: {[m.version for m in found]}")
    return found


def schema_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(found[0]) if found else 0


@contextmanager
def migration_lock(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """MIGRATION_LOCK held by this (autocommit) session for the block: a starting replica's migrate and
    ledger open, or an offline command's (`ledger rotate-key`), one at a time."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def migrate(conn: psycopg.Connection[Any], migrations: list[Migration], *, target: int | None = None) -> int:
    """On an autocommit connection that holds MIGRATION_LOCK: apply every pending migration up to
    `target`; return the resulting version. A database newer than this code is refused."""
    newest = migrations[-1].version if migrations else 0
    goal = newest if target is None else target
    conn.execute(_CREATE_LEDGER)
    current = schema_version(conn)
    if current > newest:
        raise WorkbenchError(
            ErrorCode.STORAGE_UNAVAILABLE,
            f"database schema version {current} is newer than this server supports ({newest})",
        )
    for migration in migrations:
        if current < migration.version <= goal:
            applied_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            with conn.transaction():
                conn.execute(migration.sql.encode("utf-8"))  # no parameters: several statements in one go
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, applied_at),
                )
            current = migration.version
    return current
