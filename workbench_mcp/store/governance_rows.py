"""SQL for the governance side table (migration 0003): each function runs on a connection's thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from workbench_mcp.store.row_codec import dump_json, load_json
from workbench_mcp.store.run_store import GovernanceRecord, StoredGovernanceRecord

_INSERT = """
INSERT INTO governance (tenant_id, run_id, at, principal, tool, kind, correlation_id, detail_json)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
# A refusal naming a run the tenant does not have is kept under run_id '' (nothing to attach it to).
_INSERT_IF_RUN = """
INSERT INTO governance (tenant_id, run_id, at, principal, tool, kind, correlation_id, detail_json)
SELECT ?, CASE WHEN EXISTS (SELECT 1 FROM runs WHERE tenant_id = ? AND run_id = ?) THEN ? ELSE '' END,
       ?, ?, ?, ?, ?, ?
"""
_SELECT = """
SELECT id, at, principal, tool, kind, correlation_id, detail_json FROM governance
WHERE tenant_id = ? AND run_id = ? ORDER BY id
"""
_DELETE = "DELETE FROM governance WHERE tenant_id = ? AND run_id = ?"


def insert(conn: sqlite3.Connection, key: tuple[str, str], records: Sequence[GovernanceRecord], at: str) -> None:
    """Inside the caller's transaction, for a run known to exist."""
    conn.executemany(_INSERT, [(*key, at, *_columns(r)) for r in records])


def insert_if_run(conn: sqlite3.Connection, tenant_id: str, run_id: str, record: GovernanceRecord, at: str) -> None:
    conn.execute(_INSERT_IF_RUN, (tenant_id, tenant_id, run_id, run_id, at, *_columns(record)))


def select(conn: sqlite3.Connection, key: tuple[str, str]) -> list[StoredGovernanceRecord]:
    return [_decode(row) for row in conn.execute(_SELECT, key)]


def delete(conn: sqlite3.Connection, key: tuple[str, str]) -> None:
    conn.execute(_DELETE, key)


def _columns(record: GovernanceRecord) -> tuple[Any, ...]:
    return (
        record.principal,
        record.tool,
        record.kind,
        record.correlation_id,
        dump_json(record.detail),
    )


def _decode(row: Any) -> StoredGovernanceRecord:
    record_id, at, principal, tool, kind, correlation_id, detail = row
    return StoredGovernanceRecord(
        id=record_id,
        at=at,
        record=GovernanceRecord(kind, principal, tool, load_json(detail), correlation_id),
    )
