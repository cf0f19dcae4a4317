"""Fixtures for MCP tests: a real server on uvicorn (HTTP), and in-process servers over a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.types import ElicitRequestParams, ElicitResult

from tests.servers import ALL_TOOLSETS, mcp_client, running_server, server_config, token
from workbench_mcp.auth import acting_as
from workbench_mcp.config import ServerConfig, Toolset
from workbench_mcp.mcp_server.server import WorkbenchMCP, build_mcp_server
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService
from workbench_mcp.wiring import open_service

ClientFactory = Callable[..., AbstractAsyncContextManager[Client]]


async def never_asked(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    """An elicitation callback for tests whose calls must never reach the user (it declares the capability, so
    ask_user_to_review is listed and callable)."""
    raise AssertionError(f"the user was asked: {params.message}")


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return server_config(tmp_path)


@pytest.fixture
async def base_url(config: ServerConfig) -> AsyncIterator[str]:
    async with running_server(config) as url:
        yield url


@pytest.fixture
def http_client(base_url: str) -> ClientFactory:
    """`http_client(user="alice", org=None)`: the official client on /api/mcp with that user's token."""

    def factory(
        user: str = "alice",
        org: str | None = None,
        path: str = "/api/mcp",
        mode: str = "auto",
        elicitation_callback: ElicitationFnT | None = None,
    ) -> AbstractAsyncContextManager[Client]:
        return mcp_client(base_url + path, token(user, org), mode=mode, elicitation_callback=elicitation_callback)

    return factory


@pytest.fixture
async def service(config: ServerConfig) -> AsyncIterator[RunService]:
    async with open_service(config) as svc:
        yield svc


@pytest.fixture
def local_client(service: RunService) -> ClientFactory:
    """`local_client(tenant, toolsets=..., read_only=..., elicitation_callback=...)`: in-process client acting as
    `tenant` (a callback declares elicitation, so the tools that ask the user are listed too)."""

    @asynccontextmanager
    async def factory(
        tenant: str = "user:alice",
        toolsets: frozenset[Toolset] = ALL_TOOLSETS,
        read_only: bool = False,
        mode: str = "auto",
        elicitation_callback: ElicitationFnT | None = None,
    ) -> AsyncIterator[Client]:
        server: WorkbenchMCP = build_mcp_server(service, toolsets, read_only)
        with acting_as(Principal(tenant, subject=tenant.removeprefix("user:"))):
            async with Client(server, mode=mode, elicitation_callback=elicitation_callback) as client:
                yield client

    return factory
