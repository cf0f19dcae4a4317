"""The composition root: configuration -> workflow catalog, store and RunService (HTTP, stdio and tests share it)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from workbench_mcp.config import ServerConfig
from workbench_mcp.ledger.keys import SigningKey, default_key_path, load_key, load_or_create_key
from workbench_mcp.offload import Offloader
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
