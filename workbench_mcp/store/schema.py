"""Versioned schema migrations: `migrations/NNNN_name.sql`, applied in order when a store opens.

Each pending migration runs inside one `BEGIN IMMEDIATE` transaction together with its
`schema_migrations` row, so an upgrade is all-or-nothing and two processes opening the same
old database at once apply it exactly once (the second waits, then finds nothing to do).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from workbench_mcp.errors import ErrorCode, WorkbenchError

_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def bundled_migrations() -> list[Migration]:
    """The package's migrations in version order; versions must run 1, 2, 3 ... without gaps."""
    folder = resources.files("workbench_mcp.store").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is not None:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must be 1..n without gaps: {[m.version for m in found]}")
    return found


def split_statements(script: str) -> list[str]:
    """One string per SQL statement. `executescript` would COMMIT first, which defeats running a
    migration inside our own transaction; `complete_statement` understands triggers' inner `;`."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements  # a trailing remainder can only be comments


def schema_version(conn: sqlite3.Connection) -> int:
    """0 for a database no migration has touched."""
    ledger = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if ledger is None:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, migrations: list[Migration], *, target: int | None = None) -> int:
    """Apply every migration above the database's version up to `target` (default: all); return the
    resulting version. A database newer than this code is refused rather than misread."""
    newest = migrations[-1].version if migrations else 0
    goal = newest if target is None else target
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_CREATE_LEDGER)
        current = schema_version(conn)
        if current > newest:
            raise WorkbenchError(
                ErrorCode.STORAGE_UNAVAILABLE,
                f"database schema version {current} is newer than this server supports ({newest})",
            )
        for migration in migrations:
            if current < migration.version <= goal:
                _apply(conn, migration)
                current = migration.version
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return current


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    for statement in split_statements(migration.sql):
        conn.execute(statement)
    applied_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, applied_at),
    )
