"""Tenant isolation over real HTTP: another tenant's run is indistinguishable from a missing one, on every tool."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp_server.conftest import ClientFactory, never_asked
from tests.mcp_server.scenario import caller
from tests.mcp_server.tool_calls import run_scoped_calls
from tests.servers import error_code, payload


async def test_tenant_b_cannot_touch_tenant_a_runs(http_client: ClientFactory) -> None:
    async with http_client("alice", org="org_a") as alice:
        call_a = caller(alice)
        run_id = (await call_a("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        await call_a("write_artifact", {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": {"v": 1}})
        before = await call_a("get_run", {"runId": run_id})

    async with http_client("bob", org="org_b", elicitation_callback=never_asked) as bob:
        for tool, arguments in run_scoped_calls(run_id).items():
            result = await bob.call_tool(tool, arguments)
            assert error_code(result) == "UNKNOWN_RUN", tool
        hidden = payload(await bob.call_tool("get_run", {"runId": run_id}))
        missing = payload(await bob.call_tool("get_run", {"runId": "run_does-not-exist"}))
        listed = payload(await bob.call_tool("list_runs", {}))
        resources = await bob.list_resources()
        with pytest.raises(MCPError) as denied:
            await bob.read_resource(f"runs://{run_id}")
        with pytest.raises(MCPError) as absent:
            await bob.read_resource("runs://run_does-not-exist")

    # Same code and same message shape as a run that does not exist at all.
    assert hidden["error"].replace(run_id, "ID") == missing["error"].replace("run_does-not-exist", "ID")
    assert listed == {"runs": []}
    assert all(not str(r.uri).startswith("runs://") for r in resources.resources)
    assert denied.value.error.data == {"code": "UNKNOWN_RUN", "uri": f"runs://{run_id}"}
    assert denied.value.error.code == absent.value.error.code
    assert denied.value.error.message == f"No run named {run_id}"

    async with http_client("alice", org="org_a") as alice:
        after = await caller(alice)("get_run", {"runId": run_id})
    assert after == before


async def test_same_user_different_org_is_a_different_tenant(http_client: ClientFactory) -> None:
    async with http_client("carol", org="org_1") as in_org:
        run_id = (await caller(in_org)("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
    async with http_client("carol") as personal:  # no org claim: tenant "user:carol"
        assert error_code(await personal.call_tool("get_run", {"runId": run_id})) == "UNKNOWN_RUN"
    async with http_client("dave", org="org_1") as colleague:  # same org: same tenant
        assert (await caller(colleague)("get_run", {"runId": run_id}))["run"]["id"] == run_id
