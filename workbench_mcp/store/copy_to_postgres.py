"""`workbench-mcp migrate --from PATH.sqlite --to postgresql://...`: copy every tenant's runs from a SQLite
store into a PostgreSQL one, row for row.

What moves, per run, whole and in one PostgreSQL transaction: the run row (its state tag included), trace events
and audit rows with their chain links, every artifact version, the artifact heads, rule sets, idempotency
records, start requests, the ledger's linked mark and signed checkpoints, review requests (and whether
each link was used), and the run's governance rows
(hash-chained, copied in their order). Then each tenant's refusals that named no run, and every published
signing key. Rows are copied as stored, never re-derived, so every run exports the same bundle, and its
chains and checkpoints still verify, on both stores.

Resumable and idempotent: a run already in PostgreSQL with the same state tag (it changes with every trace
write) and as many governance rows, review requests and used review links was copied before and is skipped;
a run there with another tag or other side rows was written on one side after the copy and is reported as a
conflict, never overwritten. Runs are copied in batches of BATCH per transaction
(one insert batch per table), each run whole or not at all, so an interrupted migration is finished by
running it again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.pg_schema import TENANT_LOCK, bundled_pg_migrations, migrate, migration_lock
from workbench_mcp.store.pg_text import use_nul_safe_text
from workbench_mcp.store.schema import bundled_migrations, schema_version

Key = tuple[str, str]

# (table, columns after tenant_id and run_id, order) of every per-run table, parents first.
_RUN_TABLES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "runs",
        (
            "workflow_id", "status", "started_at", "started_us", "ended_at", "tags", "revision", "trace_length",
            "state_tag", "run_json", "engine_json",
        ),
        "run_id",
    ),
    ("trace_events", ("seq", "event_id", "type", "event_json", "link"), "seq"),
    ("audit", ("seq", "event_id", "principal", "tool", "correlation_id", "at", "link"), "seq"),
    ("artifact_versions", ("artifact_key", "version", "artifact_json"), "artifact_key, version"),
    ("artifact_heads", ("artifact_key", "position", "version"), "position"),
    ("rule_sets", ("rule_set_id", "position", "rule_set_json"), "position"),
    (
        "idempotency",
        ("idempotency_key", "position", "artifact_key", "version", "payload_digest"),
        "position",
    ),
    ("start_requests", ("request_id",), "request_id"),
    ("ledger_runs", (), "run_id"),
    ("ledger_checkpoints", ("number", "event_seq", "reason", "envelope"), "number"),
    (
        "review_requests",
        (
            "request_id", "reviewer", "step_id", "gate", "reason", "requested_by", "created_at", "expires_at",
            "used_at", "decision",
        ),
        "created_at, request_id, reviewer",
    ),
    (
        "governance",
        ("at", "revision", "principal", "tool", "kind", "correlation_id", "detail_json", "link"),
        "id",
    ),
)  # fmt: skip
_GOVERNANCE = _RUN_TABLES[-1]


@dataclass
class CopyReport:
    copied: int = 0
    skipped: int = 0
    """Runs already in PostgreSQL with the same state tag (copied by an earlier migration)."""
    conflicts: list[Key] = field(default_factory=list)
    """Runs in PostgreSQL with another state tag: written on one side after the copy, left alone."""
    keys: int = 0


def _open_source(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"{path} is not a SQLite database file")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"{path} is not a workbench database ({exc})") from None
    newest = bundled_migrations()[-1].version
    if version != newest:
        conn.close()
        raise WorkbenchError(
            ErrorCode.INVALID_INPUT,
            f"{path} is at schema version {version}, this code at {newest}: start `workbench-mcp serve --db {path}` "
            "once with this version to upgrade it, then migrate",
        )
    return conn


def _prepare_target(conn: psycopg.Connection[Any]) -> None:
    with migration_lock(conn):
        migrate(conn, bundled_pg_migrations())


def _insert(conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    names = ", ".join(("tenant_id", "run_id", *columns))
    marks = ", ".join(["%s"] * (len(columns) + 2))
    with conn.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def _read(source: sqlite3.Connection, table: str, columns: Sequence[str], order: str, key: Key) -> list[Any]:
    names = ", ".join(("tenant_id", "run_id", *columns))
    sql = f"SELECT {names} FROM {table} WHERE tenant_id = ? AND run_id = ? ORDER BY {order}"
    return source.execute(sql, key).fetchall()


BATCH = 200
"""Runs per PostgreSQL transaction: one insert batch per table for all of them (a run is never split)."""

_LOCK_RUNS = """
SELECT r.tenant_id, r.run_id, r.state_tag FROM runs r
JOIN unnest(%s::text[], %s::text[]) AS k(tenant_id, run_id) ON r.tenant_id = k.tenant_id AND r.run_id = k.run_id
FOR UPDATE OF r
"""


# A run's state tag changes with every trace write, but not with rows written beside the trace: governance
# records (a refusal, a review requested) and review requests and their use. Their counts tell whether a run
# with the same tag on both sides still holds the same side rows.
SideRows = tuple[int, int, int]
_NO_SIDE_ROWS: SideRows = (0, 0, 0)
_SIDE_ROWS_PG = """
SELECT k.tenant_id, k.run_id,
    (SELECT COUNT(*) FROM governance g WHERE g.tenant_id = k.tenant_id AND g.run_id = k.run_id),
    (SELECT COUNT(*) FROM review_requests q WHERE q.tenant_id = k.tenant_id AND q.run_id = k.run_id),
    (SELECT COUNT(used_at) FROM review_requests q WHERE q.tenant_id = k.tenant_id AND q.run_id = k.run_id)
