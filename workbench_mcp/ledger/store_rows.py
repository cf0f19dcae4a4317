"""The ledger's rows in SQLite: called on the store's connection thread, inside its transactions.

An append reads the run's heads (one primary-key lookup), links only the new rows and upserts the
heads: O(rows written), never O(trace). Links are computed from the stored JSON text, parsed back,
so they cover exactly the events a bundle export will carry.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench_mcp.ledger import chain
from workbench_mcp.ledger.checkpoints import Heads, Reason, reason_for, sign_checkpoint
from workbench_mcp.ledger.context import LedgerContext
from workbench_mcp.ledger.keys import SigningKey

Key = tuple[str, str]

AUDIT_COLUMNS = ("seq", "event_id", "principal", "tool", "correlation_id", "at")
"""The audit row members `row_codec._audit_rows` writes, in its order (after tenant and run)."""

LEDGER_TABLES = ("ledger_links", "ledger_heads", "ledger_checkpoints")

_SELECT_HEADS = (
    "SELECT event_seq, event_head, audit_seq, audit_head FROM ledger_heads WHERE tenant_id = ? AND run_id = ?"
)
_UPSERT_HEADS = """
INSERT INTO ledger_heads (tenant_id, run_id, event_seq, event_head, audit_seq, audit_head) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant_id, run_id) DO UPDATE SET event_seq = excluded.event_seq, event_head = excluded.event_head,
    audit_seq = excluded.audit_seq, audit_head = excluded.audit_head
"""
_INSERT_LINK = "INSERT INTO ledger_links (tenant_id, run_id, stream, seq, link) VALUES (?, ?, ?, ?, ?)"
_INSERT_CHECKPOINT = """
INSERT INTO ledger_checkpoints (tenant_id, run_id, number, event_seq, reason, envelope)
VALUES (?, ?, (SELECT COALESCE(MAX(number), 0) + 1 FROM ledger_checkpoints WHERE tenant_id = ? AND run_id = ?), ?, ?, ?)
"""
_SELECT_CHECKPOINTS = "SELECT envelope FROM ledger_checkpoints WHERE tenant_id = ? AND run_id = ? ORDER BY number"

_EMPTY = Heads(0, chain.GENESIS, 0, chain.GENESIS)


def read_heads(conn: sqlite3.Connection, key: Key) -> Heads | None:
    row = conn.execute(_SELECT_HEADS, key).fetchone()
    return None if row is None else Heads(*row)


def record_write(
    conn: sqlite3.Connection,
    key: Key,
    ledger: LedgerContext,
    events: Sequence[tuple[Any, ...]],
    event_values: Sequence[dict[str, Any]],
    audit: Sequence[tuple[Any, ...]],
    *,
    whole_run: bool,
    replaced: bool,
) -> None:
    """Extend the run's chains by the rows just inserted; sign a checkpoint if they call for one.

    `events` rows are (seq, event id, type, event JSON) and `event_values` the same events as values
    (what the JSON text parses back to: hashing them saves a parse per event); `audit` rows are
    AUDIT_COLUMNS. `whole_run`: these rows are the run's whole trace (create or import), so the
    chains start over."""
    heads = _EMPTY if whole_run else read_heads(conn, key)
    if heads is None:  # stored before the ledger, or by a store with the chain off: link it all now
        backfill_run(conn, key, None, ledger.at)
        return
    reasons: list[Reason] = []
    event_head, audit_head = heads.event_head, heads.audit_head
    rows: list[tuple[Any, ...]] = []
    for (seq, *_), event in zip(events, event_values, strict=True):
        event_head = chain.stored_link(event_head, event)
        rows.append((*key, "event", seq, event_head))
        reason = reason_for(event)
        if reason is not None:
            reasons.append(reason)
    for row in audit:
        audit_head = chain.audit_link(audit_head, dict(zip(AUDIT_COLUMNS, row, strict=True)))
        rows.append((*key, "audit", row[0], audit_head))
    if rows:
        conn.executemany(_INSERT_LINK, rows)
    new_heads = Heads(
        events[-1][0] if events else heads.event_seq,
        event_head,
        audit[-1][0] if audit else heads.audit_seq,
        audit_head,
    )
    conn.execute(_UPSERT_HEADS, (*key, new_heads.event_seq, new_heads.event_head, new_heads.audit_seq, audit_head))
    if replaced:
        reasons.append("import")
    if ledger.signer is not None and reasons:
        add_checkpoint(conn, key, ledger.signer, new_heads, ledger.at, reasons[-1])


def add_checkpoint(
    conn: sqlite3.Connection, key: Key, signer: SigningKey, heads: Heads, at: str, reason: str
) -> dict[str, Any]:
    envelope = sign_checkpoint(signer, key[0], key[1], heads, at, reason)
    conn.execute(_INSERT_CHECKPOINT, (*key, *key, heads.event_seq, reason, json.dumps(envelope)))
    return envelope


def read_checkpoints(conn: sqlite3.Connection, key: Key) -> list[dict[str, Any]]:
    return [json.loads(row[0]) for row in conn.execute(_SELECT_CHECKPOINTS, key)]


def audit_rows(conn: sqlite3.Connection, key: Key) -> list[dict[str, Any]]:
    """Every audit column by name (columns added later included), in seq order."""
    cursor = conn.execute("SELECT * FROM audit WHERE tenant_id = ? AND run_id = ? ORDER BY seq", key)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def backfill_run(conn: sqlite3.Connection, key: Key, signer: SigningKey | None, at: str) -> Heads:
    """Compute a run's chains from its stored rows (once: runs stored before the ledger existed),
    with a checkpoint that says so."""
    for table in ("ledger_links", "ledger_heads"):
        conn.execute(f"DELETE FROM {table} WHERE tenant_id = ? AND run_id = ?", key)
    event_head = audit_head = chain.GENESIS
    event_seq = audit_seq = 0
    rows: list[tuple[Any, ...]] = []
    query = "SELECT seq, event_json FROM trace_events WHERE tenant_id = ? AND run_id = ? ORDER BY seq"
    for event_seq, text in conn.execute(query, key):
        event_head = chain.link(event_head, json.loads(text))
        rows.append((*key, "event", event_seq, event_head))
    for record in audit_rows(conn, key):
        audit_seq = int(record["seq"])
        audit_head = chain.audit_link(audit_head, record)
        rows.append((*key, "audit", audit_seq, audit_head))
    conn.executemany(_INSERT_LINK, rows)
    heads = Heads(event_seq, event_head, audit_seq, audit_head)
    conn.execute(_UPSERT_HEADS, (*key, heads.event_seq, heads.event_head, heads.audit_seq, heads.audit_head))
    if signer is not None:
        add_checkpoint(conn, key, signer, heads, at, "migration")
    return heads


def open_ledger(conn: sqlite3.Connection, signer: SigningKey | None, at: str) -> int:
    """At store open, in one write transaction: publish the signing key (retiring the previous one)
    and link every run that has no chain yet. Returns how many runs were linked."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if signer is not None:
            register_key(conn, signer, at)
        pending = conn.execute(
            "SELECT tenant_id, run_id FROM runs r WHERE NOT EXISTS "
            "(SELECT 1 FROM ledger_heads h WHERE h.tenant_id = r.tenant_id AND h.run_id = r.run_id)"
        ).fetchall()
        for tenant_id, run_id in pending:
            backfill_run(conn, (tenant_id, run_id), signer, at)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(pending)


