"""Network exposure over a real server: the Host/Origin check on every route, timeouts, the connection cap, GET 405."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from tests.servers import running_server, server_config, token
from workbench_mcp.config import ConfigError, ConnectionLimits, JwtConfig, ServerConfig, check_serve_config
from workbench_mcp.web.network_guard import HOST_VERDICTS, HostOriginMiddleware, HostPolicy

MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
START = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "start_run", "arguments": {"workflowId": "jobSearchWorkflow"}},
}
HANG_GUARD_S = 60
"""Only against a hang (the behaviour under test being absent): never a speed assertion."""


@pytest.fixture
def single_tenant(tmp_path: Path) -> ServerConfig:
    return server_config(tmp_path, single_tenant="local", jwt=JwtConfig())


@pytest.fixture
async def single_tenant_url(single_tenant: ServerConfig) -> AsyncIterator[str]:
    async with running_server(single_tenant) as url:
        yield url


# --- DNS rebinding: one check for every non-public route ----------------------------------------------


async def test_single_tenant_rest_refuses_a_foreign_host_and_changes_nothing(single_tenant_url: str) -> None:
    async with httpx.AsyncClient(base_url=single_tenant_url, timeout=60) as http:
        started = await http.post("/api/mcp", json=START, headers=MCP_HEADERS)
        run_id = started.json()["result"]["structuredContent"]["runId"]
        rebound = {"Host": "attacker.example:8765"}
        listed = await http.get("/api/runs", headers=rebound)
        read = await http.get(f"/api/runs/{run_id}", headers=rebound)
        deleted = await http.delete(f"/api/runs/{run_id}", headers=rebound)
        demo = await http.get("/runs/demo", headers=rebound)
        mcp = await http.post("/api/mcp", json=START, headers={**MCP_HEADERS, **rebound})
        unknown = await http.get("/no/such/path", headers=rebound)
        still_there = await http.get(f"/api/runs/{run_id}")
    for response in (listed, read, deleted, demo, mcp, unknown):
        assert response.status_code == 421, response.request.url
        assert response.json()["code"] == "MISDIRECTED_REQUEST"
        assert run_id not in response.text
    assert still_there.status_code == 200


async def test_single_tenant_rest_refuses_a_foreign_origin(single_tenant_url: str) -> None:
    async with httpx.AsyncClient(base_url=single_tenant_url, timeout=60) as http:
        for origin in ("http://attacker.example", "null", "http://127.0.0.1.attacker.example:8765"):
            response = await http.get("/api/runs", headers={"Origin": origin})
            assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN_ORIGIN"), origin
        for origin in ("http://localhost:3000", "http://127.0.0.1", "https://[::1]:9"):
            assert (await http.get("/api/runs", headers={"Origin": origin})).status_code == 200, origin


async def test_public_documents_answer_any_host(single_tenant_url: str) -> None:
    """They are CORS-open by design and hold no tenant data: a rebinding page learns nothing new from them."""
    rebound = {"Host": "attacker.example"}
    async with httpx.AsyncClient(base_url=single_tenant_url, timeout=60) as http:
        for path in ("/healthz", "/.well-known/oauth-protected-resource/api/mcp", "/llms.txt", "/agents.md"):
            assert (await http.get(path, headers=rebound)).status_code == 200, path


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost", 200),  # port 80, or a reverse proxy that drops the port
        ("127.0.0.1", 200),
        ("LOCALHOST:1", 200),
        ("[::1]", 200),
        ("[::1]:8765", 200),
        ("127.0.0.2:8765", 200),
        ("127.0.0.1:evil.com", 421),  # was accepted: the SDK matched the prefix "127.0.0.1:"
        ("localhost:evil.com", 421),
        ("localhost.evil.com", 421),
        ("127.0.0.1:0", 421),
        ("127.0.0.1:99999", 421),
        ("[::1]evil", 421),
        ("::1", 421),
        ("", 421),
    ],
)
async def test_host_headers_are_parsed_not_prefix_matched(base_url: str, host: str, status: int) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token()}", "Host": host}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        response = await http.post("/api/mcp", json=START, headers=headers)
    assert response.status_code == status


async def test_host_verdicts_are_remembered_per_value_and_bounded() -> None:
    """HostOriginMiddleware keeps each Host value's verdict (parsing it cost more than the rest of the check);
    a remembered verdict is the same as a fresh one, and past the bound the memo starts over."""

    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    guard = HostOriginMiddleware(ok, HostPolicy(allowed=()), public_paths=())
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:

        async def status(host: str) -> int:
            return (await http.get("/api/runs", headers={"Host": host})).status_code

        for _ in range(2):  # the second round answers from the memo
            assert await status("127.0.0.1:8765") == 200
            assert await status("127.0.0.1:evil.com") == 421
            assert await status("evil.example") == 421
        for port in range(1, 3 * HOST_VERDICTS):
            assert await status(f"localhost:{port}") == 200
            assert len(guard._hosts) <= HOST_VERDICTS
        assert await status("evil.example") == 421
        assert await status("127.0.0.1:8765") == 200


async def test_public_url_host_is_accepted_on_its_own_port_only(tmp_path: Path) -> None:
    config = server_config(tmp_path, public_url="https://mcp.example.test", allowed_hosts=("proxy.internal:8443",))
    headers = {"Authorization": f"Bearer {token()}"}
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:

        async def status(**extra: str) -> int:
            return (await http.get("/api/runs", headers={**headers, **extra})).status_code

        assert await status(Host="mcp.example.test") == 200
        assert await status(Host="mcp.example.test:443", Origin="https://mcp.example.test") == 200
        assert await status(Host="proxy.internal:8443") == 200
        assert await status(Host="mcp.example.test:8080") == 421
        assert await status(Host="proxy.internal:9000") == 421
        assert await status(Origin="http://mcp.example.test") == 403  # the public URL's scheme only
        assert await status(Origin="https://mcp.example.test:8443") == 403


@pytest.mark.parametrize("hosts", [("mcp.example.test",), ("localhost", "10.0.0.5:8765")])
def test_single_tenant_mode_refuses_non_loopback_allowed_hosts(single_tenant: ServerConfig, hosts: Any) -> None:
    with pytest.raises(ConfigError, match="allowed hosts"):
        check_serve_config(replace(single_tenant, allowed_hosts=hosts))
    check_serve_config(replace(single_tenant, allowed_hosts=("localhost", "[::1]:9000")))


@pytest.mark.parametrize("entry", ["127.0.0.1:evil", "a b", "[::1", "host:0"])
def test_malformed_allowed_hosts_are_refused(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ConfigError, match="allowed host"):
        check_serve_config(server_config(tmp_path, allowed_hosts=(entry,)))


# --- GET on the MCP endpoint: no stream on a stateless server --------------------------------------


@pytest.mark.parametrize("path", ["/api/mcp", "/mcp"])
async def test_get_on_the_mcp_endpoint_is_405_not_a_stream(base_url: str, path: str) -> None:
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token()}"}
    # The hang guard matters here: an SSE stream (the old answer) never ends.
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
        response = await http.get(path, headers=headers)
        anonymous = await http.get(path, headers={"Accept": "text/event-stream"})
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "POST, DELETE"
    assert anonymous.status_code == 401  # discovery through 401 + WWW-Authenticate is unchanged


# --- slow and idle clients (real sockets) -------------------------------------------------------------

FAST = ConnectionLimits(header_timeout_s=0.5, body_timeout_s=0.5, keep_alive_s=0.5, max_connections=1000)


async def trickle(port: int, first: bytes, then: bytes = b"", every_s: float = 0.1) -> bytes:
    """Send `first`, then `then` every `every_s` until the server closes; everything the server sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def drip() -> None:
        writer.write(first)
        while then:
            await asyncio.sleep(every_s)
            writer.write(then)
            await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        return await asyncio.wait_for(reader.read(), HANG_GUARD_S)  # read() returns at EOF: the server closed
    finally:
        dripping.cancel()
        writer.close()


