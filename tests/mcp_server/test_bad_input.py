"""Bad input on every tool -> an isError result with a stable protocol code, and the run is left unchanged."""

from __future__ import annotations

from typing import Any

from tests.mcp_server.conftest import ClientFactory, never_asked
from tests.mcp_server.scenario import caller
from tests.mcp_server.tool_calls import run_scoped_calls
from tests.servers import error_code, payload
from workbench_mcp.mcp_server.schemas import JSON_VALUE

STEP_TOOLS = (
    "resolve_gate",
    "begin_step",
    "complete_step",
    "fail_step",
    "request_gate",
    "resolve_checkpoint",
    "ask_user_to_review",
)


def base_calls(run_id: str) -> dict[str, dict[str, Any]]:
    return {
        **run_scoped_calls(run_id),
        "start_run": {"workflowId": "jobSearchWorkflow"},
        "list_runs": {"limit": 5},
        "list_workflows": {},
        "verify_run_integrity": {"bundle": {}},
        "validate_run_bundle": {"bundle": {}},
    }


def wrong_values(prop: dict[str, Any]) -> list[Any]:
    """Values that violate one property's schema: wrong type, out of range, not in the enum, too long."""
    if prop.get("anyOf") == JSON_VALUE["anyOf"]:
        return []  # any JSON value is valid
    branch = next((b for b in prop.get("anyOf", [prop]) if b.get("type") not in (None, "null")), prop)
    kind = branch.get("type")
    values: list[Any] = []
    if kind == "string":
        values += [12345, ["a"]]
        if "maxLength" in branch:
            values.append("x" * (branch["maxLength"] + 1))
        if branch.get("minLength", 0) >= 1 and "anyOf" not in prop:
            values.append("")
        if "enum" in branch and "json_schema_extra" not in branch:
            values.append("NOT_AN_OPTION")
    elif kind == "integer":
        values += ["abc", 1.5]
        if "minimum" in branch:
            values.append(branch["minimum"] - 1)
        if "maximum" in branch:
            values.append(branch["maximum"] + 1)
    elif kind == "boolean":
        values += ["maybe", {"x": 1}]
    elif kind == "array":
        values += ["not-a-list", {"x": 1}]
    elif kind == "object" or "$ref" in branch:
        values += ["not-an-object", [1, 2]]
    return values


