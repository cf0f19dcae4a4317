"""A jobSearchWorkflow run paused at a review, with artifact history to diff (review page tests)."""

from __future__ import annotations

from typing import Any

from workbench_mcp.commands import BeginStep, CompleteStep, PatchArtifact, WriteArtifact
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.reference_workflow import JOB_SEARCH_WORKFLOW_ID
from workbench_mcp.service import RunService

AGENT = Principal("org:acme", subject="agent-7")
HOSTILE = '<script>alert("x")</script><img src=x onerror="alert(1)"> & \'quoted\''


async def drive_to_review(service: RunService, who: Principal = AGENT, *, extra: Any = None) -> str:
    """jobSearchWorkflow with parser1 done, jobSearcher completed and its PAUSE_AFTER gate requested:
    compiledProfile written then patched (v2), potentialJobs written twice (v2)."""
    run_id: str = (await service.start_run(who, JOB_SEARCH_WORKFLOW_ID))["runId"]
    await service.execute(
        who, run_id, WriteArtifact(artifact_key="parserInputs", type_id="parserInputs", data={"cv": "Ada"})
    )
    await service.resolve_gate(who, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    await service.execute(who, run_id, BeginStep(step_id="parser1"))
    await service.execute(
        who,
        run_id,
        WriteArtifact(artifact_key="compiledProfile", type_id="compiledProfile", data={"headline": "Analyst"}),
    )
    await service.execute(
        who,
        run_id,
        PatchArtifact(artifact_key="compiledProfile", patch=[{"op": "replace", "path": "/headline", "value": "Lead"}]),
    )
    await service.execute(who, run_id, CompleteStep(step_id="parser1"))
    await service.execute(who, run_id, BeginStep(step_id="jobSearcher"))
    await service.execute(
        who,
        run_id,
        WriteArtifact(artifact_key="potentialJobs", type_id="potentialJobs", data=[{"title": "Analyst", "pay": 100}]),
    )
    await service.execute(
        who,
        run_id,
        WriteArtifact(
            artifact_key="potentialJobs",
            type_id="potentialJobs",
            data=[{"title": "Analyst", "pay": 120}, {"title": "Programmer", "pay": 110, "note": extra}],
        ),
    )
    await service.execute(who, run_id, CompleteStep(step_id="jobSearcher"))
    await service.request_gate(who, run_id, step_id="jobSearcher", gate="PAUSE_AFTER", reason="Check the salaries")
    return run_id
