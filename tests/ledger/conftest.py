"""Ledger fixtures: a real SQLite file, a real signing key, a run driven through the real service."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbench_mcp.commands import BeginStep, CompleteStep, EndRun, WriteArtifact
from workbench_mcp.ledger.keys import SigningKey, jwks
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService
from workbench_mcp.store.pg_snapshot import ledger_snapshot
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore
from workbench_mcp.wiring import ConfiguredStore

ALICE = Principal("org_acme", subject="user_alice")
BOB = Principal("org_acme", subject="user_bob")


@dataclass
class Ledger:
    db_path: Path
    key: SigningKey
    store: ConfiguredStore
    service: RunService
    database_url: str | None = None
    """Set: the store is PostgreSQL's (db_path then only names where side files go)."""

    @property
    def db(self) -> str:
        """The `--db` argument naming this ledger's database."""
        return self.database_url or str(self.db_path)

    async def reopen(self, key: SigningKey | None = None) -> None:
        await self.store.close()
        self.key = key or self.key
        self.store = _store(self.db_path, self.database_url, self.key)
        await self.store.open()
        self.service = RunService(self.store)

    async def jwks(self) -> dict[str, Any]:
        return jwks(await self.store.published_keys())

    def current_kids(self) -> list[str]:
        """The published keys not retired, read from the database itself."""
        query = "SELECT kid FROM ledger_keys WHERE retired_at IS NULL"
        if self.database_url is not None:
            with ledger_snapshot(self.database_url) as snapshot:
                return [row[0] for row in snapshot.execute(query)]
        with closing(sqlite3.connect(self.db_path)) as conn:
            return [row[0] for row in conn.execute(query)]


def _store(db_path: Path, database_url: str | None, key: SigningKey) -> ConfiguredStore:
    if database_url is not None:
        return PostgresRunStore(database_url, signer=key)
    return SqliteRunStore(db_path, signer=key)


async def _opened(db_path: Path, database_url: str | None = None) -> Ledger:
    key = SigningKey.generate()
    store = _store(db_path, database_url, key)
    await store.open()
    return Ledger(db_path, key, store, RunService(store), database_url)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    env = await _opened(tmp_path / "ledger.db")
    try:
        yield env
    finally:
        await env.store.close()


@pytest.fixture
async def any_ledger(database_url: str | None, tmp_path: Path) -> AsyncIterator[Ledger]:
    """`ledger` on each backend (the PostgreSQL one on a fresh database of the session's cluster)."""
    env = await _opened(tmp_path / "ledger.db", database_url)
    try:
        yield env
    finally:
        await env.store.close()


async def gated_run(service: RunService, *, complete: bool = True) -> str:
    """A job-search run: BOB approves parser1's PAUSE_BEFORE gate, ALICE runs the step; then completed."""
    run_id = str((await service.start_run(ALICE, "jobSearchWorkflow"))["runId"])
    await service.resolve_gate(BOB, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    await service.execute(ALICE, run_id, BeginStep(step_id="parser1"))
    await service.execute(ALICE, run_id, WriteArtifact(artifact_key="draft", type_id="note", data={"n": 1}))
    await service.execute(ALICE, run_id, CompleteStep(step_id="parser1"))
    if complete:
        await service.execute(ALICE, run_id, EndRun(status="completed"))
    return run_id


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path
