"""The public demo run: one complete jobSearchWorkflow run, driven through RunService like any agent would.

It is built at startup in a store of its own (see `wiring.open_demo_service`), so no token can read or
change it, and `/runs/demo` shows real engine output: gate decisions (one rejected, then approved),
artifact versions written and patched, model I/O, a tool call inside a span, and a completed run.
"""

from __future__ import annotations

from workbench_mcp.commands import (
    Annotate,
    BeginSpan,
    BeginStep,
    CompleteStep,
    EndRun,
    EndSpan,
    LogModelIo,
    LogToolCall,
    PatchArtifact,
    WriteArtifact,
)
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.reference_workflow import JOB_SEARCH_WORKFLOW_ID
from workbench_mcp.service import RunService

DEMO_PRINCIPAL = Principal("demo", subject="demo-builder")


async def build_demo_run(service: RunService, who: Principal = DEMO_PRINCIPAL) -> str:
    """Drive a run from start to completion; returns its id."""
    started = await service.start_run(
        who, JOB_SEARCH_WORKFLOW_ID, tags=["demo", "job-search"], metadata={"purpose": "public demo"}
    )
    run_id: str = started.runId

    await service.execute(
        who,
        run_id,
        WriteArtifact(
            artifact_key="parserInputs",
            type_id="parserInputs",
            data={
                "resumeText": "Ada Lovelace. Analyst and programmer; 10 years of numerical methods.",
                "profiles": [{"site": "portfolio", "url": "https://example.org/ada"}],
                "preferences": {"remote": True, "minSalary": 120000},
            },
            idempotency_key="upload-1",
        ),
    )
    await service.resolve_gate(
        who, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="approved", note="Inputs reviewed"
    )

    # parser1: one model round trip compiles the profile; a reviewer's fix arrives as a JSON Patch.
    await service.execute(who, run_id, BeginStep(step_id="parser1"))
    request = LogModelIo(
        direction="request", step_id="parser1", provider="openai", model="gpt-4.1-mini",
        summary="Compile a structured profile from the resume",
    )  # fmt: skip
    await service.execute(who, run_id, request)
    response = LogModelIo(
        direction="response", step_id="parser1", provider="openai", model="gpt-4.1-mini",
        usage={"inputTokens": 812, "outputTokens": 164, "totalTokens": 976},
        cost={"amount": 0.0009, "currency": "USD"}, duration_ms=1840, summary="Profile with 3 skills",
    )  # fmt: skip
    await service.execute(who, run_id, response)
    await service.execute(
        who,
        run_id,
        WriteArtifact(
            artifact_key="compiledProfile",
            type_id="compiledProfile",
            data={"headline": "Analyst", "skills": ["numerical methods", "python"], "summary": "Analyst, 10y."},
        ),
    )
    await service.execute(
        who,
        run_id,
        PatchArtifact(
            artifact_key="compiledProfile",
            patch=[
                {"op": "replace", "path": "/headline", "value": "Senior analyst & programmer"},
                {"op": "add", "path": "/skills/-", "value": "technical writing"},
            ],
        ),
    )
    await service.execute(who, run_id, CompleteStep(step_id="parser1"))

    # jobSearcher: a search tool call inside a span; its PAUSE_AFTER gate is rejected once, then approved.
    await service.execute(who, run_id, BeginStep(step_id="jobSearcher"))
    begin = BeginSpan(name="search job boards", kind="client", step_id="jobSearcher")
    span = await service.execute(who, run_id, begin)
    await service.execute(
        who,
        run_id,
        LogToolCall(
            name="search_jobs",
            args={"query": "remote senior analyst", "limit": 2},
            result={"hits": 2},
            step_id="jobSearcher",
        ),
    )
    await service.execute(who, run_id, EndSpan(span_id=span["spanId"], status="ok"))
    await service.execute(
        who,
        run_id,
        WriteArtifact(
            artifact_key="potentialJobs",
            type_id="potentialJobs",
            data=[
                {
                    "title": "Quantitative analyst",
                    "company": "Difference Engines Ltd",
                    "url": "https://example.org/j/1",
                },
                {"title": "Numerical programmer", "company": "Analytical Co", "url": "https://example.org/j/2"},
            ],
        ),
    )
    await service.execute(who, run_id, CompleteStep(step_id="jobSearcher"))
    await service.resolve_gate(
        who, run_id, step_id="jobSearcher", gate="PAUSE_AFTER", decision="rejected", note="Include salary data"
    )
    await service.resolve_gate(
        who, run_id, step_id="jobSearcher", gate="PAUSE_AFTER", decision="approved", note="Good enough to score"
    )

    # output: scores the jobs against the rule set; the run is then completed.
    await service.execute(who, run_id, BeginStep(step_id="output"))
    await service.execute(
        who,
        run_id,
        WriteArtifact(
            artifact_key="scoredResults",
            type_id="scoredResults",
            data={"ranked": [{"job": 1, "score": 0.92}, {"job": 2, "score": 0.81}], "rules": ["r1", "r2"]},
        ),
    )
    await service.execute(who, run_id, CompleteStep(step_id="output"))
    await service.execute(who, run_id, Annotate(text="Shortlist sent to the candidate", tags=["handoff"]))
    await service.execute(who, run_id, EndRun(status="completed", reason="Shortlist delivered"))
    return run_id
