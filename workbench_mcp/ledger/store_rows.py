"""The ledger's rows in SQLite: called on the store's connection thread, inside its transactions.

Each trace event and audit row carries its chain link in a `link` column, written by the same insert
as the row. An append looks up the previous links (two primary-key reads) and links only the new rows:
O(rows written), never O(trace), and no extra page per commit.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from workbench_mcp.ledger import chain
from workbench_mcp.ledger.checkpoints import Heads, Reason, reason_for, sign_checkpoint
from workbench_mcp.ledger.context import HeadsCache, LedgerContext
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.protocol.canonical_json import MAX_SAFE_INTEGER

Key = tuple[str, str]
Row = tuple[Any, ...]

AUDIT_COLUMNS = ("seq", "event_id", "principal", "tool", "correlation_id", "at")
"""The audit row members `row_codec._audit_rows` writes, in its order (after tenant and run)."""

LEDGER_TABLES = ("ledger_checkpoints",)
"""Per-run ledger rows a whole-run replace clears (the run stays linked: its new rows link from the start)."""

INSERT_EVENTS = """
INSERT INTO trace_events (tenant_id, run_id, seq, event_id, type, event_json, link) VALUES (?, ?, ?, ?, ?, ?, ?)
"""
INSERT_AUDIT = """
INSERT INTO audit (tenant_id, run_id, seq, event_id, principal, tool, correlation_id, at, link)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_INSERT_CHECKPOINT = """
INSERT INTO ledger_checkpoints (tenant_id, run_id, number, event_seq, reason, envelope)
VALUES (?, ?, (SELECT COALESCE(MAX(number), 0) + 1 FROM ledger_checkpoints WHERE tenant_id = ? AND run_id = ?), ?, ?, ?)
"""
GOVERNANCE_COLUMNS = ("at", "revision", "principal", "tool", "kind", "correlation_id", "detail_json")
"""The governance row members store/governance_rows writes, in its order (after tenant and run)."""
INSERT_GOVERNANCE = """
INSERT INTO governance (tenant_id, run_id, at, revision, principal, tool, kind, correlation_id, detail_json, link)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_GOVERNANCE_HEAD = """
SELECT COUNT(*), (SELECT link FROM governance WHERE tenant_id = ?1 AND run_id = ?2 ORDER BY id DESC LIMIT 1)
FROM governance WHERE tenant_id = ?1 AND run_id = ?2
"""
_MARK_LINKED = "INSERT OR IGNORE INTO ledger_runs (tenant_id, run_id) VALUES (?, ?)"
_SELECT_CHECKPOINTS = "SELECT envelope FROM ledger_checkpoints WHERE tenant_id = ? AND run_id = ? ORDER BY number"
_TABLES = {"event": "trace_events", "audit": "audit"}


@dataclass(frozen=True, slots=True)
class Linked:
    """One write's rows with their links appended, the heads after them, the checkpoints they call for."""

    events: list[Row]
    audit: list[Row]
    heads: Heads
    reasons: list[Reason]


def _link_at(conn: sqlite3.Connection, stream: str, key: Key, seq: int) -> str | None:
    """The link of row `seq` (GENESIS before the first); None if that row exists unlinked or is missing."""
    if seq == 0:
        return chain.GENESIS
    table = _TABLES[stream]
    row = conn.execute(
        f"SELECT link FROM {table} WHERE tenant_id = ? AND run_id = ? AND seq = ?", (*key, seq)
    ).fetchone()
    return None if row is None else row[0]


_SELECT_PREVIOUS = """
SELECT (SELECT link FROM trace_events WHERE tenant_id = ?1 AND run_id = ?2 AND seq = ?3),
       (SELECT link FROM audit WHERE tenant_id = ?1 AND run_id = ?2 AND seq = ?4)
"""


