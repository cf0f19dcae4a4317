"""The default install (`serve` / `stdio` with no flags) finishes a run, and says how to get what it leaves out.

An agent is driven by what the server tells it: the instructions, the tool descriptions and next_actions.
The loop below does only that (no knowledge of the catalog workflow), through the official Python client,
over HTTP in both protocol eras and over stdio, against servers configured exactly like the defaults.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client

from tests.mcp_server.scenario import Call
from tests.mcp_server.test_stdio import stdio_params
from tests.servers import error_code, mcp_client, payload, running_server, server_config, token
from workbench_mcp.auth import acting_as
from workbench_mcp.config import DEFAULT_TOOLSETS, ServerConfig, Toolset
from workbench_mcp.mcp_server.server import build_mcp_server, server_instructions
from workbench_mcp.mcp_server.toolsets import all_tools, enabled_tools
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService

REGISTRY = {spec.name for spec in all_tools()}


def validating_caller(client: Client, schemas: dict[str, dict[str, Any]]) -> Call:
    """Calls a tool, requires success, and checks the result against the tool's advertised output schema
    (what the TypeScript SDK does on every call)."""

    async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, f"{tool} failed: {result.content}"
        body = payload(result)
        jsonschema.validate(body, schemas[tool])
        return body

    return call


async def drive_to_completion(client: Client) -> dict[str, Any]:
    """An agent loop that follows next_actions until nothing is left, then completes the run."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    schemas = {name: tool.output_schema or {} for name, tool in tools.items()}
    call = validating_caller(client, schemas)
    workflow = (await call("list_workflows", {}))["workflows"][0]
    outputs = {step["id"]: step.get("outputs", []) for step in workflow["steps"]}
    run_id = (await call("start_run", {"workflowId": workflow["id"]}))["runId"]
    used = {"list_workflows", "start_run"}
    for _ in range(50):
        todo = await call("next_actions", {"runId": run_id})
        used.add("next_actions")
        assert unguided_mentions(json.dumps(todo), set(tools)) == [], todo  # never a tool it cannot call
        if todo["pendingGates"]:
            gate = todo["pendingGates"][0]
            decision = {"runId": run_id, "stepId": gate["stepId"], "gate": gate["gate"], "decision": "approved"}
            await call("resolve_gate", decision)
            used.add("resolve_gate")
        elif todo["runningSteps"]:
            step_id = todo["runningSteps"][0]
            for key in outputs[step_id]:
                await call(
                    "write_artifact", {"runId": run_id, "artifactKey": key, "typeId": key, "data": {"by": step_id}}
                )
                used.add("write_artifact")
            await call("complete_step", {"runId": run_id, "stepId": step_id})
            used.add("complete_step")
        elif todo["readySteps"]:
            assert (await call("begin_step", {"runId": run_id, "stepId": todo["readySteps"][0]}))["ok"] is True
            used.add("begin_step")
        else:
            break
    assert todo["canCompleteRun"] is True, todo
    ended = await call("complete_run", {"runId": run_id})
    bundle = await call("export_bundle", {"runId": run_id})
    verdict = await call("verify_run_integrity", {"bundle": bundle})
    used |= {"complete_run", "export_bundle", "verify_run_integrity"}
    assert used <= set(tools), f"the loop needed tools the server does not offer: {sorted(used - set(tools))}"
    return {"ended": ended, "bundle": bundle, "verdict": verdict, "tools": set(tools)}


def default_config(tmp_path: Path, **changes: Any) -> ServerConfig:
    """server_config() enables every toolset for the other tests; here: what `serve` does with no flags."""
    return server_config(tmp_path, toolsets=DEFAULT_TOOLSETS, **changes)


def check_completed(outcome: dict[str, Any]) -> None:
    assert outcome["ended"]["status"] == "completed"
    assert outcome["bundle"]["run"]["status"] == "completed"
    assert outcome["verdict"]["ok"] is True
    assert outcome["tools"] == {s.name for s in enabled_tools(all_tools(), DEFAULT_TOOLSETS, False)}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_default_http_server_finishes_a_catalog_run(tmp_path: Path, mode: str) -> None:
    async with (
        running_server(default_config(tmp_path)) as base,
        mcp_client(base + "/api/mcp", token("agent"), mode=mode) as client,
    ):
        check_completed(await drive_to_completion(client))


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_default_stdio_server_finishes_a_catalog_run(tmp_path: Path, mode: str) -> None:
    async with Client(stdio_params(tmp_path), mode=mode) as client:
        check_completed(await drive_to_completion(client))