FROM unnest(%s::text[], %s::text[]) AS k(tenant_id, run_id)
"""
_SIDE_ROWS_SQLITE = """
SELECT (SELECT COUNT(*) FROM governance WHERE tenant_id = ?1 AND run_id = ?2),
    (SELECT COUNT(*) FROM review_requests WHERE tenant_id = ?1 AND run_id = ?2),
    (SELECT COUNT(used_at) FROM review_requests WHERE tenant_id = ?1 AND run_id = ?2)
"""


def _side_rows_pg(target: psycopg.Connection[Any], keys: list[Key]) -> dict[Key, SideRows]:
    if not keys:
        return {}
    rows = target.execute(_SIDE_ROWS_PG, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()
    return {(t, r): (int(g), int(q), int(u)) for t, r, g, q, u in rows}


def _side_rows_sqlite(source: sqlite3.Connection, key: Key) -> SideRows:
    g, q, u = source.execute(_SIDE_ROWS_SQLITE, key).fetchone()
    return int(g), int(q), int(u)


def _copy_batch(
    source: sqlite3.Connection, target: psycopg.Connection[Any], runs: list[tuple[str, str, int]]
) -> list[str]:
    """Per run "copied", "skipped" or "conflict"; each run's rows are read in one SQLite snapshot."""
    source.execute("BEGIN")
    try:
        with target.transaction():
            for tenant_id in sorted({tenant_id for tenant_id, _, _ in runs}):
                target.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (TENANT_LOCK, tenant_id))
            tenants, run_ids = [r[0] for r in runs], [r[1] for r in runs]
            present = {(t, r): tag for t, r, tag in target.execute(_LOCK_RUNS, (tenants, run_ids)).fetchall()}
            same = [(t, r) for t, r, tag in runs if present.get((t, r)) == tag]
            side = _side_rows_pg(target, same)
            outcomes = [
                "copied"
                if (t, r) not in present
                else "skipped"
                if present[(t, r)] == tag and side.get((t, r), _NO_SIDE_ROWS) == _side_rows_sqlite(source, (t, r))
                else "conflict"
                for t, r, tag in runs
            ]
            new = [(t, r) for (t, r, _), outcome in zip(runs, outcomes, strict=True) if outcome == "copied"]
            for table, columns, order in _RUN_TABLES:
                rows = [row for key in new for row in _read(source, table, columns, order, key)]
                _insert(target, table, columns, rows)
    finally:
        source.execute("ROLLBACK")
    return outcomes


def _copy_tenant_refusals(source: sqlite3.Connection, target: psycopg.Connection[Any], tenant_id: str) -> bool:
    """Refusals naming no run form one chain per tenant: copied once, if PostgreSQL has none yet."""
    table, columns, order = _GOVERNANCE
    key = (tenant_id, "")
    with target.transaction():
        target.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (TENANT_LOCK, tenant_id))
        present = target.execute(
            "SELECT COUNT(*) FROM governance WHERE tenant_id = %s AND run_id = ''", (tenant_id,)
        ).fetchone()
        rows = _read(source, table, columns, order, key)
        if present is not None and present[0] > 0:
            return int(present[0]) == len(rows)
        _insert(target, table, columns, rows)
    return True


def copy_sqlite_to_postgres(
    sqlite_path: Path, url: str, *, progress: Callable[[CopyReport], None] | None = None
) -> CopyReport:
    """Copy every run (see the module docstring); `progress` is called after every batch."""
    source = _open_source(sqlite_path)
    report = CopyReport()
    try:
        with psycopg.connect(url, autocommit=True) as target:
            use_nul_safe_text(target)
            _prepare_target(target)
            with target.cursor() as cursor:
                keys = source.execute("SELECT kid, jwk, added_at, retired_at FROM ledger_keys").fetchall()
                cursor.executemany(
                    "INSERT INTO ledger_keys (kid, jwk, added_at, retired_at) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (kid) DO NOTHING",
                    keys,
                )
                report.keys = len(keys)
            runs = source.execute("SELECT tenant_id, run_id, state_tag FROM runs ORDER BY tenant_id, run_id").fetchall()
            for start in range(0, len(runs), BATCH):
                batch = runs[start : start + BATCH]
                for (tenant_id, run_id, _), outcome in zip(batch, _copy_batch(source, target, batch), strict=True):
                    if outcome == "copied":
                        report.copied += 1
                    elif outcome == "skipped":
                        report.skipped += 1
                    else:
                        report.conflicts.append((tenant_id, run_id))
                if progress is not None:
                    progress(report)
            tenants = source.execute("SELECT DISTINCT tenant_id FROM governance WHERE run_id = ''").fetchall()
            for (tenant_id,) in tenants:
                if not _copy_tenant_refusals(source, target, tenant_id):
                    report.conflicts.append((tenant_id, ""))
    except psycopg.OperationalError as exc:
        raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, f"cannot reach the PostgreSQL database: {exc}") from None
    finally:
        source.close()
    return report
