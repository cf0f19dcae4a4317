"""`workbench-mcp ledger check`: recompute every run's chains from the stored rows, find tampering.

For each run, per stream (events, audit, governance): rows must run 1..n without gaps, each recomputed link must
equal the one stored in the row, the run row's trace length must match the rows, and every signed
checkpoint must verify with a published key and match the recomputed chains at its seq. Governance rows
are ordered by id, not numbered: their "seq" is the 1-based position in the run's chain, and a finding
names the row id too. Refusals naming no run (run_id '') are checked as one chain per tenant. A run is
reported with its first bad seq; someone who rewrote the links too is still caught by the checkpoints,
which they cannot sign.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from workbench_mcp.ledger import chain
from workbench_mcp.ledger.checkpoints import CHECKPOINT_PAYLOAD_TYPE, read_payload
from workbench_mcp.ledger.dsse import EnvelopeError, verify_envelope
from workbench_mcp.ledger.keys import keys_by_id
from workbench_mcp.ledger.store_rows import audit_rows, governance_record, governance_rows, is_linked, read_checkpoints

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Finding:
    tenant_id: str
    run_id: str
    stream: str  # "event", "audit", "governance" or "checkpoint"
    seq: int
    problem: str

    def line(self) -> str:
        return f"TAMPERED run {self.run_id} (tenant {self.tenant_id}) seq {self.seq} [{self.stream}]: {self.problem}"


@dataclass(frozen=True, slots=True)
class ScanResult:
    runs: int
    records: int
    findings: list[Finding]


def database_keys(conn: sqlite3.Connection) -> dict[str, Ed25519PublicKey]:
    rows = conn.execute("SELECT jwk FROM ledger_keys").fetchall()
    return keys_by_id({"keys": [json.loads(row[0]) for row in rows]})


def scan(conn: sqlite3.Connection, keys: Mapping[str, Ed25519PublicKey] | None = None) -> ScanResult:
    """Check every run; `keys` are the trusted public keys (default: the ones the database publishes)."""
    trusted = database_keys(conn) if keys is None else keys
    runs = conn.execute("SELECT tenant_id, run_id, trace_length FROM runs ORDER BY tenant_id, run_id").fetchall()
    findings: list[Finding] = []
    records = 0
    for tenant_id, run_id, trace_length in runs:
        problem, count = check_run(conn, (tenant_id, run_id), trace_length, trusted)
        records += count
        if problem is not None:
            findings.append(problem)
    # Refusals that named no run of the tenant: no checkpoint covers them, their links still must hold.
    for (tenant_id,) in conn.execute("SELECT DISTINCT tenant_id FROM governance WHERE run_id = ''").fetchall():
        links, bad = _governance_chain(conn, (tenant_id, ""))
        records += len(links)
        if bad is not None:
            findings.append(bad)
    return ScanResult(len(runs), records, findings)


def _governance_chain(conn: sqlite3.Connection, key: Key) -> tuple[list[str], Finding | None]:
    """Recomputed governance links (index = position - 1) and the first row whose stored link disagrees."""
    computed: list[str] = []
    previous = chain.GENESIS
    first_bad: Finding | None = None
    for position, row in enumerate(governance_rows(conn, key), start=1):
        previous = chain.link(previous, governance_record(row))
        computed.append(previous)
        if first_bad is None and row.get("link") != previous:
            problem = f"governance row id {row['id']} differs from its chained link (changed, moved, or one deleted)"
            first_bad = Finding(*key, "governance", position, problem)
    return computed, first_bad


def _event_records(conn: sqlite3.Connection, key: Key, stored: dict[int, str | None]) -> Iterator[tuple[int, Any]]:
    query = "SELECT seq, event_json, link FROM trace_events WHERE tenant_id = ? AND run_id = ? ORDER BY seq"
    for seq, text, link in conn.execute(query, key).fetchall():
        stored[seq] = link
        yield seq, json.loads(text)


def _audit_records(conn: sqlite3.Connection, key: Key, stored: dict[int, str | None]) -> Iterator[tuple[int, Any]]:
    for record in audit_rows(conn, key):
        seq = int(record["seq"])
        stored[seq] = record.get("link")
        yield seq, chain.audit_record(record)


def _walk(
    key: Key, stream: str, records: Iterator[tuple[int, Any]], stored: dict[int, str | None]
) -> tuple[list[str], Finding | None]:
    """Recomputed links (index = seq - 1) and the first row whose stored link disagrees (`stored` is
    filled by `records` as it goes)."""
    computed: list[str] = []
    previous = chain.GENESIS
    first_bad: Finding | None = None
    for seq, record in records:
        expected_seq = len(computed) + 1
        if seq != expected_seq and first_bad is None:
            first_bad = Finding(*key, stream, expected_seq, f"row {expected_seq} is missing (next stored row is {seq})")
        previous = chain.link(previous, record)
        computed.append(previous)
        if first_bad is None and stored.get(seq) != previous:
            first_bad = Finding(*key, stream, expected_seq, "row differs from its chained link (changed or moved)")
    return computed, first_bad


def check_run(
    conn: sqlite3.Connection, key: Key, trace_length: int, keys: Mapping[str, Ed25519PublicKey]
) -> tuple[Finding | None, int]:
    """The run's first problem (None: intact) and how many records were checked."""
    event_links: dict[int, str | None] = {}
    audit_links: dict[int, str | None] = {}
    events, event_bad = _walk(key, "event", _event_records(conn, key, event_links), event_links)
    audits, audit_bad = _walk(key, "audit", _audit_records(conn, key, audit_links), audit_links)
    governance, governance_bad = _governance_chain(conn, key)
    bad = [f for f in (event_bad, audit_bad, governance_bad) if f is not None]
    if not is_linked(conn, key):
        bad.append(Finding(*key, "event", 1, "the run was never linked (start the server on this database once)"))
    if len(events) < trace_length:  # the run row still counts the rows someone deleted
        bad.append(Finding(*key, "event", len(events) + 1, f"rows missing: the run has {trace_length} events"))
    for number, envelope in enumerate(read_checkpoints(conn, key), start=1):
        problem = _check_checkpoint(key, number, envelope, events, audits, governance, keys)
        if problem is not None:
            bad.append(problem)
            break
    count = len(events) + len(audits) + len(governance)
    if not bad:
        return None, count
    return min(bad, key=lambda f: f.seq), count


