"""SQL for the governance side table (migration 0004): each function runs on a connection's thread.

Every row is hash-chained per (tenant, run) by the ledger (migration 0005), in the insert that writes it,
so a denial or an approver cannot be deleted or swapped without breaking the chain (`ledger check`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from workbench_mcp.ledger import store_rows as ledger_rows
from workbench_mcp.store.row_codec import dump_json, load_json
from workbench_mcp.store.run_store import GovernanceRecord, StoredGovernanceRecord

_SELECT_RUN = "SELECT revision FROM runs WHERE tenant_id = ? AND run_id = ?"
_SELECT = """
SELECT id, at, revision, principal, tool, kind, correlation_id, detail_json FROM governance
WHERE tenant_id = ? AND run_id = ? ORDER BY id
"""
_DELETE = "DELETE FROM governance WHERE tenant_id = ? AND run_id = ?"


def insert(
    conn: sqlite3.Connection, key: tuple[str, str], records: Sequence[GovernanceRecord], at: str, revision: int
) -> None:
    """Inside the caller's transaction, for a run known to exist (at `revision` once it commits)."""
    if not records:
        return
    linked = ledger_rows.link_governance(conn, key, [(at, revision, *_columns(r)) for r in records])
    conn.executemany(ledger_rows.INSERT_GOVERNANCE, [(*key, *row) for row in linked])


def insert_if_run(conn: sqlite3.Connection, tenant_id: str, run_id: str, record: GovernanceRecord, at: str) -> None:
    """Inside the caller's write transaction. A refusal naming a run the tenant does not have is kept under
    run_id '' (nothing to attach it to): those form one chain per tenant."""
    found = conn.execute(_SELECT_RUN, (tenant_id, run_id)).fetchone()
    key = (tenant_id, run_id) if found is not None else (tenant_id, "")
    insert(conn, key, [record], at, 0 if found is None else int(found[0]))


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
    record_id, at, revision, principal, tool, kind, correlation_id, detail = row
    return StoredGovernanceRecord(
        id=record_id,
        at=at,
        revision=revision,
        record=GovernanceRecord(kind, principal, tool, load_json(detail), correlation_id),
    )


_SELECT_COMPLETER = """
SELECT a.principal FROM trace_events t
JOIN audit a ON a.tenant_id = t.tenant_id AND a.run_id = t.run_id AND a.seq = t.seq
WHERE t.tenant_id = ? AND t.run_id = ? AND t.type = 'step_completed' AND json_extract(t.event_json, '$.stepId') = ?
ORDER BY t.seq DESC LIMIT 1
"""


def completer(conn: sqlite3.Connection, key: tuple[str, str], step_id: str) -> str | None:
    """Who recorded the step's latest step_completed event (separation of duties), None if nobody did."""
    row = conn.execute(_SELECT_COMPLETER, (*key, step_id)).fetchone()
    return None if row is None else str(row[0])
