"""The same run over stdio: the official client launches `workbench-mcp stdio` as a subprocess."""

from __future__ import annotations

import sys
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
    async with Client(params, mode=mode) as client:  # type: ignore[arg-type]
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
