"""Run changes across replicas: PostgreSQL LISTEN/NOTIFY (ids only) as the change feed of run_watch.RunWatch.

Every committing write of the PostgreSQL store sends `NOTIFY workbench_runs, '["tenant","run"]'` inside
its transaction, so listeners hear of it exactly when it commits, never for a write that rolled back.
The payload carries ids only; a woken waiter reads the run itself, through its tenant-scoped calls.

One listening connection per process, open only while someone waits. After (re)connecting, and on any
loss of the connection, the feed reports "anything may have changed" (None): a commit can slip in before
LISTEN takes effect or while the connection is down, and waiters then re-check their run.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import psycopg

from workbench_mcp.store.pg_connection import NOTIFY_CHANNEL

Key = tuple[str, str]
RETRY_SECONDS = 0.5
"""Pause before listening again after the connection failed (the database restarting)."""

logger = logging.getLogger(__name__)


def parse_payload(payload: str) -> Key | None:
    try:
        tenant_id, run_id = json.loads(payload)
    except (ValueError, TypeError):
        return None
    return (tenant_id, run_id) if isinstance(tenant_id, str) and isinstance(run_id, str) else None


class PostgresChangeFeed:
    def __init__(self, url: str) -> None:
        self.url = url

    async def follow(self, on_change: Callable[[Key | None], None]) -> None:
        """Until cancelled: `on_change(key)` for each committed change of a run, `on_change(None)` when
        changes may have been missed (after LISTEN starts, after the connection was lost)."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    on_change(None)
                    async for note in conn.notifies():
                        on_change(parse_payload(note.payload))
            except psycopg.Error as exc:
                logger.info("change feed lost its connection (%s); listening again", exc)
                on_change(None)
            await asyncio.sleep(RETRY_SECONDS)

    async def close(self) -> None:
        """Nothing to release: the listening connection belongs to the task running `follow`."""