def register_key(conn: sqlite3.Connection, signer: SigningKey, at: str) -> None:
    known = conn.execute("SELECT retired_at FROM ledger_keys WHERE kid = ?", (signer.kid,)).fetchone()
    if known is not None and known[0] is None:
        return  # already the current key
    conn.execute("UPDATE ledger_keys SET retired_at = ? WHERE retired_at IS NULL AND kid != ?", (at, signer.kid))
    conn.execute(
        "INSERT INTO ledger_keys (kid, jwk, added_at, retired_at) VALUES (?, ?, ?, NULL) "
        "ON CONFLICT (kid) DO UPDATE SET retired_at = NULL",
        (signer.kid, json.dumps(signer.jwk), at),
    )


def published_keys(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every key ever registered, current first, then the retired ones newest first."""
    rows = conn.execute(
        "SELECT jwk FROM ledger_keys ORDER BY retired_at IS NOT NULL, retired_at DESC, added_at DESC"
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


@dataclass(frozen=True, slots=True)
class LedgerExport:
    """What an attestation needs, read in the transaction that signed its export checkpoint."""

    heads: Heads
    trace_texts: list[str]
    audit: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]


def export_checkpoint(conn: sqlite3.Connection, key: Key, signer: SigningKey, at: str) -> LedgerExport:
    """Sign an `export` checkpoint at the run's heads and read everything an attestation covers."""
    heads = read_heads(conn, key) or backfill_run(conn, key, None, at)
    add_checkpoint(conn, key, signer, heads, at, "export")
    query = "SELECT event_json FROM trace_events WHERE tenant_id = ? AND run_id = ? ORDER BY seq"
    texts = [row[0] for row in conn.execute(query, key)]
    return LedgerExport(heads, texts, audit_rows(conn, key), read_checkpoints(conn, key))