def _links_at(conn: sqlite3.Connection, key: Key, event_seq: int, audit_seq: int) -> tuple[str | None, str | None]:
    """Both previous links in one statement (GENESIS before the first row; None: unlinked or missing)."""
    event_link, audit_link = conn.execute(_SELECT_PREVIOUS, (*key, event_seq, audit_seq)).fetchone()
    return (chain.GENESIS if event_seq == 0 else event_link), (chain.GENESIS if audit_seq == 0 else audit_link)


def last_links(conn: sqlite3.Connection, key: Key) -> Heads:
    found: list[Any] = []
    for table in ("trace_events", "audit"):
        row = conn.execute(
            f"SELECT seq, link FROM {table} WHERE tenant_id = ? AND run_id = ? ORDER BY seq DESC LIMIT 1", key
        ).fetchone()
        found.extend((0, chain.GENESIS) if row is None else (row[0], row[1] or chain.GENESIS))
    return Heads(*found)


def link_rows(
    conn: sqlite3.Connection,
    key: Key,
    events: Sequence[Row],
    event_values: Sequence[dict[str, Any]],
    audit: Sequence[Row],
    *,
    whole_run: bool,
    cache: HeadsCache | None = None,
    tags: tuple[int | None, int] | None = None,
) -> Linked:
    """Link a write's rows before they are inserted.

    `events` rows are (seq, event id, type, event JSON) and `event_values` the same events as values
    (hashing those saves parsing the text back; the JSON must be `row_codec.dump_json` of the value,
    which `chain.event_link` reads to tell whether orjson may write the canonical JSON); `audit` rows
    are AUDIT_COLUMNS. `whole_run`: the rows are the run's whole trace (create or import), so the chains
    start over. `tags`: the run row's tag before this write (None: unknown) and the one it writes; with
    `cache`, the previous links come from the heads the write that left that tag cached, else from the
    rows (two primary-key reads)."""
    event_seq = events[0][0] - 1 if events else 0
    audit_seq = audit[0][0] - 1 if audit else 0
    known = None if whole_run or cache is None or tags is None else cache.get(key, tags[0])
    event_head: str | None
    audit_head: str | None
    if whole_run:
        event_head, audit_head = chain.GENESIS, chain.GENESIS
    elif known is not None and known.event_seq == event_seq and known.audit_seq == audit_seq:
        event_head, audit_head = known.event_head, known.audit_head
    else:
        event_head, audit_head = _links_at(conn, key, event_seq, audit_seq)
    if event_head is None or audit_head is None:  # rows from before the ledger (or a store without it)
        backfill_run(conn, key, None, "")
        event_head = _link_at(conn, "event", key, event_seq) or chain.GENESIS
        audit_head = _link_at(conn, "audit", key, audit_seq) or chain.GENESIS
    reasons: list[Reason] = []
    linked_events: list[Row] = []
    for row, event in zip(events, event_values, strict=True):
        event_head = chain.event_link(event_head, event, row[3])
        linked_events.append((*row, event_head))
        reason = reason_for(event)
        if reason is not None:
            reasons.append(reason)
    linked_audit: list[Row] = []
    for row in audit:
        audit_head = audit_row_link(audit_head, row)
        linked_audit.append((*row, audit_head))
    heads = Heads(events[-1][0] if events else event_seq, event_head, audit[-1][0] if audit else audit_seq, audit_head)
    if cache is not None and tags is not None and events and audit:
        # Put before the commit: should it fail, the row keeps its old tag and this entry never matches.
        cache.put(key, tags[1], heads)
    return Linked(linked_events, linked_audit, heads, reasons)