async def test_every_tool_rejects_schema_violations_with_invalid_input(local_client: ClientFactory) -> None:
    async with local_client(elicitation_callback=never_asked) as client:
        run_id = (await caller(client)("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        before = await caller(client)("get_run", {"runId": run_id})
        tools = (await client.list_tools()).tools
        calls = base_calls(run_id)
        checked = 0
        for tool in tools:
            schema = tool.input_schema
            if schema.get("required"):
                assert error_code(await client.call_tool(tool.name, {})) == "INVALID_INPUT", tool.name
            for prop_name, prop in schema.get("properties", {}).items():
                if prop_name == "workflowId":  # enum advertised, refused by the service instead (below)
                    continue
                if prop_name == "bundle":  # advertised as an object, but any JSON gets a verdict (reference)
                    continue
                for bad in wrong_values(prop):
                    arguments = {**calls[tool.name], prop_name: bad}
                    result = await client.call_tool(tool.name, arguments)
                    assert error_code(result) == "INVALID_INPUT", (tool.name, prop_name, str(bad)[:40])
                    checked += 1
        after = await caller(client)("get_run", {"runId": run_id})
    assert checked > 100
    assert after == before


async def test_unknown_run_step_workflow_and_tool(local_client: ClientFactory) -> None:
    async with local_client(elicitation_callback=never_asked) as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        before = await call("get_run", {"runId": run_id})
        for tool, arguments in run_scoped_calls("run_unknown").items():
            assert error_code(await client.call_tool(tool, arguments)) == "UNKNOWN_RUN", tool
        for tool in STEP_TOOLS:
            arguments = {**run_scoped_calls(run_id)[tool], "stepId": "ghost"}
            assert error_code(await client.call_tool(tool, arguments)) == "UNKNOWN_STEP", tool
        for tool in ("log_model_io", "log_tool_call"):
            arguments = {**run_scoped_calls(run_id)[tool], "stepId": "ghost"}
            assert error_code(await client.call_tool(tool, arguments)) == "UNKNOWN_STEP", tool
        patch = await client.call_tool("patch_artifact", run_scoped_calls(run_id)["patch_artifact"])
        workflow = await client.call_tool("start_run", {"workflowId": "noSuchWorkflow"})
        unknown_tool = await client.call_tool("drop_database", {})
        after = await call("get_run", {"runId": run_id})
    assert error_code(patch) == "UNKNOWN_ARTIFACT"
    assert error_code(workflow) == "UNKNOWN_WORKFLOW"
    assert error_code(unknown_tool) == "INVALID_INPUT"
    assert after == before


async def test_codes_the_instructions_promise_for_every_run_changing_tool(local_client: ClientFactory) -> None:
    """The instructions say once, for every tool that changes a run, what its descriptions no longer repeat: a stale
    expectedRevision is REVISION_CONFLICT and a run that is not running INVALID_STATE_TRANSITION."""
    async with local_client(elicitation_callback=never_asked) as client:
        call = caller(client)
        writes = [
            t.name for t in (await client.list_tools()).tools if "expectedRevision" in t.input_schema["properties"]
        ]
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        calls = run_scoped_calls(run_id)
        stale = {t: error_code(await client.call_tool(t, {**calls[t], "expectedRevision": 0})) for t in writes}
        await call("cancel_run", {"runId": run_id})
        ended = await call("get_run", {"runId": run_id})
        closed = {t: error_code(await client.call_tool(t, calls[t])) for t in writes}
        assert await call("get_run", {"runId": run_id}) == ended
    assert len(writes) == 17
    assert stale == dict.fromkeys(writes, "REVISION_CONFLICT")
    assert closed == dict.fromkeys(writes, "INVALID_STATE_TRANSITION")


async def test_refused_operations_change_nothing(local_client: ClientFactory) -> None:
    async with local_client(elicitation_callback=never_asked) as client:
        call = caller(client)
        run_id = (await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        await call(
            "write_artifact", {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": 1, "idempotencyKey": "i"}
        )
        before = await call("get_run", {"runId": run_id})
        refused: dict[str, tuple[str, dict[str, Any]]] = {
            "IDEMPOTENCY_CONFLICT": (
                "write_artifact",
                {"artifactKey": "k", "typeId": "t", "data": 2, "idempotencyKey": "i"},
            ),
            "REVISION_CONFLICT": ("annotate", {"text": "late", "expectedRevision": 0}),
            "INVALID_STATE_TRANSITION": ("complete_step", {"stepId": "parser1"}),
            "LIMIT_EXCEEDED": ("write_artifact", {"artifactKey": "big", "typeId": "t", "data": "x" * 1_100_000}),
            "INVALID_INPUT": ("write_artifact", {"artifactKey": "  ", "typeId": "t", "data": 1}),
        }
        codes = {}
        for code, (tool, arguments) in refused.items():
            codes[code] = error_code(await client.call_tool(tool, {"runId": run_id, **arguments}))
        after = await call("get_run", {"runId": run_id})
    assert codes == {code: code for code in refused}
    assert after == before


async def test_validate_reports_a_verdict_and_verify_an_error(local_client: ClientFactory) -> None:
    async with local_client(elicitation_callback=never_asked) as client:
        verdict = payload(await client.call_tool("validate_run_bundle", {"bundle": {"protocolVersion": "1.0.0"}}))
        unparseable = await client.call_tool("verify_run_integrity", {"bundle": {"run": {}}})
        wrong_version = await client.call_tool("verify_run_integrity", {"bundle": {"protocolVersion": "0.9"}})
    assert (verdict["ok"], verdict["code"]) == (False, "INVALID_RUN_BUNDLE")
    assert error_code(unparseable) == "UNSUPPORTED_PROTOCOL_VERSION"
    assert error_code(wrong_version) == "UNSUPPORTED_PROTOCOL_VERSION"


async def test_error_results_never_leak_internals(local_client: ClientFactory) -> None:
    async with local_client(elicitation_callback=never_asked) as client:
        result = await client.call_tool("get_run", {"runId": 42, "extra": "x" * 5000})
        text = result.content[0].text  # type: ignore[union-attr]
    assert error_code(result) == "INVALID_INPUT"
    assert "Traceback" not in text
    assert "x" * 100 not in text


async def test_large_arguments_are_refused_not_stored(local_client: ClientFactory) -> None:
    """A multi-megabyte string in a bounded field never reaches the service."""
    async with local_client(elicitation_callback=never_asked) as client:
        run_id = (await caller(client)("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        huge = "n" * 3_000_000
        result = await client.call_tool(
            "resolve_gate",
            {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE", "decision": "approved", "note": huge},
        )
        state = await caller(client)("get_run", {"runId": run_id})
    assert error_code(result) == "INVALID_INPUT"
    assert state["revision"] == 1
