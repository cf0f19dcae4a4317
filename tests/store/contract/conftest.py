"""The store contract: every test in this folder runs against every backend in BACKENDS, through
the RunStore interface only. A new backend is a new parameter here, not a copy of the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.store.backends import BACKENDS, StoreBackend
from workbench_mcp.store.run_store import RunStore


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreBackend]:
    opened = BACKENDS[request.param](tmp_path, request)
    yield opened
    await opened.close()


@pytest.fixture
async def store(backend: StoreBackend) -> RunStore:
    return await backend.open()
