"""SQL for the review-request table (migration 0006): each function runs on a connection's thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from workbench_mcp.store.run_store import ReviewRequest

_COLUMNS = (
    "request_id, reviewer, run_id, step_id, gate, reason, requested_by, created_at, expires_at, used_at, decision"
)
_INSERT = f"INSERT INTO review_requests (tenant_id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT_RUN = f"""
SELECT {_COLUMNS} FROM review_requests WHERE tenant_id = ? AND run_id = ? ORDER BY created_at, request_id, reviewer
"""
_SELECT_ONE = f"SELECT {_COLUMNS} FROM review_requests WHERE tenant_id = ? AND request_id = ? AND reviewer = ?"
# `used_at IS NULL` in the WHERE makes the check and the mark one statement: of two decisions racing for one
# link, only the first changes a row (and both run under the store's write lock anyway).
_USE = """
UPDATE review_requests SET used_at = ?, decision = ?
WHERE tenant_id = ? AND run_id = ? AND request_id = ? AND reviewer = ? AND used_at IS NULL
"""
_UNUSED = """
SELECT 1 FROM review_requests
WHERE tenant_id = ? AND run_id = ? AND request_id = ? AND reviewer = ? AND used_at IS NULL
"""


def insert(conn: sqlite3.Connection, tenant_id: str, requests: Sequence[ReviewRequest]) -> None:
    """Inside the caller's write transaction."""
    conn.executemany(_INSERT, [(tenant_id, *_columns(r)) for r in requests])


def use(conn: sqlite3.Connection, key: tuple[str, str], request_id: str, reviewer: str, decision: str, at: str) -> bool:
    """Inside the caller's write transaction: True if the request was unused and now is used."""
    return conn.execute(_USE, (at, decision, *key, request_id, reviewer)).rowcount == 1


def unused(conn: sqlite3.Connection, key: tuple[str, str], request_id: str, reviewer: str) -> bool:
    """Inside the caller's write transaction: the run has this reviewer's request and it was not used yet."""
    return conn.execute(_UNUSED, (*key, request_id, reviewer)).fetchone() is not None


def of_run(conn: sqlite3.Connection, key: tuple[str, str]) -> list[ReviewRequest]:
    return [ReviewRequest(*row) for row in conn.execute(_SELECT_RUN, key)]


def one(conn: sqlite3.Connection, tenant_id: str, request_id: str, reviewer: str) -> ReviewRequest | None:
    row = conn.execute(_SELECT_ONE, (tenant_id, request_id, reviewer)).fetchone()
    return None if row is None else ReviewRequest(*row)


def _columns(r: ReviewRequest) -> tuple[Any, ...]:
    return (
        r.request_id, r.reviewer, r.run_id, r.step_id, r.gate, r.reason, r.requested_by,
        r.created_at, r.expires_at, r.used_at, r.decision,
    )  # fmt: skip
