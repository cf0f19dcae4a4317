"""`--read-only` covers every surface: REST writes are refused and change nothing; the documents list no writes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx

from tests.servers import running_server, server_config
from tests.web.rest import RunFactory, rest_client
from workbench_mcp.config import ServerConfig
from workbench_mcp.mcp_server.toolsets import all_tools

WRITE_METHODS = {"put", "post", "patch", "delete"}
WRITE_TOOLS = {spec.name for spec in all_tools() if not spec.read_only}


async def test_rest_writes_on_a_read_only_server_are_refused_and_change_nothing(tmp_path: Path) -> None:
    writable = server_config(tmp_path)
    state = RunFactory().new(writes=2)
    run_id = state["run"]["id"]
    async with running_server(writable) as base, rest_client(base) as client:
        assert (await client.put(f"/api/runs/{run_id}", json=state)).status_code == 204
    async with running_server(replace(writable, read_only=True)) as base, rest_client(base) as client:
        before = await client.get(f"/api/runs/{run_id}")
        listed = (await client.get("/api/runs")).json()
        refused = {
            "PUT": await client.put(f"/api/runs/{run_id}", json=state),
            "PUT new": await client.put("/api/runs/run_new", json=state),
            "PUT huge": await client.put(f"/api/runs/{run_id}", content=b"x" * 30_000_000),
            "DELETE": await client.delete(f"/api/runs/{run_id}"),
            "DELETE If-Match": await client.delete(f"/api/runs/{run_id}", headers={"If-Match": before.headers["etag"]}),
        }
        after = await client.get(f"/api/runs/{run_id}")
        missing = await client.get("/api/runs/run_new")
        async with httpx.AsyncClient(base_url=base) as stranger:
            anonymous = await stranger.delete(f"/api/runs/{run_id}")
    for label, response in refused.items():
        assert response.status_code == 403, label
        assert response.json()["code"] == "READ_ONLY", label
        assert "--read-only" in response.json()["error"], label
    assert (after.status_code, after.json(), after.headers["etag"]) == (200, before.json(), before.headers["etag"])
    assert [meta["id"] for meta in listed] == [run_id]
    assert missing.status_code == 404
    assert anonymous.status_code == 401  # authentication still comes first


async def test_a_read_only_server_documents_no_write_operation(tmp_path: Path) -> None:
    config: ServerConfig = server_config(tmp_path, read_only=True)
    async with running_server(config) as base, httpx.AsyncClient(base_url=base) as client:
        openapi = (await client.get("/api/openapi.json")).json()
        agents = (await client.get("/agents.md")).text
        llms_full = (await client.get("/llms-full.txt")).text
        descriptor = (await client.get("/.well-known/mcp.json")).json()
    methods = {method for path in openapi["paths"].values() for method in path}
    assert methods == {"get"}
    assert "read-only" in openapi["info"]["description"]
    generated = llms_full.split("## Programmatic access")[1].split("## Trace")[0]  # not the README it embeds
    for text in (agents, generated):
        assert "PUT /api" not in text
        assert "DELETE /api" not in text
    tool_rows = {line.split("`")[1] for line in agents.splitlines() if line.startswith("| `")}
    assert tool_rows & WRITE_TOOLS == set()
    assert {tool["name"] for tool in descriptor["tools"]} & WRITE_TOOLS == set()
    assert "start the server without `--read-only`" in agents
