"""Input an attacker would send, through every entry point of a live server: both MCP protocol eras
(raw JSON-RPC, so nothing is normalized by a client library) and REST.

Lone surrogates are stored as given and read back as `\\udXXX` escapes; forged cursors are
INVALID_INPUT; JSON nested beyond the limit is LIMIT_EXCEEDED, and whatever was accepted renders on
every read path. Through all of it the server logs no error and no traceback.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from mcp.shared.inbound import encode_header_value

from tests.servers import token
from tests.web.rest import RunFactory
from workbench_mcp.protocol.json_depth import MAX_DOCUMENT_DEPTH, MAX_JSON_DEPTH

HANDSHAKE = "2025-11-25"
MODERN = "2026-07-28"
ERAS = (HANDSHAKE, MODERN)
LONE = "\ud800"


class Wire:
    """Raw JSON-RPC over HTTP in either protocol era, and REST, with one tenant's token."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def rpc(self, method: str, params: dict[str, Any], era: str) -> dict[str, Any]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": era,
        }
        params = dict(params)
        if era == MODERN:
            headers["Mcp-Method"] = method
            name = params.get("name", params.get("uri"))
            if name is not None:
                headers["Mcp-Name"] = encode_header_value(name)
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": era,
                "io.modelcontextprotocol/clientInfo": {"name": "probe", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        # json.dumps writes a lone surrogate as the escape \ud800, as JSON.stringify does.
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        response = await self.http.post("/api/mcp", content=body, headers=headers)
        reply: dict[str, Any] = json.loads(response.content)
        # The 2026-07-28 path answers a JSON-RPC error with a 4xx status of its own.
        assert response.status_code == 200 or (response.status_code < 500 and "error" in reply), response.text
        assert reply.get("error", {}).get("code") != -32603, reply
        return reply

    async def call(self, tool: str, arguments: dict[str, Any], era: str = HANDSHAKE) -> dict[str, Any]:
        """The tool's structuredContent, after checking the text item says the same."""
        result = (await self.rpc("tools/call", {"name": tool, "arguments": arguments}, era))["result"]
        content: dict[str, Any] = result["structuredContent"]
        assert json.loads(result["content"][0]["text"]) == content
        assert content.get("code") != "INTERNAL_ERROR", content
        return content

    async def ok(self, tool: str, arguments: dict[str, Any], era: str = HANDSHAKE) -> dict[str, Any]:
        content = await self.call(tool, arguments, era)
        assert "code" not in content, content
        return content

    async def code(self, tool: str, arguments: dict[str, Any], era: str = HANDSHAKE) -> str:
        content = await self.call(tool, arguments, era)
        assert set(content) == {"error", "code"}, content
        return str(content["code"])


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def no_errors_logged() -> Iterator[None]:
    """Fails the test if the server (in this process) logged an error or a traceback meanwhile."""
    collected = _Collected()
    # uvicorn's loggers do not propagate to the root logger.
    watched = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for logger in watched:
        logger.addHandler(collected)
    try:
        yield
    finally:
        for logger in watched:
            logger.removeHandler(collected)
    bad = [r for r in collected.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


@pytest.fixture
async def wire(base_url: str, no_errors_logged: None) -> AsyncIterator[Wire]:
    headers = {"Authorization": f"Bearer {token('mallory')}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        yield Wire(http)


async def started(wire: Wire, era: str = HANDSHAKE, **arguments: Any) -> str:
    return str((await wire.ok("start_run", {"workflowId": "jobSearchWorkflow", **arguments}, era))["runId"])


def nested(depth: int) -> Any:
    """`depth` levels of objects and arrays, alternating from an outermost object, around one string."""
    value: Any = "bottom"
    for level in range(depth, 0, -1):
        value = {"n": value} if level % 2 else [value]
    return value


def mentions_lone(value: Any) -> bool:
    return LONE in json.dumps(value, ensure_ascii=False)  # json.dumps keeps the raw surrogate here


# --- lone surrogates: stored as given, read back escaped --------------------------------------------


async def test_lone_surrogates_are_stored_and_every_read_renders_them(wire: Wire) -> None:
    run_id = await started(wire, metadata={"note": LONE})
    for era in ERAS:
        written = await wire.ok(
            "write_artifact", {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": {"s": LONE, "era": era}}, era
        )
        assert written["ok"] is True
    await wire.ok("log_tool_call", {"runId": run_id, "name": "search", "args": [LONE]})
    state = RunFactory().new()
    state["run"]["tags"] = [LONE]
    put = await wire.http.put(f"/api/runs/{state['run']['id']}", content=json.dumps(state))
    assert put.status_code == 204, put.text

    for era in ERAS:
        run = await wire.ok("get_run", {"runId": run_id}, era)
        assert dict(run["artifactsByKey"])["k"]["data"] == {"s": LONE, "era": MODERN}
        assert run["run"]["metadata"] == {"note": LONE}
        bundle = await wire.ok("export_bundle", {"runId": run_id}, era)
        assert mentions_lone(bundle["artifacts"])
        assert (await wire.ok("verify_run_integrity", {"bundle": bundle}, era))["ok"] is True
        assert (await wire.ok("validate_run_bundle", {"bundle": bundle}, era))["ok"] is True
        listed = await wire.ok("list_runs", {}, era)
        assert {r["id"]: r.get("tags") for r in listed["runs"]}[state["run"]["id"]] == [LONE]
        read = await wire.rpc("resources/read", {"uri": f"runs://{run_id}"}, era)
        assert json.loads(read["result"]["contents"][0]["text"])["run"]["metadata"] == {"note": LONE}
    got = await wire.http.get(f"/api/runs/{run_id}")
    assert got.status_code == 200
    assert json.loads(got.content)["run"]["metadata"] == {"note": LONE}
    listed_rest = await wire.http.get("/api/runs")
    assert listed_rest.status_code == 200
    assert [LONE] in [r.get("tags") for r in json.loads(listed_rest.content)]


async def test_a_lone_surrogate_in_a_name_is_refused_or_names_nothing(wire: Wire) -> None:
    """Names are text: a member name, or a tool argument typed as a string, holding a lone surrogate is
    INVALID_INPUT at every entry point, and a resource URI holding one names no run."""
    run_id = await started(wire)
    state = RunFactory().new(writes=1)
    state["artifactsByKey"][0][1]["data"] = {"a": {LONE: 1}}
    response = await wire.http.put(f"/api/runs/{state['run']['id']}", content=json.dumps(state))
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_INPUT"
    for era in ERAS:
        for data in ({LONE: 1}, {"a": [{"b": {LONE: 1}}]}):
            artifact: dict[str, Any] = {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": data}
            assert await wire.code("write_artifact", artifact, era) == "INVALID_INPUT"
        assert (
            await wire.code("log_tool_call", {"runId": run_id, "name": "t", "result": {"x": {LONE: 1}}}, era)
            == "INVALID_INPUT"
        )
        assert (
            await wire.code("start_run", {"workflowId": "jobSearchWorkflow", "metadata": {"x": {LONE: 1}}}, era)
            == "INVALID_INPUT"
        )
        await wire.ok("write_artifact", {"runId": run_id, "artifactKey": "p", "typeId": "t", "data": {}}, era)
        patch = [{"op": "add", "path": "/\ud800", "value": 1}]
        assert (
            await wire.code("patch_artifact", {"runId": run_id, "artifactKey": "p", "patch": patch}, era)
            == "INVALID_INPUT"
        )
        assert await wire.code("get_run", {"runId": "run_" + LONE}, era) == "INVALID_INPUT"
        artifact = {"runId": run_id, "artifactKey": LONE, "typeId": "t", "data": 1}
        assert await wire.code("write_artifact", artifact, era) == "INVALID_INPUT"
    # Only the handshake era: a 2026-07-28 request repeats the URI in its Mcp-Name header, which
    # cannot carry a lone surrogate (the SDK refuses the mismatch with a 400 of its own).
    for uri in (f"runs://{LONE}", f"workflows://{LONE}"):
        error = (await wire.rpc("resources/read", {"uri": uri}, HANDSHAKE))["error"]
        assert error["code"] == -32602
        assert error["data"]["code"] in {"UNKNOWN_RUN", "UNKNOWN_WORKFLOW"}


# --- forged cursors ----------------------------------------------------------------------------------


def forged(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


FORGED_CURSORS = [
    forged([2**63, ""]),
    forged([-(2**63) - 1, "run_x"]),
    forged([10**30, "run_x"]),
    forged([1, "run_" + LONE]),
    forged([1.5, "run_x"]),
    forged(["1", "run_x"]),
    forged({"a": 1}),
    "%%%",
    "garbage",
]


async def test_forged_cursors_are_invalid_input_everywhere(wire: Wire) -> None:
    await started(wire)
    for cursor in FORGED_CURSORS:
        for era in ERAS:
            assert await wire.code("list_runs", {"cursor": cursor}, era) == "INVALID_INPUT", cursor
            error = (await wire.rpc("resources/list", {"cursor": cursor}, era))["error"]
            assert error["code"] == -32602
            assert error["data"]["code"] == "INVALID_INPUT"
        response = await wire.http.get("/api/runs", params={"cursor": cursor})
        assert (response.status_code, response.json()["code"]) == (400, "INVALID_INPUT"), cursor


# --- nesting depth --------------------------------------------------------------------------------------


async def test_values_at_the_depth_limit_are_stored_and_render_on_every_read(wire: Wire) -> None:
    deepest = nested(MAX_JSON_DEPTH)
    run_id = await started(wire, metadata={"m": nested(MAX_JSON_DEPTH - 1)})
    for era in ERAS:
        await wire.ok("write_artifact", {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": deepest}, era)
    await wire.ok(
        "patch_artifact",
        {
            "runId": run_id,
            "artifactKey": "k",
            "patch": [{"op": "add", "path": "/x", "value": nested(MAX_JSON_DEPTH - 1)}],
        },
    )
    await wire.ok("log_tool_call", {"runId": run_id, "name": "t", "args": deepest, "result": deepest})
    await wire.ok("log_model_io", {"runId": run_id, "direction": "response", "payload": deepest, "detail": "full"})

    for era in ERAS:
        state = await wire.ok("get_run", {"runId": run_id}, era)
        bundle = await wire.ok("export_bundle", {"runId": run_id}, era)
        # What the server gives out it takes back.
        assert (await wire.ok("verify_run_integrity", {"bundle": bundle}, era))["ok"] is True
        assert (await wire.ok("validate_run_bundle", {"bundle": bundle}, era))["ok"] is True
        await wire.ok("list_runs", {}, era)
        read = await wire.rpc("resources/read", {"uri": f"runs://{run_id}"}, era)
        assert "result" in read
    assert (await wire.http.get(f"/api/runs/{run_id}")).status_code == 200
    put = await wire.http.put(f"/api/runs/{run_id}", content=json.dumps(state))
    assert put.status_code == 204, put.text


async def test_deeper_values_are_refused_at_every_entry_point_and_change_nothing(wire: Wire) -> None:
    too_deep = nested(MAX_JSON_DEPTH + 1)
    run_id = await started(wire)
    await wire.ok(
        "write_artifact", {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": nested(MAX_JSON_DEPTH)}
    )
    before = await wire.ok("get_run", {"runId": run_id})
    calls: list[tuple[str, dict[str, Any]]] = [
        ("start_run", {"workflowId": "jobSearchWorkflow", "metadata": {"m": too_deep}}),
        ("write_artifact", {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": too_deep}),
        ("write_artifact", {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": nested(300)}),
        (
            "patch_artifact",
            {"runId": run_id, "artifactKey": "k", "patch": [{"op": "add", "path": "/x", "value": too_deep}]},
        ),
        # Shallow operations that would deepen the artifact past the limit.
        (
            "patch_artifact",
            {
                "runId": run_id,
                "artifactKey": "k",
                "patch": [{"op": "add", "path": "/n/0/x", "value": nested(MAX_JSON_DEPTH - 2)}],
            },
        ),
        ("log_tool_call", {"runId": run_id, "name": "t", "args": too_deep}),
        ("log_model_io", {"runId": run_id, "direction": "request", "payload": too_deep, "detail": "full"}),
        ("verify_run_integrity", {"bundle": nested(MAX_DOCUMENT_DEPTH + 1)}),
    ]
    for era in ERAS:
        for tool, arguments in calls:
            assert await wire.code(tool, arguments, era) == "LIMIT_EXCEEDED", tool
        verdict = await wire.call("validate_run_bundle", {"bundle": nested(MAX_DOCUMENT_DEPTH + 1)}, era)
        assert verdict["code"] == "LIMIT_EXCEEDED"
    assert await wire.ok("get_run", {"runId": run_id}) == before

    state = RunFactory().new(writes=1)
    state["artifactsByKey"][0][1]["data"] = nested(300)
    response = await wire.http.put(f"/api/runs/{state['run']['id']}", content=json.dumps(state))
    assert response.status_code == 413
    assert response.json()["code"] == "LIMIT_EXCEEDED"
    assert (await wire.http.get(f"/api/runs/{state['run']['id']}")).status_code == 404
