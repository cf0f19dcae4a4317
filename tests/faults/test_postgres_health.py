"""/healthz on PostgreSQL (web/app.py): 503 STORAGE_UNAVAILABLE while the database is unreachable, 200 again once
it is back, without restarting the server. A real cluster (tests/postgres_cluster.py), stopped and started."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.faults.conftest import call_tool
from tests.postgres_cluster import PostgresCluster
from tests.servers import running_server, server_config

HANG_GUARD_S = 60


async def _health(http: httpx.AsyncClient) -> httpx.Response:
    async with asyncio.timeout(HANG_GUARD_S):
        return await http.get("/healthz")


async def test_health_is_503_while_the_database_is_down_and_200_once_it_is_back(
    tmp_path: Path, postgres_url: str, postgres_cluster: PostgresCluster
) -> None:
    config = server_config(tmp_path, database_url=postgres_url)
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_S) as http:
        before = await _health(http)
        await asyncio.to_thread(postgres_cluster.stop, "fast")
        try:
            down = [await _health(http), await _health(http)]  # the pool's dead connection, then no connection
        finally:
            await asyncio.to_thread(postgres_cluster.start)
        back = await _health(http)
        async with asyncio.timeout(HANG_GUARD_S):
            started = await call_tool(http, "start_run", {"workflowId": "jobSearchWorkflow"})
    assert before.status_code == 200
    assert [r.status_code for r in down] == [503, 503]
    assert all(r.json()["code"] == "STORAGE_UNAVAILABLE" and not r.json()["ok"] for r in down)
    assert back.status_code == 200, back.text
    assert not started["isError"]
