"""The advertised schemas are lean and portable, and still true: every result a tool returns fits its schema.

The size breakdown is a script's job (`python -m bench tool_sizes`); here: the byte budget of issue 9 (a
count of bytes, not a timing) and the properties that keep the schemas honest.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from bench.tool_sizes import TARGETS
from tests.mcp_server.conftest import ClientFactory
from tests.mcp_server.scenario import PARSER_INPUTS, caller
from tests.mcp_server.tool_calls import run_scoped_calls
from tests.servers import ALL_TOOLSETS, payload
from workbench_mcp.config import DEFAULT_TOOLSETS, Toolset

SCHEMA_NAME_MAPS = ("properties", "$defs", "patternProperties")


def schema_nodes(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every subschema of a schema, with its path (names under `properties` are names, not keywords)."""
    if not isinstance(node, dict):
        return []
    found = [(path, node)]
    for key, value in node.items():
        if key in SCHEMA_NAME_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                found += schema_nodes(sub, f"{path}/{key}/{name}")
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            for i, sub in enumerate(value):
                found += schema_nodes(sub, f"{path}/{key}/{i}")
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            found += schema_nodes(value, f"{path}/{key}")
    return found


def is_typed(prop: dict[str, Any]) -> bool:
    """A `type`, a `$ref` to a typed definition, or alternatives that each have a `type`."""
    if "type" in prop or "$ref" in prop:
        return True
    branches = prop.get("anyOf")
    return isinstance(branches, list) and bool(branches) and all(is_typed(b) for b in branches)


@pytest.mark.parametrize(("label", "toolsets"), [("default", DEFAULT_TOOLSETS), ("all", ALL_TOOLSETS)])
async def test_tools_list_fits_its_byte_budget(
    local_client: ClientFactory, label: str, toolsets: frozenset[Toolset]
) -> None:
    """Every session pays for tools/list in context; a longer description or a new result field must fit the budget
    (a branch that lengthened gate descriptions once pushed both configurations over it unnoticed)."""
    async with local_client(toolsets=toolsets) as client:
        tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await client.list_tools()).tools]
    size = len(json.dumps({"tools": tools}, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    assert size <= TARGETS[label], f"tools/list with {label} toolsets is {size:,} bytes; see python -m bench tool_sizes"


async def test_every_input_property_has_a_type(local_client: ClientFactory) -> None:
    async with local_client() as client:
        tools = (await client.list_tools()).tools
    untyped = [
        f"{tool.name}{path}/properties/{name}"
        for tool in tools
        for path, node in schema_nodes(tool.input_schema)
        for name, prop in node.get("properties", {}).items()
        if not is_typed(prop)
    ]
    assert untyped == []
    write = next(t for t in tools if t.name == "write_artifact").input_schema["properties"]["data"]
    assert {b["type"] for b in write["anyOf"]} == {"object", "array", "string", "number", "boolean", "null"}


async def test_no_schema_carries_generated_titles_or_a_type_array(local_client: ClientFactory) -> None:
    async with local_client() as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        for which, schema in (("input", tool.input_schema), ("output", tool.output_schema)):
            for path, node in schema_nodes(schema):
                assert "title" not in node, f"{tool.name} {which}{path}: {node['title']}"
                assert not isinstance(node.get("type"), list), f"{tool.name} {which}{path}"


async def test_every_result_and_every_error_fits_the_advertised_output_schema(local_client: ClientFactory) -> None:
    """The TypeScript SDK validates structuredContent against outputSchema, errors included."""
    async with local_client() as client:
        schemas = {t.name: t.output_schema for t in (await client.list_tools()).tools}
        call = caller(client)
        started = await call("start_run", {"workflowId": "jobSearchWorkflow"})
        run_id = started["runId"]
        results: dict[str, list[dict[str, Any]]] = {"start_run": [started]}
        calls = run_scoped_calls(run_id)
        calls["write_artifact"] = {**calls["write_artifact"], "data": PARSER_INPUTS}
        waits = [
            *("request_review", "wait_for_decision", "begin_step", "resolve_gate"),
            *("wait_for_decision", "begin_step", "request_gate"),
        ]
        for tool in [*waits, "write_artifact", "patch_artifact"]:
            results.setdefault(tool, []).append(payload(await client.call_tool(tool, calls[tool])))
        for tool in [
            "log_model_io",
            "log_tool_call",
            "annotate",
            "replace_rule_set",
            "resolve_checkpoint",
            "raise_budget",
        ]:
            results.setdefault(tool, []).append(payload(await client.call_tool(tool, calls[tool])))
        for tool in ["complete_step", "next_actions", "get_run", "fail_step", "complete_run", "audit_log"]:
            results.setdefault(tool, []).append(payload(await client.call_tool(tool, calls[tool])))
        bundle = await call("export_bundle", {"runId": run_id})
        user_bundle = await call("export_bundle", {"runId": run_id, "profile": "user"})
        results["export_bundle"] = [bundle, user_bundle]
        tampered: dict[str, Any] = {**bundle, "integrity": {"sha256": "0" * 64}}
        results["verify_run_integrity"] = [
            await call("verify_run_integrity", {"bundle": b}) for b in (bundle, tampered)
        ]
        results["verify_run_integrity"].append(payload(await client.call_tool("verify_run_integrity", {"bundle": {}})))
        not_a_bundle: list[object] = []
        results["validate_run_bundle"] = [
            await call("validate_run_bundle", {"bundle": b}) for b in (bundle, not_a_bundle)
        ]
        results["list_runs"] = [await call("list_runs", {"limit": 1})]
        results["list_workflows"] = [await call("list_workflows", {})]
        for tool in ("cancel_run", "fail_run"):  # the run is completed: both refused
            results[tool] = [payload(await client.call_tool(tool, calls[tool]))]
    assert set(results) == set(schemas)
    assert any("error" in r and "code" in r for rs in results.values() for r in rs)  # errors were checked too
    for tool, bodies in results.items():
        for body in bodies:
            jsonschema.validate(body, schemas[tool] or {})
