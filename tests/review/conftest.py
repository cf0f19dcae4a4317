"""Review fixtures. ReviewService: a real RunService on each backend, a catalog with a governed and an ungoverned
reviewed workflow, and a ReviewService whose clock the test moves (links expire) and whose notifier keeps what it
was handed. Webhook: a real service on each backend with a started run, notices for it, webhook configs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.servers import server_config
from workbench_mcp.config import ServerConfig, WebhookConfig
from workbench_mcp.principal import Principal
from workbench_mcp.review.links import LinkSigner
from workbench_mcp.review.notice import ReviewNotice
from workbench_mcp.review.service import ReviewService
from workbench_mcp.service import RunService
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore
from workbench_mcp.wiring import ConfiguredStore, build_service
from workbench_mcp.workflows import WorkflowCatalog

TENANT = "org_review"
AGENT = Principal(TENANT, "agent_7", frozenset({"runs:read", "runs:write"}))
BASE_URL = "https://workbench.example"
GOVERNED = "reviewed"
PLAIN = "plain"


@dataclass
class MovableNow:
    moment: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class KeptNotices:
    """A ReviewNotifier that keeps every notice (the webhook notifier delivers them; that is not this layer)."""

    notices: list[ReviewNotice] = field(default_factory=list)

    async def notify(self, notice: ReviewNotice) -> None:
        self.notices.append(notice)


def workflow_file(workflow_id: str = GOVERNED) -> dict[str, Any]:
    """A workflow file's document (README "Governance"): draft (PAUSE_BEFORE) -> publish (PAUSE_AFTER); the
    governed one lets alice and bob approve."""
    steps = [{"id": "draft", "gatePolicy": "PAUSE_BEFORE"}, {"id": "publish", "gatePolicy": "PAUSE_AFTER"}]
    edges = [{"id": "e1", "from": "draft", "to": "publish"}]
    document: dict[str, Any] = {"workflow": {"id": workflow_id, "version": 1, "steps": steps, "edges": edges}}
    if workflow_id == GOVERNED:
        document["governance"] = {"approvals": {"default": {"subjects": ["alice", "bob"]}}}
    return document


def catalog() -> WorkflowCatalog:
    found = WorkflowCatalog.with_builtins()
    for workflow_id in (GOVERNED, PLAIN):
        document = workflow_file(workflow_id)
        found.add(document["workflow"], governance=document.get("governance"))
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
async def runs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunService]:
    """The review service's runs on each backend: a link's single use holds on PostgreSQL's row lock too."""
    store: ConfiguredStore
    if request.param == "postgresql":
        store = PostgresRunStore(request.getfixturevalue("postgres_url"))
    else:
        store = SqliteRunStore(tmp_path / "workbench.db")
    await store.open()
    service = RunService(store, catalog=catalog())
    try:
        yield service
    finally:
        service.offload.close()
        await store.close()


@pytest.fixture
def now() -> MovableNow:
    return MovableNow()


@pytest.fixture
def kept() -> KeptNotices:
    return KeptNotices()


@pytest.fixture
def review(runs: RunService, now: MovableNow, kept: KeptNotices) -> ReviewService:
    return ReviewService(runs, LinkSigner.ephemeral(BASE_URL), kept, now=now)


async def start(runs: RunService, workflow_id: str = GOVERNED) -> str:
    run_id: str = (await runs.start_run(AGENT, workflow_id))["runId"]
    return run_id


def token_of(link: str) -> str:
    assert link.startswith(BASE_URL + "/review/")
    return link.removeprefix(BASE_URL + "/review/")


# --- webhook ---------------------------------------------------------------------------------------------

ALICE = Principal("org_acme", subject="user_alice")
WEBHOOK_SECRET = "whsec-test-0123456789abcdefghijklmnopqrstuvwxyz"
LINK = "http://127.0.0.1:8765/review/one-time-token-SECRET-LINK"


@dataclass
class World:
    service: RunService
    store: ConfiguredStore
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
def config(tmp_path: Path, database_url: str | None) -> ServerConfig:
    """A server's config on each backend: deliveries are governance rows in its store."""
    return server_config(tmp_path, database_url=database_url)


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
