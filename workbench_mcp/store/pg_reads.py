"""The PostgreSQL store's run reads in one statement: load_state, load_trace, load_run, load_state_and_reviews.

One statement in autocommit mode sees one snapshot of the database, so the run row and its trace (or its
review requests) read by one SELECT belong to the same commit, without the BEGIN ... ROLLBACK around them
that the SQLite store's bodies need: one round trip and one driver call instead of four. That covers the
common case, where the state itself comes from the store's cache and the run row's `state_tag` vouches
that it is still the stored one. When it is not (nothing cached, or another writer, say another replica,
changed the run since), the call reads as before: meta, state rows and trace in one REPEATABLE READ
snapshot (the SQLite store's bodies through PgConnection), so a state and a trace never come from
different commits.
"""

from __future__ import annotations

from typing import Any

from workbench_mcp.store import review_rows
from workbench_mcp.store import sqlite_store as bodies
from workbench_mcp.store.pg_connection import PgConnection
from workbench_mcp.store.row_codec import StoredState
from workbench_mcp.store.run_store import ReviewRequest

Key = tuple[str, str]

_RUN = "SELECT revision, trace_length, state_tag FROM runs WHERE tenant_id = %(tenant)s AND run_id = %(run)s"
# The run row (seq 0: events count from 1) and then the trace's rows as stored, one statement. A UNION, not a
# join: a join repeats the run row's columns on every event row, ~10% more client CPU for a long trace.
# `tag`: the events only if the row still carries the cached state's tag (NULL: whatever it carries); on a
# miss the fallback reads the trace again, so sending it here would be wasted.
_RUN_AND_TRACE = """
WITH run AS (SELECT revision, trace_length, state_tag FROM runs WHERE tenant_id = %(tenant)s AND run_id = %(run)s)
SELECT 0 AS seq, revision, trace_length, state_tag, NULL AS event_json FROM run
UNION ALL
SELECT seq, NULL, NULL, NULL, event_json FROM trace_events
WHERE tenant_id = %(tenant)s AND run_id = %(run)s AND (SELECT %(tag)s::bigint IS NULL OR state_tag = %(tag)s FROM run)
ORDER BY seq
"""
_REVIEW_COLUMNS = ", ".join(f"q.{column}" for column in review_rows._COLUMNS.split(", "))
_RUN_AND_REVIEWS = f"""
SELECT r.revision, r.trace_length, r.state_tag, {_REVIEW_COLUMNS} FROM runs r
LEFT JOIN review_requests q ON q.tenant_id = r.tenant_id AND q.run_id = r.run_id
WHERE r.tenant_id = %(tenant)s AND r.run_id = %(run)s ORDER BY q.created_at, q.request_id, q.reviewer
"""


def read_snapshot(
    conn: PgConnection, key: Key, cached_tag: int | None, with_state: bool, with_trace: bool
) -> tuple[Any, StoredState | None, list[str]]:
    """What sqlite_store._read_snapshot returns (meta, the state's rows or None if the cached state is
    current, the trace's texts), in one autocommit statement unless the state's rows must be read."""
    if with_state and cached_tag is None:
        return bodies._read_snapshot(conn.as_sqlite(), key, cached_tag, with_state, with_trace)
    sql = _RUN_AND_TRACE if with_trace else _RUN
    rows = _rows(conn, sql, key, tag=cached_tag if with_state else None)
    meta = bodies._RunMeta(*(rows[0][1:4] if with_trace else rows[0]))
    if with_state and meta.state_tag != cached_tag:  # written since it was cached: read it all in one snapshot
        return bodies._read_snapshot(conn.as_sqlite(), key, cached_tag, with_state, with_trace)
    return meta, None, [row[4] for row in rows[1:]]


def read_state_and_reviews(
    conn: PgConnection, key: Key, cached_tag: int | None
) -> tuple[Any, StoredState | None, list[ReviewRequest]]:
    """What sqlite_store._read_state_and_reviews returns, in one statement while the cached state is current."""
    if cached_tag is not None:
        rows = _rows(conn, _RUN_AND_REVIEWS, key)
        meta = bodies._RunMeta(*rows[0][:3])
        if meta.state_tag == cached_tag:
            return meta, None, [ReviewRequest(*row[3:]) for row in rows if row[3] is not None]
    return bodies._read_state_and_reviews(conn.as_sqlite(), key, cached_tag)


def _rows(conn: PgConnection, sql: str, key: Key, tag: int | None = None) -> list[tuple[Any, ...]]:
    """The statement's rows, the run row's first; UNKNOWN_RUN (as for any other tenant's run) if
    the run has no row. Autocommit: the connection is idle again when this returns."""
    rows = conn.raw.cursor().execute(sql, {"tenant": key[0], "run": key[1], "tag": tag}).fetchall()
    if not rows:
        raise bodies._unknown_run(key[1])
    return rows