def audit_row_link(previous: str, row: Row) -> str:
    """`chain.audit_link(previous, AUDIT_COLUMNS of row)`, faster for the usual row (every column a string
    but an integer seq and a NULL or string correlation id): the record is built with its members in
    canonical order (all ASCII names), so orjson writes it unsorted."""
    seq, event_id, principal, tool, correlation_id, at = row
    record: dict[str, Any] | None = None
    if (
        type(seq) is int
        and -MAX_SAFE_INTEGER <= seq <= MAX_SAFE_INTEGER
        and type(event_id) is str
        and type(principal) is str
        and type(tool) is str
        and type(at) is str
    ):
        if correlation_id is None:
            record = {"at": at, "event_id": event_id, "principal": principal, "seq": seq, "tool": tool}
        elif type(correlation_id) is str:
            record = {
                "at": at, "correlation_id": correlation_id, "event_id": event_id, "principal": principal,
                "seq": seq, "tool": tool,
            }  # fmt: skip
    if record is not None:
        try:
            data = orjson.dumps(record)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate
            pass
        else:
            digest = hashlib.sha256(previous.encode("utf-8"))
            digest.update(data)
            return digest.hexdigest()
    return chain.audit_link(previous, dict(zip(AUDIT_COLUMNS, row, strict=True)))


def finish_write(
    conn: sqlite3.Connection, key: Key, ledger: LedgerContext, linked: Linked, *, whole_run: bool, replaced: bool
) -> None:
    """After the linked rows are in: mark a new run linked; sign the checkpoint the write calls for."""
    if whole_run:
        conn.execute(_MARK_LINKED, key)
    reasons = [*linked.reasons, "import"] if replaced else linked.reasons
    if ledger.signer is not None and reasons:
        add_checkpoint(conn, key, ledger.signer, linked.heads, ledger.at, reasons[-1])


def governance_record(columns: Mapping[str, Any]) -> dict[str, Any]:
    """What a governance row's link covers: its columns but the run's key, the row id and NULLs (the
    chain's order is the rows' id order, so deleting or moving a row breaks the next link)."""
    return {name: value for name, value in chain.audit_record(columns).items() if name != "id"}


def governance_rows(conn: sqlite3.Connection, key: Key) -> list[dict[str, Any]]:
    """Every governance column by name (`id` and `link` too), in id order."""
    cursor = conn.execute("SELECT * FROM governance WHERE tenant_id = ? AND run_id = ? ORDER BY id", key)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def governance_head(conn: sqlite3.Connection, key: Key) -> tuple[int, str]:
    """(how many governance rows the run has, the last one's link); rows not linked yet are linked first."""
    count, last = conn.execute(_GOVERNANCE_HEAD, key).fetchone()
    if count and last is None:  # rows from before migration 0005 (a store without the ledger wrote since)
        return backfill_governance(conn, key)
    return int(count), last or chain.GENESIS


def link_governance(conn: sqlite3.Connection, key: Key, rows: Sequence[Row]) -> list[Row]:
    """Governance rows (GOVERNANCE_COLUMNS) with their links appended, continuing the run's chain; called
    in the transaction that inserts them (INSERT_GOVERNANCE)."""
    _, previous = governance_head(conn, key)
    linked: list[Row] = []
    for row in rows:
        previous = chain.audit_link(previous, dict(zip(GOVERNANCE_COLUMNS, row, strict=True)))
        linked.append((*row, previous))
    return linked


def backfill_governance(conn: sqlite3.Connection, key: Key) -> tuple[int, str]:
    """Link a run's governance rows from the start (rows stored before migration 0005)."""
    head = chain.GENESIS
    updates: list[Row] = []
    records = governance_rows(conn, key)
    for record in records:
        head = chain.link(head, governance_record(record))
        updates.append((head, record["id"]))
    conn.executemany("UPDATE governance SET link = ? WHERE id = ?", updates)
    return len(records), head


def add_checkpoint(
    conn: sqlite3.Connection, key: Key, signer: SigningKey, heads: Heads, at: str, reason: str
) -> dict[str, Any]:
    """Sign the run's heads, the governance chain's included (read here: its rows are written apart)."""
    envelope = sign_checkpoint(signer, key[0], key[1], heads, at, reason, governance=governance_head(conn, key))
    conn.execute(_INSERT_CHECKPOINT, (*key, *key, heads.event_seq, reason, json.dumps(envelope)))
    return envelope


