"""The composition root: configuration -> workflow catalog, store and RunService (HTTP, stdio and tests share it)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workbench_mcp.config import ServerConfig
from workbench_mcp.ledger.keys import SigningKey, default_key_path, load_key, load_or_create_key
from workbench_mcp.offload import Offloader
from workbench_mcp.review import links
from workbench_mcp.review.notice import ReviewNotifier
from workbench_mcp.review.service import ReviewService
from workbench_mcp.service import RunService
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore
from workbench_mcp.workflows import WorkflowCatalog


def build_catalog(config: ServerConfig) -> WorkflowCatalog:
    """Built-in jobSearchWorkflow plus every *.json of --workflows; a bad file fails startup naming the file."""
    catalog = WorkflowCatalog.with_builtins()
    if config.workflows_dir is not None:
        if not config.workflows_dir.is_dir():
            raise NotADirectoryError(f"workflows directory {config.workflows_dir} does not exist")
        catalog.load_directory(config.workflows_dir)
    return catalog


ConfiguredStore = SqliteRunStore | PostgresRunStore


def build_service(config: ServerConfig, catalog: WorkflowCatalog | None = None) -> tuple[RunService, ConfiguredStore]:
    limits = config.limits
    signer = signing_key(config)[0]
    store: ConfiguredStore
    if config.database_url is not None:
        store = PostgresRunStore(config.database_url, limits=limits, signer=signer, pool_size=config.pg_pool_size)
    else:
        store = SqliteRunStore(config.db_path, limits=limits, durability=config.durability, signer=signer)
    offload = Offloader(threshold_bytes=config.rate_limit.offload_bytes or None)
    return RunService(store, catalog=catalog or build_catalog(config), limits=limits, offload=offload), store


def signing_key(config: ServerConfig) -> tuple[SigningKey, bool]:
    """The ledger key: the configured file (which must exist), else `<db>.signing-key`, created on first
    use (mode 0600). True when it was created now."""
    if config.signing_key_file is not None:
        return load_key(config.signing_key_file), False
    return load_or_create_key(default_key_path(config.db_path))


def review_link_key(config: ServerConfig) -> tuple[bytes, bool]:
    """The review links' key: the configured file (which must exist), else `<db>.review-link-key`, created on
    first use (mode 0600). Every worker process and replica must use the same one. True when created now."""
    if config.review_link_key_file is not None:
        return links.read_key(config.review_link_key_file), False
    return links.load_or_create_key(links.default_key_path(config.db_path))


def build_review(config: ServerConfig, service: RunService, notifier: ReviewNotifier | None = None) -> ReviewService:
    """Review requests and links (README "Human review"); without a notifier nobody is notified (NoNotifier):
    operators hand out links minted with `workbench-mcp review-link`."""
    key, _ = review_link_key(config)
    return ReviewService(service, links.LinkSigner(key, config.base_url), notifier)


REQUEST_STATE_KDF_INFO = b"workbench-mcp/request-state/v1"


def request_state_key(config: ServerConfig) -> bytes:
    """The key sealing 2026-07-28 `requestState` (the SDK's default is per process): derived from the ledger key,
    which every worker of `serve --workers N` loads from the same file (created before they start), so the
    second round trip of an elicitation may land on any worker. HKDF with its own label: knowing this key tells
    nothing about the signing key."""
    seed = signing_key(config)[0].private_key.private_bytes_raw()
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=REQUEST_STATE_KDF_INFO).derive(seed)


@asynccontextmanager
async def open_service(config: ServerConfig, catalog: WorkflowCatalog | None = None) -> AsyncIterator[RunService]:
    service, store = build_service(config, catalog)
    await store.open()
    try:
        yield service
    finally:
        service.offload.close()
        await store.close()


@asynccontextmanager
async def open_demo_service() -> AsyncIterator[RunService]:
    """A throw-away store in a temporary directory, for the public demo run: no route but /runs/demo and
    no token can reach it, so the demo can never leak into, or be changed from, any tenant."""
    with tempfile.TemporaryDirectory(prefix="workbench-demo-") as folder:
        async with open_service(ServerConfig(db_path=Path(folder) / "demo.db")) as service:
            yield service
