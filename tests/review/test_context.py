"""The decision context a review link shows: graph position, artifacts with their diffs, rule sets, trace."""

from __future__ import annotations

import pytest

from tests.review.paused_runs import AGENT, drive_to_review
from workbench_mcp.commands import Annotate
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.principal import Principal
from workbench_mcp.review.context import MAX_TRACE_EVENTS, decision_context, load_decision_context
from workbench_mcp.service import RunService


async def test_the_context_of_a_pause_after_gate(runs: RunService) -> None:
    paused_run = await drive_to_review(runs)
    context = await load_decision_context(runs, AGENT, paused_run, step_id="jobSearcher", gate="PAUSE_AFTER")

    assert context.run_id == paused_run
    assert context.workflow_id == "jobSearchWorkflow"
    assert context.run_status == "running"
    assert (context.step.id, context.step.status, context.step.gate_policy) == (
        "jobSearcher",
        "completed",
        "PAUSE_AFTER",
    )
    assert context.gate == "PAUSE_AFTER"
    assert context.gate_status == "pending"
    assert context.reason == "Check the salaries"  # from the human_gate_requested event
    assert [(s.id, s.status) for s in context.dependencies] == [("parser1", "completed")]
    assert [(s.id, s.status) for s in context.dependents] == [("output", "pending")]

    by_key = {a.key: a for a in context.artifacts}
    assert [a.key for a in context.artifacts] == ["compiledProfile", "potentialJobs", "parserInputs"]
    assert [a.role for a in context.artifacts] == ["input", "output", "other"]
    jobs = by_key["potentialJobs"]
    assert (jobs.version, jobs.previous_version) == (2, 1)
    assert jobs.diff is not None
    assert '-    "pay": 100' in jobs.diff.splitlines()
    assert '+    "pay": 120' in jobs.diff.splitlines()
    assert "--- potentialJobs v1" in jobs.diff
    assert "+++ potentialJobs v2" in jobs.diff
    profile = by_key["compiledProfile"]  # v2 was a patch: v1 is replayed from the trace, v2 is the state's
    assert profile.version == 2
    assert profile.diff is not None
    assert '-  "headline": "Analyst"' in profile.diff.splitlines()
    assert '+  "headline": "Lead"' in profile.diff.splitlines()
    assert by_key["parserInputs"].diff is None
    assert by_key["parserInputs"].previous_version is None

    assert [rs.id for rs in context.rule_sets] == ["default"]
    assert [(r.id, r.priority, r.label) for r in context.rule_sets[0].rules] == [
        ("r1", 0, "Remote only"),
        ("r2", 1, "Ban keyword: unpaid"),
    ]
    assert '"kind": "keyword"' in context.rule_sets[0].rules[1].payload

    steps_seen = {e.step_id for e in context.trace}
    assert steps_seen <= {"jobSearcher", ""}  # the step's own events and run-level ones only
    assert "artifact_written" in [e.type for e in context.trace]
    assert context.trace[-1].type == "human_gate_requested"
    assert context.trace[-1].position == context.trace_total  # its place in the whole trace, 1-based
    assert context.trace_total > len(context.trace)


async def test_an_explicit_reason_wins_and_earlier_decisions_are_listed(runs: RunService) -> None:
    paused_run = await drive_to_review(runs)
    await runs.resolve_gate(
        AGENT, paused_run, step_id="jobSearcher", gate="PAUSE_AFTER", decision="rejected", note="redo"
    )
    context = await load_decision_context(
        runs, AGENT, paused_run, step_id="jobSearcher", gate="PAUSE_AFTER", reason="second look"
    )
    assert context.reason == "second look"
    assert [(d.event["decision"], d.event["note"]) for d in context.decisions] == [("rejected", "redo")]
    assert context.gate_status == "pending"


async def test_another_tenants_run_is_a_missing_run(runs: RunService) -> None:
    paused_run = await drive_to_review(runs)
    with pytest.raises(WorkbenchError) as raised:
        await load_decision_context(
            runs, Principal("org:other", subject="agent-7"), paused_run, step_id="jobSearcher", gate="PAUSE_AFTER"
        )
    assert raised.value.code is ErrorCode.UNKNOWN_RUN


async def test_the_trace_shown_is_the_most_recent_and_bounded(runs: RunService) -> None:
    run_id = await drive_to_review(runs)
    for i in range(MAX_TRACE_EVENTS + 5):
        await runs.execute(AGENT, run_id, Annotate(text=f"note {i}"))
    state = await runs.reads.get_run(AGENT, run_id)
    context = decision_context(state, step_id="jobSearcher", gate="PAUSE_AFTER")
    assert len(context.trace) == MAX_TRACE_EVENTS
    assert context.trace[-1].event.get("text") == f"note {MAX_TRACE_EVENTS + 4}"


async def test_a_first_version_and_an_unpatchable_history_have_no_diff(runs: RunService) -> None:
    paused_run = await drive_to_review(runs)
    state = await runs.reads.get_run(AGENT, paused_run)
    # A trace whose v1 of potentialJobs was lost (a bundle from elsewhere): no diff rather than a wrong one.
    state["trace"] = [
        e
        for e in state["trace"]
        if not (e.get("type") == "artifact_written" and e["artifact"]["artifactKey"] == "potentialJobs")
    ]
    context = decision_context(state, step_id="jobSearcher", gate="PAUSE_AFTER")
    jobs = next(a for a in context.artifacts if a.key == "potentialJobs")
    assert jobs.previous_version == 1
    assert jobs.diff is None
