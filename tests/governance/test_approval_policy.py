"""Approval policies pinned per run: separation of duties (starter or completer), quorum, rejection closes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.servers import ALL_TOOLSETS, error_code, payload, server_config
from workbench_mcp.auth import acting_as
from workbench_mcp.config import ServerConfig
from workbench_mcp.mcp_server.server import build_mcp_server
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService

TENANT = "org_team"
Actor = Callable[[str], AbstractAsyncContextManager[Client]]


def workflow(step_rule: dict[str, Any], gate: str) -> dict[str, Any]:
    policy = "PAUSE_BEFORE" if gate == "PAUSE_BEFORE" else "PAUSE_AFTER"
    return {
        "workflow": {"id": "w", "version": 1, "steps": [{"id": "s", "gatePolicy": policy}], "edges": []},
        "governance": {"approvals": {"steps": {"s": {gate: step_rule}}}},
    }


@pytest.fixture
def rule() -> tuple[dict[str, Any], str]:
    return {"quorum": 1}, "PAUSE_BEFORE"


@pytest.fixture
def config(tmp_path: Path, rule: tuple[dict[str, Any], str]) -> ServerConfig:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "w.json").write_text(json.dumps(workflow(*rule)))
    return server_config(tmp_path, workflows_dir=folder)


@pytest.fixture
def as_user(service: RunService) -> Actor:
    @asynccontextmanager
    async def factory(subject: str) -> AsyncIterator[Client]:
        server = build_mcp_server(service, ALL_TOOLSETS)
        with acting_as(Principal(TENANT, subject)):  # every scope: only the policy stands in the way
            async with Client(server) as client:
                yield client

    return factory


async def call(actor: Actor, subject: str, tool: str, arguments: dict[str, Any]) -> Any:
    async with actor(subject) as client:
        return await client.call_tool(tool, arguments)


async def ok(actor: Actor, subject: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await call(actor, subject, tool, arguments)
    assert not result.is_error, result.structured_content
    return payload(result)


def decision(run_id: str, verdict: str = "approved", gate: str = "PAUSE_BEFORE") -> dict[str, Any]:
    return {"runId": run_id, "stepId": "s", "gate": gate, "decision": verdict}


async def test_the_starter_may_not_approve(as_user: Actor) -> None:
    run_id = (await ok(as_user, "alice", "start_run", {"workflowId": "w"}))["runId"]
    before = await ok(as_user, "alice", "get_run", {"runId": run_id})
    assert error_code(await call(as_user, "alice", "resolve_gate", decision(run_id))) == "NOT_AUTHORIZED"
    assert await ok(as_user, "alice", "get_run", {"runId": run_id}) == before
    records = (await ok(as_user, "bob", "audit_log", {"runId": run_id}))["records"]
    assert [(r["kind"], r["principal"], r["detail"].get("code")) for r in records if r["kind"] == "denied"] == [
        ("denied", "alice", "NOT_AUTHORIZED")
    ]
    assert (await ok(as_user, "bob", "resolve_gate", decision(run_id)))["changed"] is True


@pytest.mark.parametrize("rule", [({"quorum": 2, "separation": "none"}, "PAUSE_BEFORE")])
async def test_quorum_counts_distinct_approvers_and_a_rejection_starts_over(as_user: Actor) -> None:
    run_id = (await ok(as_user, "alice", "start_run", {"workflowId": "w"}))["runId"]
    assert (await ok(as_user, "bob", "resolve_gate", decision(run_id)))["pending"]["approvals"] == ["bob"]
    rejected = await ok(as_user, "carol", "resolve_gate", decision(run_id, "rejected"))
    assert rejected["changed"] is True  # recorded in the trace; the gate stays closed
    assert (await ok(as_user, "bob", "resolve_gate", decision(run_id)))["pending"]["approvals"] == ["bob"]
    opened = await ok(as_user, "alice", "resolve_gate", decision(run_id))  # separation "none": the starter counts
    assert opened["approvers"] == ["bob", "alice"]
    assert (await ok(as_user, "alice", "next_actions", {"runId": run_id}))["readySteps"] == ["s"]
    records = (await ok(as_user, "bob", "audit_log", {"runId": run_id}))["records"]
    rejection = next(r for r in records if r["kind"] == "rejection")
    assert (rejection["principal"], rejection["detail"]["discarded"]) == ("carol", ["bob"])


@pytest.mark.parametrize("rule", [({"separation": "completer"}, "PAUSE_AFTER")])
async def test_the_completer_may_not_approve_its_own_step(as_user: Actor) -> None:
    run_id = (await ok(as_user, "alice", "start_run", {"workflowId": "w"}))["runId"]
    await ok(as_user, "bob", "begin_step", {"runId": run_id, "stepId": "s"})
    await ok(as_user, "bob", "complete_step", {"runId": run_id, "stepId": "s"})
    after = decision(run_id, gate="PAUSE_AFTER")
    assert error_code(await call(as_user, "bob", "resolve_gate", after)) == "NOT_AUTHORIZED"
    assert (await ok(as_user, "alice", "resolve_gate", after))["changed"] is True  # the starter may, here


@pytest.mark.parametrize("rule", [({"subjects": ["rev"], "quorum": 2}, "PAUSE_BEFORE")])
async def test_the_policy_is_pinned_when_the_run_starts(as_user: Actor, service: RunService) -> None:
    run_id = (await ok(as_user, "alice", "start_run", {"workflowId": "w"}))["runId"]
    service.catalog.add(**{"workflow": workflow({}, "PAUSE_BEFORE")["workflow"]})  # the catalog loses its policy
    assert error_code(await call(as_user, "bob", "resolve_gate", decision(run_id))) == "NOT_AUTHORIZED"
    assert (await ok(as_user, "rev", "resolve_gate", decision(run_id)))["pending"]["quorum"] == 2
    fresh = (await ok(as_user, "alice", "start_run", {"workflowId": "w"}))["runId"]
    assert (await ok(as_user, "bob", "resolve_gate", decision(fresh)))["changed"] is True  # today's rules