def _check_checkpoint(
    key: Key,
    number: int,
    envelope: Any,
    events: list[str],
    audits: list[str],
    governance: list[str],
    keys: Mapping[str, Ed25519PublicKey],
) -> Finding | None:
    try:
        body, _ = verify_envelope(envelope, keys, payload_type=CHECKPOINT_PAYLOAD_TYPE)
        payload = read_payload(body)
    except (EnvelopeError, ValueError) as exc:
        return Finding(*key, "checkpoint", 1, f"checkpoint {number} does not verify: {exc}")
    if (payload.get("tenant"), payload.get("runId")) != key:
        return Finding(*key, "checkpoint", 1, f"checkpoint {number} belongs to another run")
    streams = [
        ("event", events, payload.get("seq"), payload.get("chainHead")),
        ("audit", audits, payload.get("auditSeq"), payload.get("auditHead")),
    ]
    if "governanceSeq" in payload:  # checkpoints signed before governance rows were chained lack it
        streams.append(("governance", governance, payload.get("governanceSeq"), payload.get("governanceHead")))
    for stream, links, seq, head in streams:
        if not isinstance(seq, int) or seq < 0:
            return Finding(*key, "checkpoint", 1, f"checkpoint {number} has no {stream} seq")
        actual = chain.GENESIS if seq == 0 else links[seq - 1] if seq <= len(links) else None
        if actual != head:
            # The rows up to `seq` changed after it was signed; the first such row is not known from
            # the checkpoint alone, so name the first row it covers that nothing else vouches for.
            return Finding(*key, stream, min(seq, len(links) + 1), f"rows no longer match signed checkpoint {number}")
    return None
