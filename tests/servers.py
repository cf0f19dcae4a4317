"""Real servers for transport tests: uvicorn on a free loopback port, real SQLite file, real bearer tokens.

Plain helpers (import them); the fixtures built on them live in each test package's conftest.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from starlette.applications import Starlette

from workbench_mcp.auth import mint_token
from workbench_mcp.config import JwtConfig, RateLimitConfig, ServerConfig, Toolset
from workbench_mcp.web.app import create_app
from workbench_mcp.web.http_protocol import uvicorn_settings

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
ALL_TOOLSETS = frozenset(Toolset)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_config(tmp_path: Path, **changes: Any) -> ServerConfig:
    """A config for a server on a free loopback port with its own SQLite file and every toolset."""
    base = ServerConfig(
        port=free_port(),
        db_path=tmp_path / "workbench.db",
        toolsets=ALL_TOOLSETS,
        jwt=JwtConfig(secret=SECRET),
        log_level="WARNING",
        # Tests drive one tenant far faster than agents do; the limiter has its own tests (fairness stays on).
        rate_limit=RateLimitConfig(per_second=0),
    )
    return replace(base, **changes)


@asynccontextmanager
async def running_server(config: ServerConfig, app: Starlette | None = None) -> AsyncIterator[str]:
    """Serve `app` (default create_app(config)) with uvicorn in this event loop; yields the base URL."""
    if app is None:
        app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            **uvicorn_settings(config.connections),
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error here
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        await task


@contextmanager
def server_in_thread(config: ServerConfig) -> Iterator[str]:
    """`running_server` in a thread with its own event loop, for blocking clients (schemathesis, a browser
    driven over a pipe) that would otherwise stall the loop serving their requests."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        async with running_server(config) as url:
            box.update(url=url, loop=asyncio.get_running_loop(), stop=stop)
            ready.set()
            await stop.wait()

    def main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # startup failures are re-raised in the caller's thread
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, name="uvicorn-test-server", daemon=True)
    thread.start()
    ready.wait(timeout=60)
    if "error" in box:
        raise box["error"]
    try:
        yield box["url"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(timeout=60)


def token(user: str = "alice", org: str | None = None, secret: str = SECRET, **claims: Any) -> str:
    return mint_token(secret, user=user, org=org, **claims)


@asynccontextmanager
async def mcp_client(url: str, bearer: str | None, **client_options: Any) -> AsyncIterator[Client]:
    """The official Python client over Streamable HTTP with an Authorization header."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), **client_options) as client,
    ):
        yield client


def payload(result: CallToolResult) -> dict[str, Any]:
    """structuredContent, after checking that the text item carries the very same JSON."""
    assert result.structured_content is not None
    text = result.content[0].text  # type: ignore[union-attr]
    content: dict[str, Any] = result.structured_content
    assert json.loads(text) == content
    return content


def error_code(result: CallToolResult) -> str:
    assert result.is_error, f"expected an error result, got {result.structured_content}"
    body = payload(result)
    assert set(body) == {"error", "code"}
    assert isinstance(body["error"], str)
    assert body["error"]
    return str(body["code"])
