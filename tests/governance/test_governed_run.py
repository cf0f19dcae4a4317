"""A governed workflow (examples/workflows/governed.json) end to end over real HTTP with three tokens: the agent
cannot approve, a quorum-2 gate opens on the second distinct approval, a 1,000-token budget stops new work until a
reviewer raises it; audit_log and the exported bundle's audit member name every step; the reference verifies it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.interop.node_process import NodeOracle
from tests.servers import ALL_TOOLSETS, error_code, mcp_client, payload, running_server, server_config, token
from workbench_mcp.scopes import APPROVE, READ, WRITE
from workbench_mcp.workflows import WorkflowCatalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
WORKFLOW = "governedRelease"
ORG = "org_acme"  # one team: the agent and its reviewers share the tenant


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    config = server_config(tmp_path, toolsets=ALL_TOOLSETS, workflows_dir=EXAMPLES)
    async with running_server(config) as url:
        yield url


def test_the_shipped_example_loads() -> None:
    catalog = WorkflowCatalog.with_builtins()
    catalog.load_directory(EXAMPLES)
    governance = catalog.get(WORKFLOW).governance
    assert governance is not None
    assert governance.budget is not None
    assert governance.approvals is not None
    assert governance.budget.maxTotalTokens == 1000
    assert governance.approvals.steps["draft"]["PAUSE_AFTER"].quorum == 2


async def ok(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}: {result.structured_content}"
    return payload(result)


async def refused(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    return error_code(await client.call_tool(tool, arguments))


async def test_agent_and_two_reviewers(base_url: str) -> None:
    url = base_url + "/api/mcp"
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("agent", ORG)) as agent_all_scopes,  # no scope claim: the default, all four
        mcp_client(url, token("reviewer-1", ORG, scopes=[READ, APPROVE])) as reviewer1,
        mcp_client(url, token("reviewer-2", ORG, scopes=[READ, APPROVE])) as reviewer2,
    ):
        run_id = (await ok(agent, "start_run", {"workflowId": WORKFLOW}))["runId"]
        await ok(agent, "begin_step", {"runId": run_id, "stepId": "draft"})
        await ok(agent, "complete_step", {"runId": run_id, "stepId": "draft"})
        decision = {"runId": run_id, "stepId": "draft", "gate": "PAUSE_AFTER", "decision": "approved"}

        assert "resolve_gate" not in {t.name for t in (await agent.list_tools()).tools}
        assert await refused(agent, "resolve_gate", decision) == "INSUFFICIENT_SCOPE"
        assert await refused(agent_all_scopes, "resolve_gate", decision) == "NOT_AUTHORIZED"  # not a listed approver

        first = await ok(reviewer1, "resolve_gate", {**decision, "note": "reads well"})
        assert (first["changed"], first["pending"]) == (False, {"approvals": ["reviewer-1"], "quorum": 2})
        again = await ok(reviewer1, "resolve_gate", decision)  # the same approver twice is still one
        assert (again["changed"], again["pending"]["approvals"]) == (False, ["reviewer-1"])
        todo = await ok(agent, "next_actions", {"runId": run_id})
        pending = {"stepId": "draft", "gate": "PAUSE_AFTER", "approvals": ["reviewer-1"], "quorum": 2}
        assert todo["pendingGates"] == [pending]
        assert todo["readySteps"] == []

        second = await ok(reviewer2, "resolve_gate", decision)
        assert (second["changed"], second["approvers"]) == (True, ["reviewer-1", "reviewer-2"])
        assert (await ok(agent, "next_actions", {"runId": run_id}))["readySteps"] == ["publish"]

        trace = (await ok(agent, "get_run", {"runId": run_id}))["trace"]
        resolved = [e for e in trace if e["type"] == "human_gate_resolved"]
        assert [(e["decision"], e["note"]) for e in resolved] == [
            ("approved", "approved by reviewer-1, reviewer-2")  # their notes are in the audit records
        ]

        records = (await ok(reviewer1, "audit_log", {"runId": run_id}))["records"]
        governed = [(r["kind"], r["principal"]) for r in records if r["kind"] != "mutation"]
        assert governed == [
            ("policy", "agent"),
            ("denied", "agent"),
            ("denied", "agent"),
            ("approval", "reviewer-1"),
            ("approval", "reviewer-2"),
            ("gate_opened", "reviewer-2"),
        ]
        assert records[0]["detail"]["policy"]["approvals"]["steps"]["draft"]["PAUSE_AFTER"]["quorum"] == 2
        assert records[0]["detail"]["digest"].startswith("sha256:")

        bundle = await ok(agent, "export_bundle", {"runId": run_id, "audit": True})
        names = {r["principal"] for r in bundle["audit"]["records"] if r["kind"] == "approval"}
        assert names == {"reviewer-1", "reviewer-2"}
        assert (await ok(agent, "verify_run_integrity", {"bundle": bundle}))["ok"] is True
        plain = await ok(agent, "export_bundle", {"runId": run_id})
        assert "audit" not in plain
        assert plain["integrity"] == bundle["integrity"]
    oracle = NodeOracle("reference_runner.mjs")
    try:
        assert oracle.ask({"verify": bundle}) == {"parsed": True, "verified": True, "imported": True}
    finally:
        oracle.close()


async def test_a_1000_token_budget(base_url: str) -> None:
    url = base_url + "/api/mcp"
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("reviewer-1", ORG, scopes=[READ, APPROVE])) as reviewer1,
        mcp_client(url, token("reviewer-2", ORG, scopes=[READ, APPROVE])) as reviewer2,
    ):
        run_id = (await ok(agent, "start_run", {"workflowId": WORKFLOW}))["runId"]
        start = await ok(agent, "next_actions", {"runId": run_id})
        assert start["budget"]["used"]["maxTotalTokens"] == 0
        assert start["budget"]["remaining"]["maxTotalTokens"] == 1000
        await ok(agent, "begin_step", {"runId": run_id, "stepId": "draft"})
        usage = {"inputTokens": 700, "outputTokens": 500, "totalTokens": 1200}
        spent = {"runId": run_id, "direction": "response", "stepId": "draft", "usage": usage, "correlationId": "m1"}
        await ok(agent, "log_model_io", spent)  # the spend happened: always recorded
        await ok(agent, "complete_step", {"runId": run_id, "stepId": "draft"})
        gate = {"runId": run_id, "stepId": "draft", "gate": "PAUSE_AFTER", "decision": "approved"}
        await ok(reviewer1, "resolve_gate", gate)
        await ok(reviewer2, "resolve_gate", gate)

        over = await ok(agent, "next_actions", {"runId": run_id})
        assert over["budget"]["used"]["maxTotalTokens"] == 1200
        assert over["budget"]["remaining"]["maxTotalTokens"] == 0
        assert over["budget"]["exceeded"] == ["maxTotalTokens"]
        assert over["readySteps"] == []
        assert over["blockedSteps"][0] == {"type": "budget", "stepId": "publish", "exceeded": ["maxTotalTokens"]}
        revision = over["revision"]
        assert await refused(agent, "begin_step", {"runId": run_id, "stepId": "publish"}) == "BUDGET_EXCEEDED"
        assert (await ok(agent, "next_actions", {"runId": run_id}))["revision"] == revision  # nothing changed

        lower = {"runId": run_id, "budget": {"maxTotalTokens": 900}, "note": "less"}
        assert await refused(reviewer1, "raise_budget", lower) == "INVALID_INPUT"
        assert await refused(agent, "raise_budget", {**lower, "budget": {"maxTotalTokens": 5000}}) == (
            "INSUFFICIENT_SCOPE"
        )
        raised = {"runId": run_id, "budget": {"maxTotalTokens": 5000}, "note": "the draft was long"}
        assert (await ok(reviewer1, "raise_budget", raised))["budget"]["maxTotalTokens"] == 5000
        assert (await ok(agent, "begin_step", {"runId": run_id, "stepId": "publish"}))["ok"] is True
        assert (await ok(agent, "next_actions", {"runId": run_id}))["budget"]["remaining"]["maxTotalTokens"] == 3800

        records = (await ok(reviewer1, "audit_log", {"runId": run_id}))["records"]
        story = [(r["kind"], r["principal"], r["tool"]) for r in records if r["tool"] != "resolve_gate"]
        assert story == [
            ("policy", "agent", "start_run"),  # this workflow has no rule sets, so starting writes no event
            ("mutation", "agent", "begin_step"),
            ("mutation", "agent", "log_model_io"),
            ("mutation", "agent", "complete_step"),
            ("mutation", "agent", "complete_step"),  # step_completed, then the PAUSE_AFTER gate's request
            ("denied", "agent", "begin_step"),
            ("denied", "agent", "raise_budget"),
            ("budget_raised", "reviewer-1", "raise_budget"),
            ("mutation", "agent", "begin_step"),
        ]
        denied = next(r for r in records if r["kind"] == "denied")
        assert denied["detail"]["code"] == "BUDGET_EXCEEDED"
        assert denied["detail"]["budget"]["used"]["maxTotalTokens"] == 1200
        raise_record = next(r for r in records if r["kind"] == "budget_raised")
        assert raise_record["detail"]["note"] == "the draft was long"
        assert raise_record["detail"]["previous"]["maxTotalTokens"] == 1000


async def test_start_run_may_tighten_the_budget_never_loosen_it(base_url: str) -> None:
    async with mcp_client(base_url + "/api/mcp", token("agent", ORG)) as agent:
        looser = {"workflowId": WORKFLOW, "budget": {"maxTotalTokens": 2000}}
        assert await refused(agent, "start_run", looser) == "INVALID_INPUT"
        run_id = (await ok(agent, "start_run", {**looser, "budget": {"maxTotalTokens": 10}}))["runId"]
        todo = await ok(agent, "next_actions", {"runId": run_id})
        assert todo["budget"]["limit"]["maxTotalTokens"] == 10
        assert todo["budget"]["limit"]["maxModelCalls"] == 20  # the workflow's other limits stay
        # Built-in workflows keep today's behaviour: no policy, no budget reported.
        plain = (await ok(agent, "start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        assert "budget" not in await ok(agent, "next_actions", {"runId": plain})
        # A policy is pinned at the start only: a run without a budget has none to raise.
        raising = {"runId": plain, "budget": {"maxTotalTokens": 10}, "note": "n"}
        assert await refused(agent, "raise_budget", raising) == "INVALID_INPUT"
