"""McpEndpoint answers handshake-era requests itself: its replies must equal the SDK's own, byte for byte.

Both handlers serve the same session manager over the same SQLite file; every request below is sent
to each and the whole HTTP response (status, headers, body) is compared. Requests the direct path
does not take (notifications, batches, bad JSON, initialize, refused hosts) must reach the SDK with
their body intact.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.servers import ALL_TOOLSETS, server_config
from workbench_mcp.auth import acting_as
from workbench_mcp.commands import WriteArtifact
from workbench_mcp.mcp_server.server import build_mcp_server
from workbench_mcp.principal import Principal
from workbench_mcp.web.app import transport_security
from workbench_mcp.web.mcp_endpoint import McpEndpoint
from workbench_mcp.wiring import open_service

WHO = Principal("acme", "alice")
HEADERS = {
    "host": "127.0.0.1:8765",
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": "2025-11-25",
}


@dataclass
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def post(app: ASGIApp, body: bytes, headers: dict[str, str], method: str = "POST") -> Reply:
    """One request through an ASGI app, body delivered in two chunks (as a socket may)."""
    return await post_raw(app, body, list(headers.items()), method)


async def post_raw(app: ASGIApp, body: bytes, headers: list[tuple[str, str]], method: str = "POST") -> Reply:
    chunks: list[Message] = [
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
        {"type": "http.request", "body": body[len(body) // 2 :], "more_body": False},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/api/mcp",
        "raw_path": b"/api/mcp",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers] + [(b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8765),
    }
    with acting_as(WHO):
        await app(scope, receive, send)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:  # a stream the client left before anything was sent (the body ends in a disconnect)
        return Reply(0, [], b"")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Reply(start["status"], list(start.get("headers", [])), body_out)


@dataclass
class Endpoints:
    direct: McpEndpoint
    sdk: ASGIApp
    run_id: str
    handed_on: list[bytes]
    """The bodies `direct` handed to the SDK."""


def spying(app: ASGIApp, bodies: list[bytes]) -> ASGIApp:
    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""

        async def recording() -> Message:
            nonlocal body
            message = await receive()
            body += message.get("body", b"")
            return message

        await app(scope, recording, send)
        bodies.append(body)

    return spy


@pytest.fixture
async def endpoints(tmp_path: Path) -> AsyncIterator[Endpoints]:
    config = server_config(tmp_path)
    async with open_service(config) as service:
        server = build_mcp_server(service, ALL_TOOLSETS)
        server.streamable_http_app(
            stateless_http=True, json_response=True, transport_security=transport_security(config)
        )
        manager = server.session_manager
        running, stop = asyncio.Event(), asyncio.Event()

        async def run_manager() -> None:  # in a task of its own: its task group must exit where it entered
            async with manager.run():
                running.set()
                await stop.wait()

        task = asyncio.create_task(run_manager())
        await running.wait()
        run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
        await service.execute(WHO, run_id, WriteArtifact(artifact_key="k", type_id="t", data={"n": 1}))
        try:
            direct, handed_on = McpEndpoint(manager), list[bytes]()
            direct._sdk = spying(direct._sdk, handed_on)
            yield Endpoints(direct, StreamableHTTPASGIApp(manager), run_id, handed_on)
        finally:
            stop.set()
            await task


def rpc(method: str, params: dict[str, Any] | None = None, id: Any = 1) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def call(name: str, arguments: dict[str, Any]) -> bytes:
    return rpc("tools/call", {"name": name, "arguments": arguments})


READS = {
    "ping": lambda run: rpc("ping"),
    "string id": lambda run: rpc("ping", id="req-7"),
    "tools/list": lambda run: rpc("tools/list"),
    "resources/list": lambda run: rpc("resources/list"),
    "resource templates": lambda run: rpc("resources/templates/list"),
    "resources/read": lambda run: rpc("resources/read", {"uri": f"runs://{run}"}),
    "resources/read unknown": lambda run: rpc("resources/read", {"uri": "runs://run_nope"}),
    "prompts/list": lambda run: rpc("prompts/list"),
    "unknown method": lambda run: rpc("no/such/method"),
    "bad params": lambda run: rpc("tools/call", {"name": 7}),
    "get_run": lambda run: call("get_run", {"runId": run}),
    "get_run unknown run": lambda run: call("get_run", {"runId": "run_nope"}),
    "get_run wrong type": lambda run: call("get_run", {"runId": 12}),
    "get_run missing argument": lambda run: call("get_run", {}),
    "list_runs": lambda run: call("list_runs", {"limit": 5}),
    "list_runs limit out of range": lambda run: call("list_runs", {"limit": 0}),
    "export_bundle": lambda run: call("export_bundle", {"runId": run}),
    "next_actions": lambda run: call("next_actions", {"runId": run}),
    "unknown tool": lambda run: call("no_such_tool", {}),
    "modern envelope on a handshake request": lambda run: rpc(
        "tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}
    ),
}


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2024-11-05", None])
@pytest.mark.parametrize("case", sorted(READS))
async def test_a_direct_reply_equals_the_sdk_reply(endpoints: Endpoints, case: str, version: str | None) -> None:
    headers = dict(HEADERS)
    if version is None:
        del headers["mcp-protocol-version"]
    else:
        headers["mcp-protocol-version"] = version
    body = READS[case](endpoints.run_id)
    direct = await post(endpoints.direct, body, headers)
    sdk = await post(endpoints.sdk, body, headers)
    assert (direct.status, direct.headers, direct.body) == (sdk.status, sdk.headers, sdk.body)
    assert direct.status == 200
    assert "result" in direct.json() or "error" in direct.json()
    assert endpoints.handed_on == []  # answered by the direct path itself


# (Foreign Host/Origin values never get this far: HostOriginMiddleware answers them for every route,
# tests/web/test_network_guard.py.)
PASSED_ON = {
    "notification": (json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(), HEADERS),
    "batch": (b"[" + rpc("ping") + b"]", HEADERS),
    "invalid JSON": (b'{"jsonrpc": "2.0", "id": 1, "method": "ping"', HEADERS),
    "not JSON-RPC": (b'{"id": 1, "hello": "world"}', HEADERS),
    "initialize": (
        rpc(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        ),
        HEADERS,
    ),
    "no JSON in Accept": (rpc("ping"), HEADERS | {"accept": "text/event-stream"}),
    "form body": (rpc("ping"), HEADERS | {"content-type": "application/x-www-form-urlencoded"}),
    "unknown version": (rpc("ping"), HEADERS | {"mcp-protocol-version": "1999-01-01"}),
}


@pytest.mark.parametrize("case", sorted(PASSED_ON))
async def test_everything_else_reaches_the_sdk_intact(endpoints: Endpoints, case: str) -> None:
    body, headers = PASSED_ON[case]
    direct = await post(endpoints.direct, body, headers)
    sdk = await post(endpoints.sdk, body, headers)
    assert (direct.status, direct.body) == (sdk.status, sdk.body)
    assert endpoints.handed_on in ([body], [b""])  # handed on whole (or before its body was read)
    if case == "initialize":
        assert direct.json()["result"]["serverInfo"]["name"] == "llm-workbench"  # the body was replayed, not lost


async def test_an_oversized_body_is_refused_before_it_is_read(endpoints: Endpoints) -> None:
    huge = call(
        "write_artifact", {"runId": endpoints.run_id, "artifactKey": "k", "typeId": "t", "data": "x" * 5_000_000}
    )
    direct = await post(endpoints.direct, huge, HEADERS)
    sdk = await post(endpoints.sdk, huge, HEADERS)
    assert (direct.status, direct.body) == (sdk.status, sdk.body) == (413, b"Request body too large")


async def test_a_direct_write_is_committed_and_answered_once(endpoints: Endpoints) -> None:
    write = call("write_artifact", {"runId": endpoints.run_id, "artifactKey": "k", "typeId": "t", "data": {"n": 2}})
    reply = await post(endpoints.direct, write, HEADERS)
    assert reply.status == 200
    assert reply.json()["result"]["structuredContent"]["version"] == 2
    check = await post(endpoints.direct, call("get_run", {"runId": endpoints.run_id}), HEADERS)
    trace = check.json()["result"]["structuredContent"]["trace"]
    assert [e["type"] for e in trace].count("artifact_written") == 2


async def test_the_direct_path_refuses_a_stateful_or_sse_manager(tmp_path: Path) -> None:
    async with open_service(server_config(tmp_path)) as service:
        for stateless, json_response in [(False, True), (True, False)]:
            server = build_mcp_server(service, ALL_TOOLSETS)
            server.streamable_http_app(stateless_http=stateless, json_response=json_response)
            with pytest.raises(ValueError, match="stateless JSON-response"):
                McpEndpoint(server.session_manager)


# --- 2026-07-28: the per-request envelope era ------------------------------------------------------------

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
}
MODERN_HEADERS = HEADERS | {"mcp-protocol-version": "2026-07-28"}


def modern(method: str, params: dict[str, Any] | None = None, **headers: str) -> tuple[bytes, dict[str, str]]:
    """A 2026-07-28 request as the official client sends it: the envelope in `_meta`, routing headers."""
    params = {**(params or {}), "_meta": MODERN_META}
    routing = {"mcp-method": method}
    if method == "tools/call":
        routing["mcp-name"] = params["name"]
    elif method == "resources/read":
        routing["mcp-name"] = params["uri"]
    return rpc(method, params), MODERN_HEADERS | routing | {k.replace("_", "-"): v for k, v in headers.items()}


def modern_call(name: str, arguments: dict[str, Any], **headers: str) -> tuple[bytes, dict[str, str]]:
    return modern("tools/call", {"name": name, "arguments": arguments}, **headers)


MODERN_ANSWERED = {
    "ping": lambda run: modern("ping"),
    "tools/list": lambda run: modern("tools/list"),
    "resources/read": lambda run: modern("resources/read", {"uri": f"runs://{run}"}),
    "resources/read unknown": lambda run: modern("resources/read", {"uri": "runs://run_nope"}),
    "unknown method": lambda run: modern("no/such/method"),
    "get_run": lambda run: modern_call("get_run", {"runId": run}),
    "get_run unknown run": lambda run: modern_call("get_run", {"runId": "run_nope"}),
    "get_run wrong type": lambda run: modern_call("get_run", {"runId": 12}),
    "list_runs": lambda run: modern_call("list_runs", {"limit": 5}),
    "export_bundle": lambda run: modern_call("export_bundle", {"runId": run}),
    "next_actions": lambda run: modern_call("next_actions", {"runId": run}),
    "non-ASCII and lone surrogate in a result": lambda run: modern_call("get_run", {"runId": "run_\u00e9\ud800"}),
    "unknown tool": lambda run: modern_call("no_such_tool", {}),
    "Mcp-Method disagrees with the body": lambda run: (modern("ping")[0], modern("ping")[1] | {"mcp-method": "x"}),
    "Mcp-Name disagrees with the body": lambda run: modern_call("get_run", {"runId": run}, mcp_name="list_runs"),
    "Mcp-Name missing": lambda run: (
        modern_call("get_run", {"runId": run})[0],
        {k: v for k, v in modern_call("get_run", {"runId": run})[1].items() if k != "mcp-name"},
    ),
    "envelope missing": lambda run: (rpc("ping"), MODERN_HEADERS | {"mcp-method": "ping"}),
    "envelope version disagrees with the header": lambda run: (
        rpc("ping", {"_meta": MODERN_META | {"io.modelcontextprotocol/protocolVersion": "2025-11-25"}}),
        MODERN_HEADERS | {"mcp-method": "ping"},
    ),
    "Mcp-Param header on a tool that declares none": lambda run: modern_call(
        "get_run", {"runId": run}, mcp_param_region="eu"
    ),
}


@pytest.mark.parametrize("case", sorted(MODERN_ANSWERED))
async def test_a_direct_modern_reply_equals_the_sdk_reply(endpoints: Endpoints, case: str) -> None:
    body, headers = MODERN_ANSWERED[case](endpoints.run_id)
    direct = await post(endpoints.direct, body, headers)
    sdk = await post(endpoints.sdk, body, headers)
    assert (direct.status, direct.headers, direct.body) == (sdk.status, sdk.headers, sdk.body)
    assert "result" in direct.json() or "error" in direct.json()
    assert endpoints.handed_on == []  # answered by the direct path itself


async def test_a_refused_modern_request_names_the_mismatch(endpoints: Endpoints) -> None:
    body, headers = MODERN_ANSWERED["Mcp-Name disagrees with the body"](endpoints.run_id)
    reply = await post(endpoints.direct, body, headers)
    assert reply.status == 400
    assert "mcp-name header does not match" in reply.json()["error"]["message"]


MODERN_PASSED_ON = {
    "notification": (
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(),
        MODERN_HEADERS | {"mcp-method": "notifications/initialized"},
    ),
    "subscriptions/listen": modern("subscriptions/listen", {"notifications": {}}),
    "batch": (b"[" + modern("ping")[0] + b"]", MODERN_HEADERS | {"mcp-method": "ping"}),
    "invalid JSON": (b'{"jsonrpc": "2.0", "id": 1, "method": "ping"', MODERN_HEADERS),
    "no JSON in Accept": (modern("ping")[0], modern("ping")[1] | {"accept": "text/event-stream"}),
}


@pytest.mark.parametrize("case", sorted(MODERN_PASSED_ON))
async def test_unusual_modern_requests_reach_the_sdk_intact(endpoints: Endpoints, case: str) -> None:
    body, headers = MODERN_PASSED_ON[case]
    direct = await post(endpoints.direct, body, headers)
    sdk = await post(endpoints.sdk, body, headers)
    assert (direct.status, direct.body) == (sdk.status, sdk.body)
    assert endpoints.handed_on in ([body], [b""])


async def test_a_duplicated_routing_header_is_refused_like_the_sdk(endpoints: Endpoints) -> None:
    body, headers = modern("ping")
    doubled = [*headers.items(), ("mcp-method", "ping")]

    async def both(app: ASGIApp) -> Reply:
        return await post_raw(app, body, doubled)

    direct, sdk = await both(endpoints.direct), await both(endpoints.sdk)
    assert (direct.status, direct.body) == (sdk.status, sdk.body)
    assert direct.status == 400
    assert b"more than once" in direct.body


async def test_a_declared_mcp_param_header_is_still_checked(endpoints: Endpoints) -> None:
    """The direct path skips the schema walk only for tools that declare no `x-mcp-header`: a tool that does
    is checked exactly as the SDK checks it."""
    server = endpoints.direct._manager.app
    schema = {
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
    }
    original = server.get_tool_input_schema
    server.get_tool_input_schema = lambda name: schema if name == "get_run" else original(name)  # type: ignore[misc]
    endpoints.direct._param_headers = type(endpoints.direct._param_headers)(server)
    arguments = {"runId": endpoints.run_id, "region": "eu"}
    for extra, refused in [({"mcp_param_region": "eu"}, False), ({}, True), ({"mcp_param_region": "us"}, True)]:
        body, headers = modern_call("get_run", arguments, **extra)
        direct = await post(endpoints.direct, body, headers)
        sdk = await post(endpoints.sdk, body, headers)
        assert (direct.status, direct.body) == (sdk.status, sdk.body)
        assert (direct.status == 400) is refused


async def test_a_direct_modern_write_is_committed_and_answered_once(endpoints: Endpoints) -> None:
    arguments = {"runId": endpoints.run_id, "artifactKey": "k", "typeId": "t", "data": {"n": 2}}
    reply = await post(endpoints.direct, *modern_call("write_artifact", arguments))
    assert reply.status == 200
    assert reply.json()["result"]["structuredContent"]["version"] == 2
    assert endpoints.handed_on == []
