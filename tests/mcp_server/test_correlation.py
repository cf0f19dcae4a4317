"""Every mutating tool stamps its correlationId on each trace event it writes."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from tests.mcp_server.conftest import ClientFactory
from tests.mcp_server.scenario import add_reference_checkpoint, caller
from tests.mcp_server.tool_calls import run_scoped_calls
from workbench_mcp.mcp_server.toolsets import all_tools
from workbench_mcp.service import RunService

# raise_budget writes no trace event (a governance record, which carries its correlationId; tests/governance).
MUTATING = sorted(s.name for s in all_tools() if not s.read_only and s.name not in ("start_run", "raise_budget"))
APPROVE = {"stepId": "parser1", "gate": "PAUSE_BEFORE", "decision": "approved"}
PREREQUISITES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "begin_step": [("resolve_gate", APPROVE)],
    "complete_step": [("resolve_gate", APPROVE), ("begin_step", {"stepId": "parser1"})],
    "patch_artifact": [("write_artifact", {"artifactKey": "k", "typeId": "t", "data": {"x": 1}})],
}


async def approve(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"decision": "approve"})


@pytest.mark.parametrize("tool", MUTATING)
async def test_mutating_tool_stamps_correlation_id(local_client: ClientFactory, service: RunService, tool: str) -> None:
    async with local_client(elicitation_callback=approve) as client:  # ask_user_to_review's user approves
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        for setup_tool, arguments in PREREQUISITES.get(tool, []):
            await call(setup_tool, {"runId": run_id, **arguments})
        if tool == "resolve_checkpoint":
            await add_reference_checkpoint(service, "user:alice", run_id, "parser1", "cp")
        before = (await call("get_run", {"runId": run_id}))["revision"]
        await call(tool, {**run_scoped_calls(run_id)[tool], "correlationId": f"corr-{tool}"})
        trace = (await call("get_run", {"runId": run_id}))["trace"]
    written = trace[before:]
    assert written, f"{tool} wrote no event"
    assert {e.get("correlationId") for e in written} == {f"corr-{tool}"}


async def test_start_run_stamps_correlation_id(local_client: ClientFactory) -> None:
    async with local_client() as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow", "correlationId": "c0"}))["runId"]
        trace = (await call("get_run", {"runId": run_id}))["trace"]
    assert [(e["type"], e.get("correlationId")) for e in trace] == [("rule_changed", "c0")]
