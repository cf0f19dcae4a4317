"""A whole jobSearchWorkflow run driven through the MCP tools, as an agent would (shared by every transport)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from mcp import Client

from tests.servers import payload
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService

Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

PARSER_INPUTS = {"resumeText": "Ten years of Python.", "profiles": [{"label": "GitHub", "url": "https://x.test/a"}]}
PROFILE = {"headline": "Python engineer", "skills": ["python", "sql"], "summary": "Builds servers."}
JOBS = [{"id": "j1", "title": "Backend engineer", "company": "Acme", "url": "https://jobs.test/1"}]
SCORES = [{"jobId": "j1", "score": 0.9, "reasons": ["remote"]}]


async def add_reference_checkpoint(
    service: RunService, tenant: str, run_id: str, step_id: str, checkpoint_id: str
) -> None:
    """Give the run a pending named checkpoint, as a run made by the reference runtime arrives over REST PUT
    (its resolveCheckpoint(rejected) creates one; ours never does, D27)."""
    who = Principal(tenant, subject=tenant.removeprefix("user:"))
    body = await service.reads.get_run(who, run_id)
    for step, slots in body["gateState"]:
        if step == step_id:
            slots["checkpoints"][checkpoint_id] = "pending"
    await service.save_serialized(who, run_id, body)


def caller(client: Client) -> Call:
    async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, f"{tool} failed: {result.content}"
        return payload(result)

    return call


async def run_job_search(call: Call, *, correlation: str = "agent-action-1") -> dict[str, Any]:
    """start -> gates -> steps -> artifacts -> complete -> export -> verify; returns what the checks need."""
    workflows = await call("list_workflows", {})
    assert [w["id"] for w in workflows["workflows"]] == ["jobSearchWorkflow"]

    started = await call("start_run", {"workflowId": "jobSearchWorkflow", "tags": ["e2e"]})
    run_id = started["runId"]
    assert started == {"runId": run_id, "workflowId": "jobSearchWorkflow", "status": "running", "revision": 1}

    todo = await call("next_actions", {"runId": run_id})
    assert todo["pendingGates"] == [{"stepId": "parser1", "gate": "PAUSE_BEFORE"}]
    assert todo["readySteps"] == []
    assert todo["blockedSteps"][0] == {"type": "gate", "stepId": "parser1", "gate": "PAUSE_BEFORE"}

    wrote = await call(
        "write_artifact",
        {"runId": run_id, "artifactKey": "parserInputs", "typeId": "parserInputs", "data": PARSER_INPUTS},
    )
    assert (wrote["ok"], wrote["version"], wrote["artifactKey"]) == (True, 1, "parserInputs")

    blocked = await call("begin_step", {"runId": run_id, "stepId": "parser1"})
    assert blocked["ok"] is False
    assert blocked["reason"]["type"] == "gate"

    resolved = await call(
        "resolve_gate",
        {
            "runId": run_id,
            "stepId": "parser1",
            "gate": "PAUSE_BEFORE",
            "decision": "approved",
            "note": "looks good",
            "expectedRevision": wrote["revision"],
            "correlationId": correlation,
        },
    )
    assert {k: resolved[k] for k in ("ok", "runId", "stepId", "decision")} == {
        "ok": True,
        "runId": run_id,
        "stepId": "parser1",
        "decision": "approved",
    }

    assert (await call("begin_step", {"runId": run_id, "stepId": "parser1", "correlationId": correlation}))["ok"]
    profile_args = {
        "runId": run_id,
        "artifactKey": "compiledProfile",
        "typeId": "compiledProfile",
        "data": PROFILE,
        "idempotencyKey": "profile-1",
        "correlationId": correlation,
    }
    first = await call("write_artifact", profile_args)
    replay = await call("write_artifact", profile_args)
    assert (first["version"], first["replayed"]) == (1, False)
    assert (replay["version"], replay["replayed"], replay["revision"]) == (1, True, first["revision"])
    await call("complete_step", {"runId": run_id, "stepId": "parser1"})

    assert (await call("begin_step", {"runId": run_id, "stepId": "jobSearcher"}))["ok"]
    await call(
        "write_artifact", {"runId": run_id, "artifactKey": "potentialJobs", "typeId": "potentialJobs", "data": JOBS}
    )
    await call("complete_step", {"runId": run_id, "stepId": "jobSearcher"})

    todo = await call("next_actions", {"runId": run_id})
    assert todo["pendingGates"] == [{"stepId": "jobSearcher", "gate": "PAUSE_AFTER"}]
    assert todo["blockedSteps"] == [{"type": "predecessor_after_gate", "stepId": "output", "waitingOn": "jobSearcher"}]
    await call(
        "resolve_gate", {"runId": run_id, "stepId": "jobSearcher", "gate": "PAUSE_AFTER", "decision": "approved"}
    )
    assert (await call("next_actions", {"runId": run_id}))["readySteps"] == ["output"]

    assert (await call("begin_step", {"runId": run_id, "stepId": "output"}))["ok"]
    await call(
        "write_artifact", {"runId": run_id, "artifactKey": "scoredResults", "typeId": "scoredResults", "data": SCORES}
    )
    await call("complete_step", {"runId": run_id, "stepId": "output"})
    assert (await call("next_actions", {"runId": run_id}))["canCompleteRun"] is True
    ended = await call("complete_run", {"runId": run_id, "reason": "done", "correlationId": correlation})
    assert (ended["ok"], ended["status"], ended["stepsNeverRun"]) == (True, "completed", [])
    done = await call("next_actions", {"runId": run_id})
    assert [done[k] for k in ("pendingGates", "readySteps", "runningSteps", "blockedSteps", "canCompleteRun")] == [
        [],
        [],
        [],
        [],
        False,
    ]

    bundle = await call("export_bundle", {"runId": run_id})
    assert bundle["protocolVersion"] == "1.0.0"
    assert bundle["run"]["status"] == "completed"
    assert {a["artifactKey"] for a in bundle["artifacts"]} == {
        "parserInputs",
        "compiledProfile",
        "potentialJobs",
        "scoredResults",
    }
    verdict = await call("verify_run_integrity", {"bundle": bundle})
    assert verdict == {"ok": True, "sha256": bundle["integrity"]["sha256"]}
    assert await call("validate_run_bundle", {"bundle": bundle}) == {"ok": True}

    tampered = json.loads(json.dumps(bundle))
    tampered["artifacts"][0]["data"] = {"forged": True}
    assert (await call("verify_run_integrity", {"bundle": tampered}))["ok"] is False

    state = await call("get_run", {"runId": run_id})
    assert state["run"]["status"] == "completed"
    assert state["stepStatus"] == [["parser1", "completed"], ["jobSearcher", "completed"], ["output", "completed"]]
    assert [key for key, _ in state["artifactsByKey"]] == [
        "parserInputs",
        "compiledProfile",
        "potentialJobs",
        "scoredResults",
    ]
    assert state["idempotency"] == [["profile-1", {"artifactKey": "compiledProfile", "version": 1}]]
    correlated = [e["type"] for e in state["trace"] if e.get("correlationId") == correlation]
    assert correlated == ["human_gate_resolved", "step_started", "artifact_written", "run_status_changed"]

    listed = await call("list_runs", {"limit": 10})
    assert run_id in [r["id"] for r in listed["runs"]]
    return {"runId": run_id, "bundle": bundle, "state": state}
