"""The agent-facing contract: which tools exist in which toolset, their hints, schemas and descriptions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.mcp_server.conftest import ClientFactory, never_asked
from tests.mcp_server.scenario import Call, caller
from tests.mcp_server.tool_calls import run_scoped_calls
from tests.servers import ALL_TOOLSETS
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server.toolsets import all_tools, enabled_tools
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"

CORE = {
    "list_runs",
    "get_run",
    "start_run",
    "resolve_gate",
    "write_artifact",
    "export_bundle",
    "verify_run_integrity",
    "validate_run_bundle",
    "list_workflows",
    "next_actions",
    "begin_step",
    "complete_step",
    "complete_run",
    "audit_log",
}
STEPS = {
    "fail_step",
    "request_gate",
    "request_review",
    "resolve_checkpoint",
    "cancel_run",
    "fail_run",
    "raise_budget",
    "wait_for_decision",
    "ask_user_to_review",
}
TELEMETRY = {"log_model_io", "log_tool_call", "annotate", "patch_artifact", "replace_rule_set"}
READ = {
    "list_runs",
    "get_run",
    "export_bundle",
    "verify_run_integrity",
    "validate_run_bundle",
    "list_workflows",
    "next_actions",
    "audit_log",
    "wait_for_decision",
}
READ_OUTSIDE_STEPS = READ - STEPS


def test_registry_toolsets() -> None:
    by_set = {ts: {s.name for s in all_tools() if s.toolset is ts} for ts in Toolset}
    assert by_set == {Toolset.CORE: CORE, Toolset.STEPS: STEPS, Toolset.TELEMETRY: TELEMETRY}
    assert {s.name for s in all_tools() if s.read_only} == READ


@pytest.mark.parametrize(
    ("toolsets", "read_only", "expected"),
    [
        ({Toolset.CORE}, False, CORE),
        ({Toolset.CORE, Toolset.STEPS}, False, CORE | STEPS),
        (set(Toolset), False, CORE | STEPS | TELEMETRY),
        (set(Toolset), True, READ),
        ({Toolset.TELEMETRY}, False, CORE | TELEMETRY),  # core is always on
        ({Toolset.TELEMETRY}, True, READ_OUTSIDE_STEPS),
    ],
)
def test_enabled_tools_filters_by_toolset_then_read_only(
    toolsets: set[Toolset], read_only: bool, expected: set[str]
) -> None:
    assert {s.name for s in enabled_tools(all_tools(), toolsets, read_only)} == expected


ALICE = Principal("user:alice", "alice")
APPROVE_PARSER = {"stepId": "parser1", "gate": "PAUSE_BEFORE", "decision": "approved"}
SETUP: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # What a fresh jobSearchWorkflow run needs before the tool's first call can succeed.
    "begin_step": [("resolve_gate", APPROVE_PARSER)],
    "complete_step": [("resolve_gate", APPROVE_PARSER), ("begin_step", {"stepId": "parser1"})],
}


async def _arguments(call: Call, name: str) -> dict[str, Any]:
    """Arguments that succeed for `name` on a new run of its own (set up as SETUP says)."""
    run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
    await call("write_artifact", {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": {"x": 1}})
    for tool, arguments in SETUP.get(name, []):
        await call(tool, {"runId": run_id, **arguments})
    bundle = await call("export_bundle", {"runId": run_id})
    others: dict[str, dict[str, Any]] = {
        "list_runs": {},
        "list_workflows": {},
        "start_run": {"workflowId": "jobSearchWorkflow"},
        "verify_run_integrity": {"bundle": bundle},
        "validate_run_bundle": {"bundle": bundle},
    }
    return others[name] if name in others else run_scoped_calls(run_id)[name]


async def _everything_stored(service: RunService) -> list[tuple[str, int, list[Any]]]:
    """Every run of the tenant with its revision and trace, read past the tools under test."""
    page = await service.reads.list_runs(ALICE, limit=500)
    runs = [await service.reads.get_run(ALICE, meta["id"]) for meta in page.items]
    return [(r["run"]["id"], r["revision"], r["trace"]) for r in runs]


async def test_every_tool_states_its_hints_truthfully(local_client: ClientFactory, service: RunService) -> None:
    """Read-only tools change nothing; a second call of an idempotent tool changes nothing more.
    The hints come from the live tools/list, so a tool that gains or loses a hint is checked by what it does."""
    async with local_client(elicitation_callback=never_asked) as client:
        tools = (await client.list_tools()).tools
        call = caller(client)
        assert {t.name for t in tools} == CORE | STEPS | TELEMETRY
        for tool in tools:
            hints = tool.annotations
            assert hints is not None
            assert tool.title
            assert tool.description
            assert hints.read_only_hint is (tool.name in READ), tool.name
            assert hints.open_world_hint is False
            if hints.read_only_hint:
                # The spec gives destructive/idempotent hints meaning only when readOnlyHint is false.
                assert (hints.destructive_hint, hints.idempotent_hint) == (None, None), tool.name
            else:
                assert hints.destructive_hint is not None, tool.name
                assert hints.idempotent_hint is not None, tool.name
            if not (hints.read_only_hint or hints.idempotent_hint):
                continue
            arguments = await _arguments(call, tool.name)
            if hints.read_only_hint:
                before = await _everything_stored(service)
                await call(tool.name, arguments)
                assert await _everything_stored(service) == before, f"{tool.name} is marked read-only"
            else:
                await call(tool.name, arguments)  # the first call must do its work
                after_first = await _everything_stored(service)
                await client.call_tool(tool.name, arguments)  # may answer an error; must change nothing
                assert await _everything_stored(service) == after_first, f"{tool.name} is marked idempotent"
    checked = {
        t.name for t in tools if t.annotations and (t.annotations.read_only_hint or t.annotations.idempotent_hint)
    }
    assert {"get_run", "export_bundle", "begin_step", "complete_run"} <= checked  # the loop did run
    destructive = {t.name for t in tools if t.annotations and t.annotations.destructive_hint}
    assert destructive == {"fail_step", "complete_run", "cancel_run", "fail_run"}


async def test_every_tool_has_an_output_schema_and_typed_inputs(local_client: ClientFactory) -> None:
    async with local_client() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for tool in tools.values():
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema["type"] == "object", tool.name
    limit = tools["list_runs"].input_schema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"]) == (1, 500)
    gate = tools["resolve_gate"].input_schema["properties"]["gate"]
    assert gate["enum"] == ["PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"]
    assert tools["resolve_gate"].input_schema["required"] == ["runId", "stepId", "gate", "decision"]
    assert tools["write_artifact"].input_schema["required"] == ["runId", "artifactKey", "typeId", "data"]
    assert tools["start_run"].input_schema["properties"]["workflowId"]["enum"] == ["jobSearchWorkflow"]
    assert tools["get_run"].input_schema["properties"]["runId"]["minLength"] == 1


def _dump(tools: list[Any]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


async def test_tools_list_matches_the_reviewed_snapshot(local_client: ClientFactory) -> None:
    """Descriptors are reviewed like code (D10): refresh with UPDATE_SNAPSHOTS=1 and read the diff."""
    async with local_client(toolsets=ALL_TOOLSETS, elicitation_callback=never_asked) as client:
        current = _dump((await client.list_tools()).tools)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert SNAPSHOT.exists(), "missing snapshot: run with UPDATE_SNAPSHOTS=1"
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))
