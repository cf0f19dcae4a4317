"""Ledger fixtures: a real SQLite file, a real signing key, a run driven through the real service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbench_mcp.commands import BeginStep, CompleteStep, EndRun, WriteArtifact
from workbench_mcp.ledger.keys import SigningKey, jwks
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService
from workbench_mcp.store.sqlite_store import SqliteRunStore

ALICE = Principal("org_acme", subject="user_alice")
BOB = Principal("org_acme", subject="user_bob")


@dataclass
class Ledger:
    db_path: Path
    key: SigningKey
    store: SqliteRunStore
    service: RunService

    async def reopen(self, key: SigningKey | None = None) -> None:
        await self.store.close()
        self.key = key or self.key
        self.store = SqliteRunStore(self.db_path, signer=self.key)
        await self.store.open()
        self.service = RunService(self.store)

    async def jwks(self) -> dict[str, Any]:
        return jwks(await self.store.published_keys())


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    key = SigningKey.generate()
    store = SqliteRunStore(tmp_path / "ledger.db", signer=key)
    await store.open()
    env = Ledger(tmp_path / "ledger.db", key, store, RunService(store))
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
