"""Gates mean what they say over MCP (D25-D27) and completion says what never ran (D19)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mcp_server.conftest import ClientFactory
from tests.mcp_server.scenario import add_reference_checkpoint, caller
from tests.servers import error_code, payload
from workbench_mcp.service import RunService

JOB_STEPS = ["parser1", "jobSearcher", "output"]  # PAUSE_BEFORE, PAUSE_AFTER, AUTO


async def _trace_and_revision(call: Any, run_id: str) -> tuple[list[dict[str, Any]], int]:
    state = await call("get_run", {"runId": run_id})
    return state["trace"], state["revision"]


@pytest.mark.parametrize(
    ("step", "gate", "decision", "says"),
    [
        ("parser1", "PAUSE_AFTER", "approved", "no PAUSE_AFTER gate"),
        ("parser1", "CHECKPOINT", "approved", 'gate="PAUSE_BEFORE"'),
        ("jobSearcher", "PAUSE_AFTER", "approved", "complete_step"),  # not completed yet
        ("jobSearcher", "PAUSE_BEFORE", "rejected", "starts without review"),
        ("output", "PAUSE_BEFORE", "rejected", "starts without review"),
        ("output", "CHECKPOINT", "approved", "starts without review"),
    ],
)
async def test_a_gate_the_step_does_not_have_is_refused_and_changes_nothing(
    local_client: ClientFactory, step: str, gate: str, decision: str, says: str
) -> None:
    async with local_client() as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        before = await _trace_and_revision(call, run_id)
        result = await client.call_tool(
            "resolve_gate", {"runId": run_id, "stepId": step, "gate": gate, "decision": decision}
        )
        assert error_code(result) == "GATE_NOT_APPLICABLE"
        assert says in payload(result)["error"]
        assert await _trace_and_revision(call, run_id) == before


async def test_reapproving_an_open_gate_is_a_no_op(local_client: ClientFactory) -> None:
    async with local_client() as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        approve = {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE", "decision": "approved"}
        first = await call("resolve_gate", approve)
        assert (first["changed"], first["gate"], first["revision"]) == (True, "PAUSE_BEFORE", 2)
        before = await _trace_and_revision(call, run_id)
        again = await call("resolve_gate", {**approve, "decision": "edited", "note": "still fine"})
        assert (again["ok"], again["changed"], again["revision"]) == (True, False, 2)
        assert await _trace_and_revision(call, run_id) == before
        rejected = await call("resolve_gate", {**approve, "decision": "rejected"})
        assert (rejected["changed"], rejected["revision"]) == (True, 3)


async def test_resolve_checkpoint_names_the_call_that_opens_the_step(local_client: ClientFactory) -> None:
    async with local_client() as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        before = await _trace_and_revision(call, run_id)
        result = await client.call_tool(
            "resolve_checkpoint",
            {"runId": run_id, "stepId": "parser1", "checkpointId": "scope", "decision": "approved"},
        )
        assert error_code(result) == "UNKNOWN_CHECKPOINT"
        assert 'resolve_gate(stepId="parser1", gate="PAUSE_BEFORE"' in payload(result)["error"]
        assert await _trace_and_revision(call, run_id) == before


async def test_resolve_checkpoint_resolves_a_checkpoint_that_waits(
    local_client: ClientFactory, service: RunService
) -> None:
    async with local_client() as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        await add_reference_checkpoint(service, "user:alice", run_id, "output", "tone")
        pending = (await call("next_actions", {"runId": run_id}))["pendingGates"]
        assert {"stepId": "output", "gate": "CHECKPOINT", "checkpointId": "tone"} in pending
        args = {"runId": run_id, "stepId": "output", "checkpointId": "tone", "decision": "approved"}
        assert (await call("resolve_checkpoint", args))["changed"] is True
        assert (await call("next_actions", {"runId": run_id}))["pendingGates"] == [
            {"stepId": "parser1", "gate": "PAUSE_BEFORE"}
        ]
        revision = (await call("get_run", {"runId": run_id}))["revision"]
        again = await call("resolve_checkpoint", args)
        assert (again["changed"], again["revision"]) == (False, revision)


async def test_can_complete_run_only_once_every_step_ran_or_was_skipped(local_client: ClientFactory) -> None:
    async with local_client() as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        assert (await call("next_actions", {"runId": run_id}))["canCompleteRun"] is False
        for step in JOB_STEPS:
            await call("fail_step", {"runId": run_id, "stepId": step, "message": "skipped: not needed"})
        assert (await call("next_actions", {"runId": run_id}))["canCompleteRun"] is True
        assert (await call("complete_run", {"runId": run_id}))["stepsNeverRun"] == []


async def test_complete_run_with_unfinished_steps_says_which_never_ran(local_client: ClientFactory) -> None:
    async with local_client() as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        await call("fail_step", {"runId": run_id, "stepId": "output", "message": "skipped"})
        ended = await call("complete_run", {"runId": run_id, "reason": "enough"})
        assert (ended["status"], ended["stepsNeverRun"]) == ("completed", ["parser1", "jobSearcher"])
        todo = await call("next_actions", {"runId": run_id})
        assert (todo["pendingGates"], todo["readySteps"], todo["blockedSteps"], todo["canCompleteRun"]) == (
            [],
            [],
            [],
            False,
        )
