"""What `serve` prints for clients works when pasted: the stdio snippet reaches the dev token's runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.mcp_server.scenario import caller
from tests.servers import free_port
from workbench_mcp.cli import stdio_client_command
from workbench_mcp.config import ServerConfig, Toolset

REPO = Path(__file__).resolve().parents[1]
CONSOLE_SCRIPT = Path(sys.executable).with_name("workbench-mcp")


def _banner(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(line.startswith("More tokens:") for line in lines):
        line = process.stdout.readline()
        if not line:
            raise AssertionError("no banner: " + "".join(lines))
        lines.append(line)
    return lines


def _after(lines: list[str], prefix: str) -> str:
    return next(lines[i + 1] for i, line in enumerate(lines) if line.startswith(prefix)).strip()


def _rpc(base: str, token: str, method: str, params: dict[str, Any]) -> Any:
    call = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    return httpx.post(base + "/api/mcp", json=call, headers=headers, timeout=30).json()["result"]


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def _serve_start_a_run_and_stop(serve_dir: Path) -> tuple[dict[str, Any], str, list[str]]:
    """Run `serve` from its console script: the Claude Desktop entry it printed, a run started with its dev
    token, and the tools its HTTP endpoint lists."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    argv = [str(CONSOLE_SCRIPT), "serve", "--port", str(port), "--toolsets", "core,telemetry", "--log-level", "WARNING"]
    with subprocess.Popen(
        argv, env={**env, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True, cwd=serve_dir
    ) as process:
        try:
            lines = _banner(process)
            token = _after(lines, "Dev token (tenant ")
            desktop = json.loads(_after(lines, "Claude Desktop ("))["mcpServers"]["workbench"]
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base)
            started = _rpc(
                base, token, "tools/call", {"name": "start_run", "arguments": {"workflowId": "jobSearchWorkflow"}}
            )
            tools = [t["name"] for t in _rpc(base, token, "tools/list", {})["tools"]]
        finally:
            process.terminate()
            process.wait(timeout=30)
    return desktop, started["structuredContent"]["runId"], tools


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists() and os.environ.get("CI") != "true", reason="not pip-installed")
async def test_the_printed_stdio_snippet_sees_the_dev_tokens_runs(tmp_path: Path) -> None:
    """Pasted into a client that starts it with no venv, no PATH and another working directory."""
    serve_dir, client_dir = tmp_path / "serve", tmp_path / "client"
    serve_dir.mkdir()
    client_dir.mkdir()
    desktop, run_id, http_tools = await anyio.to_thread.run_sync(_serve_start_a_run_and_stop, serve_dir)
    assert Path(desktop["command"]).is_absolute()
    # Only what a desktop client passes: no PATH, no VIRTUAL_ENV (PYTHONPATH selects this checkout's code).
    params = StdioServerParameters(
        command=desktop["command"],
        args=desktop["args"],
        env={"PYTHONPATH": str(REPO), "WORKBENCH_LOG_LEVEL": "WARNING"},
        cwd=str(client_dir),
    )
    async with Client(params) as client:
        runs = await caller(client)("list_runs", {})
        stdio_tools = (await client.list_tools()).tools
    assert [r["id"] for r in runs["runs"]] == [run_id]
    assert sorted(t.name for t in stdio_tools) == sorted(http_tools)


def test_the_stdio_command_carries_the_serving_configuration(tmp_path: Path) -> None:
    config = ServerConfig(
        db_path=Path("rel.db"),
        workflows_dir=Path("flows"),
        toolsets=frozenset({Toolset.CORE, Toolset.STEPS}),
        read_only=True,
        durability="full",
    )
    command = stdio_client_command(config, argv0=str(tmp_path / "missing" / "workbench-mcp"))
    assert command[:3] == [sys.executable, "-m", "workbench_mcp"]  # no script there: the interpreter runs us
    args = command[3:]
    assert args[0] == "stdio"
    assert Path(args[args.index("--db") + 1]).is_absolute()
    assert Path(args[args.index("--workflows") + 1]).is_absolute()
    assert args[args.index("--toolsets") + 1] == "core,steps"
    assert args[args.index("--tenant") + 1] == "user:dev"
    assert "--read-only" in args
    assert args[args.index("--durability") + 1] == "full"
    script = tmp_path / "workbench-mcp"
    script.write_text("#!/bin/sh\n")
    assert stdio_client_command(config, argv0=str(script))[0] == str(script)
