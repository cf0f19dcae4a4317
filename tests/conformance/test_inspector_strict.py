"""The MCP Inspector's CLI, `--strict`: our tool schemas raise no portability finding (error or warning).

`--strict` lints every input and output schema of `tools/list` (bare `true`/`{}` schemas, `type` arrays,
remote `$ref`s, ...) and prints each finding on stderr; with none it prints nothing. The Inspector needs
Node 22 (tests/conformance/toolchain.py installs both; with CI=true a missing one fails the test).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.toolchain import REPO, ensure_inspector, ensure_node22
from tests.servers import running_server, server_config, token
from workbench_mcp.config import DEFAULT_TOOLSETS, Toolset
from workbench_mcp.mcp_server.toolsets import all_tools, enabled_tools


@pytest.fixture(scope="module")
def inspector() -> tuple[Path, Path]:
    return ensure_node22(), ensure_inspector()


async def strict_tools_list(inspector: tuple[Path, Path], *target: str) -> list[dict[str, Any]]:
    node, launcher = inspector
    process = await asyncio.create_subprocess_exec(
        str(node),
        str(launcher),
        "--cli",
        "--method",
        "tools/list",
        "--strict",
        *target,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    report = stderr.decode()
    assert process.returncode == 0, report[-3000:]
    assert "Warning:" not in report, report[-3000:]
    assert "Error:" not in report, report[-3000:]
    tools: list[dict[str, Any]] = json.loads(stdout)["tools"]
    return tools


@pytest.mark.parametrize("toolsets", ["default", "all"])
async def test_inspector_strict_finds_nothing_over_stdio(
    inspector: tuple[Path, Path], tmp_path: Path, toolsets: str
) -> None:
    server = [sys.executable, "-m", "workbench_mcp", "stdio", "--db", str(tmp_path / "i.db"), "--toolsets", toolsets]
    tools = await strict_tools_list(inspector, "-e", f"PYTHONPATH={REPO}", "--", *server)
    chosen = DEFAULT_TOOLSETS if toolsets == "default" else frozenset(Toolset)
    # The Inspector declares no elicitation, so the tools that ask the user (ToolSpec.asks_user) are not listed.
    expected = {s.name for s in enabled_tools(all_tools(), chosen, False) if not s.asks_user}
    assert {t["name"] for t in tools} == expected


async def test_inspector_strict_finds_nothing_over_http(inspector: tuple[Path, Path], tmp_path: Path) -> None:
    async with running_server(server_config(tmp_path)) as base:  # every toolset
        target = [base + "/api/mcp", "--transport", "http", "--header", f"Authorization: Bearer {token('inspector')}"]
        tools = await strict_tools_list(inspector, *target)
    assert len(tools) == len([s for s in all_tools() if not s.asks_user])
