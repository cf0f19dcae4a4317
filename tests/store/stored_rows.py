"""Every stored row a run is made of, read the same way from a SQLite file and a PostgreSQL database, so two
stores can be compared row for row (the same operations, or a migration from one to the other)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from workbench_mcp.store.pg_text import use_nul_safe_text

QUERIES = (
    # Not `state_tag`: a random value per write (a migration copies it; two stores doing the same differ).
    "SELECT tenant_id, run_id, workflow_id, status, started_at, started_us, ended_at, tags, revision, trace_length,"
    " run_json, engine_json FROM runs ORDER BY tenant_id, run_id",
    "SELECT tenant_id, run_id, seq, event_id, type, event_json, link FROM trace_events ORDER BY tenant_id, run_id, seq",
    "SELECT tenant_id, run_id, seq, event_id, principal, tool, correlation_id, at, link FROM audit"
    " ORDER BY tenant_id, run_id, seq",
    "SELECT tenant_id, run_id, artifact_key, version, artifact_json FROM artifact_versions"
    " ORDER BY tenant_id, run_id, artifact_key, version",
    "SELECT tenant_id, run_id, artifact_key, position, version FROM artifact_heads"
    " ORDER BY tenant_id, run_id, position",
    "SELECT tenant_id, run_id, rule_set_id, position, rule_set_json FROM rule_sets"
    " ORDER BY tenant_id, run_id, position",
    "SELECT tenant_id, run_id, idempotency_key, position, artifact_key, version, payload_digest FROM idempotency"
    " ORDER BY tenant_id, run_id, position",
    "SELECT tenant_id, request_id, run_id FROM start_requests ORDER BY tenant_id, request_id",
    "SELECT tenant_id, run_id FROM ledger_runs ORDER BY tenant_id, run_id",
    "SELECT tenant_id, run_id, number, event_seq, reason, envelope FROM ledger_checkpoints"
    " ORDER BY tenant_id, run_id, number",
    # Not `id`: it orders a run's rows (the chain), its values differ once rows are copied run by run.
    "SELECT tenant_id, run_id, at, revision, principal, tool, kind, correlation_id, detail_json, link FROM governance"
    " ORDER BY tenant_id, run_id, id",
    "SELECT kid, jwk, added_at, retired_at FROM ledger_keys ORDER BY kid",
    "SELECT tenant_id, request_id, reviewer, run_id, step_id, gate, reason, requested_by, created_at, expires_at,"
    " used_at, decision FROM review_requests ORDER BY tenant_id, request_id, reviewer",
    "SELECT tenant_id, run_count FROM tenant_run_counts ORDER BY tenant_id",
)


def sqlite_rows(path: Path) -> list[list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        return [conn.execute(sql).fetchall() for sql in QUERIES]


def postgres_rows(url: str) -> list[list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        use_nul_safe_text(conn)
        return [conn.execute(sql).fetchall() for sql in QUERIES]