def read_checkpoints(conn: sqlite3.Connection, key: Key) -> list[dict[str, Any]]:
    return [json.loads(row[0]) for row in conn.execute(_SELECT_CHECKPOINTS, key)]


def audit_rows(conn: sqlite3.Connection, key: Key) -> list[dict[str, Any]]:
    """Every audit column by name (columns added later included, `link` too), in seq order."""
    cursor = conn.execute("SELECT * FROM audit WHERE tenant_id = ? AND run_id = ? ORDER BY seq", key)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def is_linked(conn: sqlite3.Connection, key: Key) -> bool:
    return conn.execute("SELECT 1 FROM ledger_runs WHERE tenant_id = ? AND run_id = ?", key).fetchone() is not None


def backfill_run(conn: sqlite3.Connection, key: Key, signer: SigningKey | None, at: str) -> Heads:
    """Link a run's stored rows (once: runs stored before the ledger existed), with a checkpoint that
    says so when a key is at hand."""
    event_head = audit_head = chain.GENESIS
    event_seq = audit_seq = 0
    updates: list[Row] = []
    query = "SELECT seq, event_json FROM trace_events WHERE tenant_id = ? AND run_id = ? ORDER BY seq"
    for event_seq, text in conn.execute(query, key).fetchall():
        event_head = chain.link(event_head, json.loads(text))
        updates.append((event_head, *key, event_seq))
    conn.executemany("UPDATE trace_events SET link = ? WHERE tenant_id = ? AND run_id = ? AND seq = ?", updates)
    updates = []
    for record in audit_rows(conn, key):
        audit_seq = int(record["seq"])
        audit_head = chain.audit_link(audit_head, record)
        updates.append((audit_head, *key, audit_seq))
    conn.executemany("UPDATE audit SET link = ? WHERE tenant_id = ? AND run_id = ? AND seq = ?", updates)
    conn.execute(_MARK_LINKED, key)
    heads = Heads(event_seq, event_head, audit_seq, audit_head)
    if signer is not None:
        add_checkpoint(conn, key, signer, heads, at, "migration")
    return heads


def open_ledger(conn: sqlite3.Connection, signer: SigningKey | None, at: str) -> int:
    """At store open, in one write transaction: publish the signing key (retiring the previous one)
    and link every run that is not linked yet. Returns how many runs were linked."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if signer is not None:
            register_key(conn, signer, at)
        pending = conn.execute(
            "SELECT tenant_id, run_id FROM runs r WHERE NOT EXISTS "
            "(SELECT 1 FROM ledger_runs l WHERE l.tenant_id = r.tenant_id AND l.run_id = r.run_id)"
        ).fetchall()
        for tenant_id, run_id in pending:
            backfill_run(conn, (tenant_id, run_id), signer, at)
        # Governance rows from before migration 0005: keys none of whose rows is linked yet. (A key with
        # some rows linked and some not was edited: left for `ledger check` and the checkpoints to find.)
        unlinked = conn.execute(
            "SELECT tenant_id, run_id FROM governance GROUP BY tenant_id, run_id HAVING COUNT(link) = 0"
        ).fetchall()
        for tenant_id, run_id in unlinked:
            backfill_governance(conn, (tenant_id, run_id))
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
    governance: list[dict[str, Any]]
    """The run's governance rows (columns by name, `detail_json` as stored), in id order."""


def export_checkpoint(conn: sqlite3.Connection, key: Key, signer: SigningKey, at: str) -> LedgerExport:
    """Sign an `export` checkpoint at the run's last links and read everything an attestation covers.
    The caller has checked the rows against their links and checkpoints (scan.check_run)."""
    heads = last_links(conn, key)
    add_checkpoint(conn, key, signer, heads, at, "export")
    query = "SELECT event_json FROM trace_events WHERE tenant_id = ? AND run_id = ? ORDER BY seq"
    texts = [row[0] for row in conn.execute(query, key)]
    return LedgerExport(heads, texts, audit_rows(conn, key), read_checkpoints(conn, key), governance_rows(conn, key))
