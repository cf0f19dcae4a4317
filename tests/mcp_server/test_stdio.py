"""The same run over stdio: the official client launches `workbench-mcp stdio` as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.mcp_server.scenario import caller, run_job_search
from tests.servers import error_code

REPO = Path(__file__).resolve().parents[2]


def stdio_params(tmp_path: Path, *args: str) -> StdioServerParameters:
    script = Path(sys.executable).with_name("workbench-mcp")
    command, prefix = (str(script), []) if script.exists() else (sys.executable, ["-m", "workbench_mcp"])
    return StdioServerParameters(
        command=command,
        args=[*prefix, "stdio", "--db", str(tmp_path / "stdio.db"), *args],
        env={"PYTHONPATH": str(REPO), "WORKBENCH_LOG_LEVEL": "WARNING"},
        cwd=str(tmp_path),
    )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_job_search_run_over_stdio(tmp_path: Path, mode: str) -> None:
    params = stdio_params(tmp_path, "--tenant", "acme", "--toolsets", "core,steps,telemetry")
    async with Client(params, mode=mode) as client:
        outcome = await run_job_search(caller(client))
        listed = await client.list_resources()
    assert f"runs://{outcome['runId']}" in [str(r.uri) for r in listed.resources]


async def test_stdio_tenant_is_the_identity(tmp_path: Path) -> None:
    """Runs started as one --tenant are invisible to another --tenant on the same database."""
    async with Client(stdio_params(tmp_path, "--tenant", "acme")) as acme:
        run_id = (await caller(acme)("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
    async with Client(stdio_params(tmp_path, "--tenant", "globex")) as globex:
        result = await globex.call_tool("get_run", {"runId": run_id})
        runs = await caller(globex)("list_runs", {})
    assert error_code(result) == "UNKNOWN_RUN"
    assert runs == {"runs": []}


async def test_stdio_read_only_offers_read_tools_only(tmp_path: Path) -> None:
    async with Client(stdio_params(tmp_path, "--read-only", "--toolsets", "all")) as client:
        tools = await client.list_tools()
    assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools.tools)
    assert "start_run" not in {t.name for t in tools.tools}


def reply_line(server: subprocess.Popen[str]) -> str:
    """The server's next line; a server that never answers is killed (a hang guard, not a timing check)."""
    assert server.stdout is not None
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(server.stdout.readline)
        try:
            return pending.result(timeout=60)
        except TimeoutError:
            server.kill()
            raise AssertionError("the server sent no reply") from None


def test_lone_surrogates_pass_the_stdio_wire_both_ways(tmp_path: Path) -> None:
    """Raw lines (the official client cannot send a lone surrogate): the SDK's own stdio transport gave a
    request holding `\\ud800` no reply at all, and died writing a result holding one."""
    params = stdio_params(tmp_path)
    lone = "\ud800"
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "start_run", "arguments": {"workflowId": "jobSearchWorkflow", "metadata": {"x": lone}}},
        },
    ]
    text = "".join(json.dumps(r) + "\n" for r in requests)
    with subprocess.Popen(
        [params.command, *params.args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(params.env or {})},
        cwd=params.cwd,
        text=True,
    ) as server:
        assert server.stdin is not None
        assert server.stdout is not None
        server.stdin.write(text)
        server.stdin.flush()
        replies = [json.loads(reply_line(server)) for _ in range(2)]
        run_id = replies[1]["result"]["structuredContent"]["runId"]
        get_run = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "get_run", "arguments": {"runId": run_id}},
        }
        server.stdin.write(json.dumps(get_run) + "\n")
        server.stdin.flush()
        line = reply_line(server)
        server.stdin.close()
        assert server.wait(timeout=60) == 0
    assert "\\ud800" in line  # escaped on the wire, as JSON.stringify writes it
    assert json.loads(line)["result"]["structuredContent"]["run"]["metadata"] == {"x": lone}
