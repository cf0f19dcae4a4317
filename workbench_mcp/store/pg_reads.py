"""The PostgreSQL store's run reads in one statement: load_state, load_trace, load_run, load_state_and_reviews.

One statement in autocommit mode sees one snapshot of the database, so everything one SELECT returns belongs
to the same commit, without the BEGIN ISOLATION LEVEL REPEATABLE READ ... ROLLBACK around several statements
that the SQLite store's bodies need: one round trip and one driver call instead of four (state cached) to
eight (state read from its rows). A read whose state the store has cached asks for the run row (and trace)
only, the lighter statement for the database, and uses the cached state if the row still carries its
`state_tag`. Without a cached state it reads the run row, the state's rows and the trace in one statement;
with a stale one (another replica wrote since) it does that after the first. Either way a state and a
trace come from one statement, never from different commits. load_state_and_reviews reads the run row and
the review requests in one statement while its cached state is current, and otherwise as the SQLite store
does, in one REPEATABLE READ snapshot (it is less used).
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
# The run row (seq 0: events count from 1), then the trace's rows as stored if the row still carries the
# cached state's tag `tag` (NULL: whatever it carries; on a miss they are read again below). A UNION, not a
# join: a join repeats the run row's columns on every event row, ~10% more client CPU for a long trace.
_RUN_AND_TRACE = """
WITH run AS (SELECT revision, trace_length, state_tag FROM runs WHERE tenant_id = %(tenant)s AND run_id = %(run)s)
SELECT 0 AS seq, revision, trace_length, state_tag, NULL AS event_json FROM run
UNION ALL
SELECT seq, NULL, NULL, NULL, event_json FROM trace_events
WHERE tenant_id = %(tenant)s AND run_id = %(run)s AND (SELECT %(tag)s::bigint IS NULL OR state_tag = %(tag)s FROM run)
ORDER BY seq
"""
# The run row with its state's rows, map by map in map order, then (`trace`) the trace's rows. Columns:
# kind, position, three integers, three texts. The rows of sqlite_store's _SELECT_META, _SELECT_STATE,
# _SELECT_HEADS, _SELECT_RULE_SETS, _SELECT_IDEMPOTENCY and _SELECT_TRACE in one statement instead of eight
# (with BEGIN and ROLLBACK): the database's CPU for a read of an uncached state measured less than half.
_RUN_STATE_AND_TRACE = """
SELECT 0 AS kind, 0 AS position, revision, trace_length, state_tag, run_json, engine_json, NULL FROM runs
WHERE tenant_id = %(tenant)s AND run_id = %(run)s
UNION ALL
SELECT 1, h.position, NULL, NULL, NULL, h.artifact_key, v.artifact_json, NULL FROM artifact_heads h
JOIN artifact_versions v ON v.tenant_id = h.tenant_id AND v.run_id = h.run_id
    AND v.artifact_key = h.artifact_key AND v.version = h.version
WHERE h.tenant_id = %(tenant)s AND h.run_id = %(run)s
UNION ALL
SELECT 2, position, NULL, NULL, NULL, rule_set_id, rule_set_json, NULL FROM rule_sets
WHERE tenant_id = %(tenant)s AND run_id = %(run)s
UNION ALL
SELECT 3, position, version, NULL, NULL, idempotency_key, artifact_key, payload_digest FROM idempotency
WHERE tenant_id = %(tenant)s AND run_id = %(run)s
UNION ALL
SELECT 4, seq, NULL, NULL, NULL, event_json, NULL, NULL FROM trace_events
WHERE tenant_id = %(tenant)s AND run_id = %(run)s AND %(trace)s
ORDER BY kind, position
"""
_RUN_ROW, _HEADS, _RULE_SETS, _IDEMPOTENCY, _TRACE = 0, 1, 2, 3, 4
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
    current, the trace's texts): one statement, or two if the cached state turns out to be stale."""
    if not with_state or cached_tag is not None:
        rows = _rows(conn, _RUN_AND_TRACE if with_trace else _RUN, key, tag=cached_tag if with_state else None)
        meta = bodies._RunMeta(*(rows[0][1:4] if with_trace else rows[0]))
        if not with_state or meta.state_tag == cached_tag:
            return meta, None, [row[4] for row in rows[1:]]
    # Nothing cached, or written since it was cached (by another replica): read it all, from one snapshot.
    return _state_and_trace(_rows(conn, _RUN_STATE_AND_TRACE, key, trace=with_trace), key)


def _state_and_trace(rows: list[tuple[Any, ...]], key: Key) -> tuple[Any, StoredState, list[str]]:
    run = rows[0]
    if run[0] != _RUN_ROW:  # never (the run's other rows go with it), but no state without its run row
        raise bodies._unknown_run(key[1])
    kinds: dict[int, list[tuple[Any, ...]]] = {_HEADS: [], _RULE_SETS: [], _IDEMPOTENCY: [], _TRACE: []}
    for row in rows[1:]:
        kinds[row[0]].append(row)
    meta = bodies._RunMeta(*run[2:5])
    stored = StoredState(
        revision=meta.revision,
        run_json=run[5],
        engine_json=run[6],
        artifacts=[(row[5], row[6]) for row in kinds[_HEADS]],
        rule_sets=[(row[5], row[6]) for row in kinds[_RULE_SETS]],
        idempotency=[(row[5], row[6], row[2], row[7]) for row in kinds[_IDEMPOTENCY]],
    )
    return meta, stored, [row[5] for row in kinds[_TRACE]]


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


def _rows(conn: PgConnection, sql: str, key: Key, **params: Any) -> list[tuple[Any, ...]]:
    """The statement's rows, the run row's first; UNKNOWN_RUN (as for any other tenant's run) if
    the run has no row. Autocommit: the connection is idle again when this returns."""
    rows = conn.raw.cursor().execute(sql, {"tenant": key[0], "run": key[1], **params}).fetchall()
    if not rows:
        raise bodies._unknown_run(key[1])
    return rows
