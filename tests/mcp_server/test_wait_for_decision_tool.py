"""wait_for_decision over real HTTP, on each backend: the official client waits while a reviewer decides through
another store on the server's database (the stdio/second-process path on SQLite's file, another replica on
PostgreSQL); another tenant's token gets UNKNOWN_RUN at once; the audit channel and principal come back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.servers import error_code, mcp_client, payload, running_server, server_config, token
from workbench_mcp.principal import Principal, tenant_for
from workbench_mcp.service import RunService
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore

GATE = {"stepId": "parser1", "gate": "PAUSE_BEFORE"}


async def test_the_tool_returns_a_decision_made_by_another_process_on_the_same_database(
    tmp_path: Path, database_url: str | None
) -> None:
    config = server_config(tmp_path, database_url=database_url)
    other_store = SqliteRunStore(config.db_path) if database_url is None else PostgresRunStore(database_url)
    async with running_server(config) as base, mcp_client(base + "/api/mcp", token("alice")) as agent:
        run_id = payload(await agent.call_tool("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        async with mcp_client(base + "/api/mcp", token("mallory")) as stranger:
            refused = await stranger.call_tool("wait_for_decision", {"runId": run_id, **GATE, "timeoutSeconds": 55})
            assert error_code(refused) == "UNKNOWN_RUN"
        async with other_store as other:
            reviewer = Principal(tenant_for("alice", None), "user_bob")

            async def decide() -> None:
                await asyncio.sleep(0.3)
                await RunService(other).resolve_gate(
                    reviewer, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="edited"
                )

            waited, _ = await asyncio.gather(
                agent.call_tool("wait_for_decision", {"runId": run_id, **GATE, "timeoutSeconds": 10}), decide()
            )
        body = payload(waited)
        assert (body["decided"], body["decision"], body["principal"], body["channel"]) == (
            True,
            "edited",
            "user_bob",
            "resolve_gate",
        )
