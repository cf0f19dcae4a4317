"""`subscriptions/listen` on `runs://{runId}` (issue 12 §3), with the official client over real HTTP: a listener
hears a change made in this server, and one made by another `serve` process on the same SQLite file (nothing
in this process signals it: only the data_version poll can see it); tenants never hear of each other's runs;
streams are bounded and a disconnect gives back what a stream held.

Each `fail_after` below is a hang guard, not a speed assertion (bench/listen_idle.py prints the numbers)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.subscriptions import Subscription
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated
from starlette.applications import Starlette

from tests.mcp_server.test_stdio import stdio_params
from tests.servers import free_port, mcp_client, payload, running_server, server_config, token
from tests.worker_processes import audit_lines, healthy, serving_workers
from workbench_mcp.auth import load_or_create_dev_secret
from workbench_mcp.config import JwtConfig
from workbench_mcp.mcp_server import subscriptions
from workbench_mcp.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
GUARD = 20  # seconds: a missed notification fails here instead of hanging the suite
GATE = {"stepId": "parser1", "gate": "PAUSE_BEFORE"}


class Server:
    def __init__(self, url: str, app: Starlette, secret: str) -> None:
        self.url, self.app, self.secret = url, app, secret

    def client(self, user: str = "alice", org: str | None = None) -> Any:
        return mcp_client(self.url + "/api/mcp", token(user, org, secret=self.secret))


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    secret, _ = load_or_create_dev_secret(tmp_path / "workbench.db")  # shared with the second process below
    config = server_config(tmp_path, jwt=JwtConfig(secret=secret))
    app = create_app(config)
    async with running_server(config, app) as url:
        yield Server(url, app, secret)


async def _start(client: Client) -> str:
    return str(payload(await client.call_tool("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"])


async def _next(sub: Subscription) -> Any:
    with anyio.fail_after(GUARD):
        return await sub.__anext__()


async def test_a_listener_hears_a_change_made_through_this_server(server: Server) -> None:
    async with server.client() as agent, server.client("bob") as other_tenant:
        run_id = await _start(agent)
        theirs = await _start(other_tenant)
        async with agent.listen(resource_subscriptions=[f"runs://{run_id}"]) as sub:
            assert sub.honored.resource_subscriptions == [f"runs://{run_id}"]
            # Another tenant's change comes first on the wire if it were (wrongly) announced to us.
            await other_tenant.call_tool("resolve_gate", {"runId": theirs, **GATE, "decision": "approved"})
            await agent.call_tool("resolve_gate", {"runId": run_id, **GATE, "decision": "approved"})
            assert await _next(sub) == ResourceUpdated(uri=f"runs://{run_id}")


@pytest.mark.slow
async def test_a_listener_hears_a_change_made_by_another_worker_process(server: Server, tmp_path: Path) -> None:
    """A second `serve` on the same SQLite file: its write reaches this process only through the database."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    db = tmp_path / "workbench.db"
    command = [sys.executable, "-m", "workbench_mcp", "serve", "--port", str(port), "--db", str(db)]
    other = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        other_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=other_url, timeout=30) as http:
            with anyio.fail_after(60):
                while not await healthy(http):
                    assert other.returncode is None, "the second serve process exited"
                    await asyncio.sleep(0.1)
        async with server.client() as agent:
            run_id = await _start(agent)
            uri = f"runs://{run_id}"
            async with agent.listen(resource_subscriptions=[uri]) as sub:
                bearer = token("alice", secret=server.secret)
                async with mcp_client(other_url + "/api/mcp", bearer, mode="legacy") as elsewhere:
                    approve = {"runId": run_id, **GATE, "decision": "approved"}
                    decided = await elsewhere.call_tool("resolve_gate", approve)
                    assert not decided.is_error
                    assert await _next(sub) == ResourceUpdated(uri=uri)
                    await elsewhere.call_tool("begin_step", {"runId": run_id, "stepId": "parser1"})
                    assert await _next(sub) == ResourceUpdated(uri=uri)  # each change, not just the first
    finally:
        os.killpg(other.pid, signal.SIGTERM)
        await asyncio.wait_for(other.wait(), 30)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts worker processes through /proc")
async def test_a_listener_on_serve_workers_2_hears_writes_taken_by_either_worker(tmp_path: Path) -> None:
    """`serve --workers 2`: the listen stream sits on one worker; writes land on both (the audit log names the
    process), and every one of them is announced, so some crossed processes.

    Each writer keeps its connection open: a new connection goes to the worker holding fewer, so held ones soon
    fill both workers, where writers that closed at once could all land on the worker the agent left idle."""
    db = tmp_path / "w.db"
    secret, _ = load_or_create_dev_secret(db)
    log_path = tmp_path / "serve.log"
    async with serving_workers(db, 2, log_path) as (base, _):
        bearer = token("racer", secret=secret)
        async with mcp_client(base + "/api/mcp", bearer) as agent:
            run_id = await _start(agent)
            uri = f"runs://{run_id}"
            async with agent.listen(resource_subscriptions=[uri]) as sub, AsyncExitStack() as writers_held:
                for n in range(12):
                    writer = await writers_held.enter_async_context(  # a new connection, kept
                        mcp_client(base + "/api/mcp", bearer, mode="legacy")
                    )
                    args = {"runId": run_id, "artifactKey": "k", "typeId": "t.v1", "data": n}
                    assert not (await writer.call_tool("write_artifact", args)).is_error
                    assert await _next(sub) == ResourceUpdated(uri=uri)
                    if len({line["pid"] for line in audit_lines(log_path) if line["tool"] == "write_artifact"}) == 2:
                        break
    writers = {line["pid"] for line in audit_lines(log_path) if line["tool"] == "write_artifact"}
    assert len(writers) == 2, writers


