"""Review fixtures: a real SQLite-backed service with a started run, notices for it, webhook configs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import server_config
from workbench_mcp.config import ServerConfig, WebhookConfig
from workbench_mcp.principal import Principal
from workbench_mcp.review.notice import ReviewNotice
from workbench_mcp.service import RunService
from workbench_mcp.store.sqlite_store import SqliteRunStore
from workbench_mcp.wiring import build_service

ALICE = Principal("org_acme", subject="user_alice")
WEBHOOK_SECRET = "whsec-test-0123456789abcdefghijklmnopqrstuvwxyz"
LINK = "http://127.0.0.1:8765/review/one-time-token-SECRET-LINK"


@dataclass
class World:
    service: RunService
    store: SqliteRunStore
    run_id: str

    def notice(self, reviewer: str = "user_bob", **changes: Any) -> ReviewNotice:
        fields: dict[str, Any] = {
            "request_id": "rr_1",
            "tenant_id": ALICE.tenant_id,
            "run_id": self.run_id,
            "workflow_id": "jobSearchWorkflow",
            "step_id": "parser1",
            "gate": "PAUSE_BEFORE",
            "reason": "please check the parsed fields",
            "reviewer": reviewer,
            "link": LINK,
            "expires_at": "2026-12-04T10:00:00.000Z",
        } | changes
        return ReviewNotice(**fields)

    async def deliveries(self) -> list[dict[str, Any]]:
        """The run's `webhook_delivery` records as audit_log renders them."""
        log = await self.service.reads.audit_log(ALICE, self.run_id)
        return [r for r in log["records"] if r["kind"] == "webhook_delivery"]


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return server_config(tmp_path)


@pytest.fixture
async def world(config: ServerConfig) -> AsyncIterator[World]:
    service, store = build_service(config)
    await store.open()
    try:
        run_id = str((await service.start_run(ALICE, "jobSearchWorkflow"))["runId"])
        yield World(service, store, run_id)
    finally:
        service.offload.close()
        await store.close()


def webhook(url: str, **changes: Any) -> WebhookConfig:
    """A webhook config with test-sized waits: retries after ~10 ms, not seconds."""
    fields: dict[str, Any] = {"secret": WEBHOOK_SECRET, "backoff_base_s": 0.01, "backoff_max_s": 0.05} | changes
    return WebhookConfig(url, **fields)
