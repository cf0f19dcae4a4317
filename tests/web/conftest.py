"""Fixtures for HTTP tests: the app on uvicorn with a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.servers import running_server, server_config
from workbench_mcp.config import ServerConfig


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return server_config(tmp_path)


@pytest.fixture
async def base_url(config: ServerConfig) -> AsyncIterator[str]:
    async with running_server(config) as url:
        yield url