# --- what the server leaves out, it names -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_tool_of_a_disabled_toolset_names_its_toolset_and_flag_over_http(tmp_path: Path, mode: str) -> None:
    async with (
        running_server(default_config(tmp_path)) as base,
        mcp_client(base + "/api/mcp", token("agent"), mode=mode) as client,
    ):
        run_id = payload(await client.call_tool("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        before = payload(await client.call_tool("get_run", {"runId": run_id}))
        cancel = await client.call_tool("cancel_run", {"runId": run_id})
        annotate = await client.call_tool("annotate", {"runId": run_id, "text": "x"})
        unknown = await client.call_tool("drop_database", {})
        after = payload(await client.call_tool("get_run", {"runId": run_id}))
    assert error_code(cancel) == "TOOL_NOT_ENABLED"
    assert "'steps' toolset" in payload(cancel)["error"]
    assert "--toolsets core,steps" in payload(cancel)["error"]
    assert error_code(annotate) == "TOOL_NOT_ENABLED"
    assert "--toolsets core,telemetry" in payload(annotate)["error"]
    assert (error_code(unknown), payload(unknown)["error"]) == ("INVALID_INPUT", "Unknown tool: drop_database")
    assert after == before


async def test_a_tool_of_a_disabled_toolset_names_its_toolset_and_flag_over_stdio(tmp_path: Path) -> None:
    async with Client(stdio_params(tmp_path)) as client:
        result = await client.call_tool("fail_step", {"runId": "run_x", "stepId": "s", "message": "m"})
    assert error_code(result) == "TOOL_NOT_ENABLED"
    assert "--toolsets core,steps" in payload(result)["error"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_write_tool_on_a_read_only_server_says_so(tmp_path: Path, mode: str) -> None:
    config = server_config(tmp_path, read_only=True)  # every toolset, read-only
    async with (
        running_server(config) as base,
        mcp_client(base + "/api/mcp", token("agent"), mode=mode) as client,
    ):
        started = await client.call_tool("start_run", {"workflowId": "jobSearchWorkflow"})
        listed = payload(await client.call_tool("list_runs", {}))
    assert error_code(started) == "READ_ONLY"
    assert "--read-only" in payload(started)["error"]
    assert listed == {"runs": []}


async def test_a_write_tool_on_a_read_only_stdio_server_says_so(tmp_path: Path) -> None:
    async with Client(stdio_params(tmp_path, "--read-only")) as client:
        result = await client.call_tool(
            "write_artifact", {"runId": "run_x", "artifactKey": "k", "typeId": "t", "data": 1}
        )
    assert error_code(result) == "READ_ONLY"


# --- instructions and descriptions only send an agent to tools it can call --------------------------------

CONFIGS = [
    (frozenset({Toolset.CORE}), False),
    (frozenset({Toolset.CORE, Toolset.STEPS}), False),
    (frozenset({Toolset.CORE, Toolset.TELEMETRY}), False),
    (frozenset(Toolset), False),
    (frozenset({Toolset.CORE}), True),
    (frozenset(Toolset), True),
]


def unguided_mentions(text: str, offered: set[str]) -> list[str]:
    """Tools a text names that the server does not offer, without a sentence that says how to get them."""
    sentences = re.split(r"(?<=[.;])\s+", text)
    missing = [name for name in sorted(REGISTRY - offered) if re.search(rf"\b{name}\b", text)]
    return [
        name
        for name in missing
        if not any(
            re.search(rf"\b{name}\b", sentence) and ("--toolsets" in sentence or "--read-only" in sentence)
            for sentence in sentences
        )
    ]


def descriptions(node: Any) -> list[str]:
    if isinstance(node, list):
        return [text for item in node for text in descriptions(item)]
    if not isinstance(node, dict):
        return []
    own = [node["description"]] if isinstance(node.get("description"), str) else []
    return own + [text for key, value in node.items() if key != "description" for text in descriptions(value)]


@pytest.mark.parametrize(("toolsets", "read_only"), CONFIGS)
async def test_instructions_and_descriptions_name_only_offered_tools(
    service: RunService, toolsets: frozenset[Toolset], read_only: bool
) -> None:
    server = build_mcp_server(service, toolsets, read_only)
    with acting_as(Principal("user:alice", subject="alice")):
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            instructions = client.instructions
    offered = {t.name for t in tools}
    assert instructions == server_instructions(toolsets, read_only)
    assert unguided_mentions(instructions, offered) == []
    for tool in tools:
        for text in [tool.description or "", *descriptions(tool.input_schema)]:
            assert unguided_mentions(text, offered) == [], (tool.name, text)
    if read_only:
        assert "Typical loop" not in instructions
    else:
        for name in ("start_run", "next_actions", "begin_step", "complete_step", "complete_run", "resolve_gate"):
            assert name in offered
            assert name in instructions
