"""audit_log(runId): the run's mutations (who, which tool, correlation id, when) and its refusals, oldest first."""

from __future__ import annotations

from mcp import Client

from tests.mcp_server.conftest import ClientFactory
from tests.mcp_server.scenario import caller
from tests.servers import ALL_TOOLSETS, error_code
from workbench_mcp.mcp_server.server import build_mcp_server
from workbench_mcp.service import RunService


async def test_mutations_and_denials_in_order_and_tenant_scoped(local_client: ClientFactory) -> None:
    async with local_client("user:alice") as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow", "correlationId": "c-1"}))["runId"]
        write = {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": {}, "correlationId": "c-2"}
        await call("write_artifact", write)
        records = (await call("audit_log", {"runId": run_id}))["records"]
    assert [(r["kind"], r["principal"], r["tool"], r.get("correlationId")) for r in records] == [
        ("mutation", "alice", "start_run", "c-1"),
        ("mutation", "alice", "write_artifact", "c-2"),
    ]
    assert all(r["eventId"].startswith("evt_") and r["at"].endswith("Z") for r in records)
    async with local_client("user:bob") as other:
        assert error_code(await other.call_tool("audit_log", {"runId": run_id})) == "UNKNOWN_RUN"


async def test_a_call_without_any_principal_is_unauthorized_not_a_crash(service: RunService) -> None:
    async with Client(build_mcp_server(service, ALL_TOOLSETS)) as client:
        assert error_code(await client.call_tool("list_runs", {})) == "UNAUTHORIZED"