async def test_a_request_head_sent_a_line_at_a_time_is_cut_off(tmp_path: Path) -> None:
    config = server_config(tmp_path, connections=FAST)
    async with running_server(config):
        answer = await trickle(config.port, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: 1\r\n")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "REQUEST_TIMEOUT"


async def test_a_body_sent_a_byte_at_a_time_is_cut_off(single_tenant: ServerConfig) -> None:
    config = replace(single_tenant, connections=FAST)
    head = (
        b"POST /api/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\nContent-Length: 10000\r\n\r\n"
    )
    async with running_server(config):
        answer = await trickle(config.port, head, b" ")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "REQUEST_TIMEOUT"


async def test_a_silent_connection_is_closed(tmp_path: Path) -> None:
    config = server_config(tmp_path, connections=FAST)
    async with running_server(config):
        answer = await trickle(config.port, b"")
    assert answer == b""  # closed without a word: nothing was asked


async def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path) -> None:
    config = server_config(tmp_path, connections=FAST)
    async with running_server(config):
        answer = await trickle(config.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")  # one answer, then the idle connection is closed


async def test_connections_beyond_the_cap_get_a_json_503(tmp_path: Path) -> None:
    config = server_config(tmp_path, connections=ConnectionLimits(header_timeout_s=HANG_GUARD_S, max_connections=3))
    async with running_server(config) as url:
        idle = [await asyncio.open_connection("127.0.0.1", config.port) for _ in range(3)]
        try:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                busy = await http.get("/healthz")
        finally:
            for _, writer in idle:
                writer.close()
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            # The idle sockets are gone: served again (retried while the server notices the closes).
            for _ in range(100):
                if (again := await http.get("/healthz")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
    assert busy.status_code == 503
    assert busy.json()["code"] == "SERVER_BUSY"
    assert again.status_code == 200


async def test_a_body_still_dribbling_after_its_answer_is_cut_off_without_a_second_answer(tmp_path: Path) -> None:
    config = server_config(tmp_path, connections=FAST)
    head = b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n\r\n"
    async with running_server(config):
        answer = await trickle(config.port, head, b" ")  # no token: 401 before the body is read
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert answer.count(b"HTTP/1.1 ") == 1