async def test_a_run_deleted_over_rest_is_announced(server: Server) -> None:
    async with server.client() as agent, httpx.AsyncClient(base_url=server.url, timeout=30) as rest:
        run_id = await _start(agent)
        async with agent.listen(resource_subscriptions=[f"runs://{run_id}"]) as sub:
            bearer = {"Authorization": f"Bearer {token('alice', secret=server.secret)}"}
            assert (await rest.delete(f"/api/runs/{run_id}", headers=bearer)).status_code in (200, 204)
            assert await _next(sub) == ResourceUpdated(uri=f"runs://{run_id}")


async def test_another_tenants_run_is_refused_exactly_like_a_missing_one(server: Server) -> None:
    async with server.client() as owner, server.client("eve") as stranger:
        run_id = await _start(owner)
        refusals = []
        for target in (run_id, "run_missing"):
            with pytest.raises(MCPError) as refused:
                async with stranger.listen(resource_subscriptions=[f"runs://{target}"]):
                    pass
            error = refused.value.error
            refusals.append((error.code, error.message.replace(target, "X"), {**(error.data or {}), "uri": "X"}))
        assert refusals[0] == refusals[1]
        assert refusals[0][2]["code"] == "UNKNOWN_RUN"


async def test_a_lone_surrogate_in_a_run_uri_names_no_run(server: Server) -> None:
    """Valid JSON the client library cannot even encode: sent raw, it must be refused as a missing run (it was an
    INTERNAL_ERROR: SQLite cannot bind the id)."""
    request = (
        b'{"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":'
        b'["runs://\\ud800"]},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
        b'"io.modelcontextprotocol/clientCapabilities":{}}}}'
    )
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "subscriptions/listen",
        "Authorization": f"Bearer {token('alice', secret=server.secret)}",
    }
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        reply = (await http.post("/api/mcp", content=request, headers=headers)).json()
    assert reply["error"]["code"] == -32602
    assert reply["error"]["data"]["code"] == "UNKNOWN_RUN"


async def test_only_run_uris_are_honored(server: Server) -> None:
    async with server.client() as agent:
        run_id = await _start(agent)
        uris = [f"runs://{run_id}", "workflows://jobSearchWorkflow", "ui://workbench/run-view.html"]
        async with agent.listen(resource_subscriptions=uris, tools_list_changed=True) as sub:
            assert sub.honored.resource_subscriptions == [f"runs://{run_id}"]
            assert sub.honored.tools_list_changed is True


async def test_streams_are_bounded_and_a_disconnect_frees_the_slot(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler: subscriptions.RunListenHandler = server.app.state.mcp_server.listen_handler
    monkeypatch.setattr(handler, "_max_per_tenant", 2)
    async with server.client() as agent:
        run_id = await _start(agent)
        uri = f"runs://{run_id}"
        too_many = [f"runs://{run_id}{n}" for n in range(subscriptions.MAX_RUNS_PER_STREAM + 1)]
        with pytest.raises(MCPError) as refused:
            async with agent.listen(resource_subscriptions=too_many):
                pass
        assert (refused.value.error.data or {})["code"] == "LIMIT_EXCEEDED"
        async with agent.listen(resource_subscriptions=[uri]), agent.listen(resource_subscriptions=[uri]):
            with pytest.raises(MCPError) as refused:
                async with agent.listen(resource_subscriptions=[uri]):
                    pass
            assert (refused.value.error.data or {})["code"] == "LIMIT_EXCEEDED"
        watch = server.app.state.service._changes
        with anyio.fail_after(GUARD):  # the server sees each client's disconnect and unwinds that stream
            while handler.open_streams or watch._waiters:  # noqa: ASYNC110 - server state, no event to await
                await asyncio.sleep(0.05)
        async with agent.listen(resource_subscriptions=[uri]) as sub:  # the slots are free again
            await agent.call_tool("resolve_gate", {"runId": run_id, **GATE, "decision": "approved"})
            assert await _next(sub) == ResourceUpdated(uri=uri)


async def test_a_stream_ends_gracefully_at_its_lifetime(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound that keeps an abandoned stream (and a server shutdown waiting on it) short: the client's loop
    just ends, and it re-listens."""
    monkeypatch.setattr(server.app.state.mcp_server.listen_handler, "_lifetime", 0.5)
    async with server.client() as agent:
        run_id = await _start(agent)
        for uris in ([f"runs://{run_id}"], []):
            async with agent.listen(resource_subscriptions=uris, tools_list_changed=True) as sub:
                with anyio.fail_after(GUARD):
                    assert [event async for event in sub] == []


async def test_a_listener_over_stdio_hears_its_changes(tmp_path: Path) -> None:
    async with Client(stdio_params(tmp_path, "--tenant", "acme")) as client:
        run_id = await _start(client)
        async with client.listen(resource_subscriptions=[f"runs://{run_id}"]) as sub:
            await client.call_tool("resolve_gate", {"runId": run_id, **GATE, "decision": "approved"})
            assert await _next(sub) == ResourceUpdated(uri=f"runs://{run_id}")
