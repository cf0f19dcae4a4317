"""The few members of sqlite3.Connection the store's transaction bodies use, over a psycopg connection.

The SQLite store's bodies (row writes, the ledger's hash chains, governance rows, snapshot reads) are
plain functions of a connection. Running the very same functions on PostgreSQL makes the rows, and so
the chain heads and signed checkpoints, identical on both backends by construction. This adapter turns
their SQL into PostgreSQL's: `?` and `?N` placeholders become `%s` (parameters reordered), and the few
SQLite-only phrasings are rewritten (`INSERT OR IGNORE`, `INSERT OR REPLACE`, `CROSS JOIN ... ON`,
`json_extract`). Reads of a run row inside a write take its row lock (`FOR UPDATE`): that lock, not a
database-wide one as in SQLite, serializes the writers of one run.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, cast

import psycopg
from psycopg.pq import TransactionStatus

NOTIFY_CHANNEL = "workbench_runs"
"""LISTEN/NOTIFY channel of run changes; the payload is the changed run's ids only (postgres_watch.py)."""

_PLACEHOLDER = re.compile(r"\?(\d*)")
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"INSERT OR IGNORE INTO (.*)$", re.S), r"INSERT INTO \1 ON CONFLICT DO NOTHING"),
    (
        re.compile(r"INSERT OR REPLACE INTO start_requests (.*)$", re.S),
        r"INSERT INTO start_requests \1 ON CONFLICT (tenant_id, request_id) DO UPDATE SET run_id = excluded.run_id",
    ),
    (re.compile(r"CROSS JOIN"), "JOIN"),
    # The step id of a step_completed event, read as text from the stored JSON (json, not jsonb: the text
    # is kept as written; its \u escapes are decoded only for the member extracted).
    (re.compile(r"json_extract\((\w+)\.event_json, '\$\.stepId'\)"), r"(\1.event_json::json ->> 'stepId')"),
)
# Statements whose results nobody iterates (at most their rowcount, read at once): they share one cursor.
_NO_ROWS = re.compile(r"^\s*(INSERT|UPDATE|DELETE|BEGIN|COMMIT|ROLLBACK)\b(?!.*\bRETURNING\b)", re.S)
# A write transaction's reads of the run row lock it until the commit.
_LOCKING = re.compile(
    r"^\s*SELECT (revision(, trace_length, state_tag)?) FROM runs WHERE tenant_id = \? AND run_id = \?\s*$"
)


@lru_cache(maxsize=512)
def translate(sql: str, locking: bool) -> tuple[str, tuple[int, ...] | None]:
    """PostgreSQL text of a SQLite statement, and the parameter order (None: as given)."""
    if locking and _LOCKING.match(sql):
        sql = sql.rstrip() + " FOR UPDATE"
    for pattern, replacement in _REWRITES:
        sql = pattern.sub(replacement, sql)
    sql = sql.replace("%", "%%")
    order: list[int] = []
    numbered = False

    def placeholder(match: re.Match[str]) -> str:
        nonlocal numbered
        if match.group(1):
            numbered = True
            order.append(int(match.group(1)) - 1)
        else:
            order.append(len(order))
        return "%s"

    sql = _PLACEHOLDER.sub(placeholder, sql)
    return sql, tuple(order) if numbered else None


@lru_cache(maxsize=512)
def _returns_no_rows(sql: str) -> bool:
    return _NO_ROWS.match(sql) is not None


def _ordered(params: Sequence[Any], order: tuple[int, ...] | None) -> Sequence[Any]:
    return params if order is None else [params[i] for i in order]


class PgConnection:
    """`execute`, `executemany` and `in_transaction` of sqlite3.Connection on one psycopg connection
    (autocommit, so BEGIN/COMMIT/ROLLBACK are statements as in SQLite). `begin`: what a bare BEGIN
    means here (REPEATABLE READ for snapshot reads). `notify`: the run keys announced on COMMIT."""

    def __init__(self, conn: psycopg.Connection[Any], *, begin: str = "BEGIN", locking: bool = False) -> None:
        self.raw = conn
        self._begin = begin
        self._locking = locking
        self.notify: list[tuple[str, str]] = []
        self._writes: psycopg.Cursor[Any] | None = None

    def _write_cursor(self) -> psycopg.Cursor[Any]:
        """One cursor for this connection's statements that return no rows: a fresh cursor per statement
        (what Connection.execute makes) costs more CPU than most of those statements' own round trip."""
        if self._writes is None:
            self._writes = self.raw.cursor()
        return self._writes

    def as_sqlite(self) -> sqlite3.Connection:
        """This adapter where a body is typed for SQLite's connection (it uses only the members above)."""
        return cast(sqlite3.Connection, self)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        statement = sql.strip()
        if statement in ("BEGIN", "BEGIN IMMEDIATE"):
            return self._write_cursor().execute(self._begin)
        if statement == "COMMIT":
            # Delivered to listeners only if, and when, this transaction commits.
            for key in self.notify:
                self._write_cursor().execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, notify_payload(*key)))
        text, order = translate(sql, self._locking)
        cursor = self._write_cursor() if _returns_no_rows(sql) else self.raw.cursor()
        return cursor.execute(cast(Any, text), _ordered(params, order) if params else None)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cursor = self._write_cursor()  # nobody reads an executemany's results
        values = list(rows)
        if values:  # nothing to send (often: no review requests, no links to update)
            text, order = translate(sql, self._locking)
            cursor.executemany(cast(Any, text), [_ordered(row, order) for row in values])
        return cursor


def notify_payload(tenant_id: str, run_id: str) -> str:
    """The ids as an ASCII JSON array (any id fits; NOTIFY payloads are text)."""
    import json

    return json.dumps([tenant_id, run_id], ensure_ascii=True, separators=(",", ":"))
