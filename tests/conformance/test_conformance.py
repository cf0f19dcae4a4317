"""The official MCP conformance suite's generic server scenarios against our real HTTP server.

The suite sends no token, so the server runs in its loopback-only single-tenant mode (refused on any
other host by check_serve_config), not with a hole in authentication.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conformance.toolchain import ensure_node22, ensure_suite
from tests.servers import running_server, server_config
from workbench_mcp.config import JwtConfig, check_serve_config

# The first test installs Node 22 and the suite from npm (two npm commands of up to 600 s each).
pytestmark = pytest.mark.timeout(1500)

GENERIC_SCENARIOS = [
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
]
"""Scenarios every compliant server must pass; the rest need the suite's fixture server."""


@pytest.fixture(scope="module")
def suite() -> tuple[Path, Path]:
    return ensure_node22(), ensure_suite()


@pytest.fixture
async def mcp_url(tmp_path: Path) -> AsyncIterator[str]:
    config = server_config(tmp_path, single_tenant="conformance", jwt=JwtConfig())
    check_serve_config(config)  # the same guard `workbench-mcp serve` applies
    async with running_server(config) as base:
        yield base + "/mcp"


async def run_scenario(suite: tuple[Path, Path], url: str, scenario: str, out: Path) -> list[dict[str, object]]:
    node, index = suite
    process = await asyncio.create_subprocess_exec(
        str(node),
        str(index),
        "server",
        "--url",
        url,
        "--scenario",
        scenario,
        "--output-dir",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    checks = read_checks(out)
    assert checks is not None, f"{scenario}: no checks.json (exit {process.returncode}): {output.decode()[-2000:]}"
    return checks


def read_checks(out: Path) -> list[dict[str, object]] | None:
    reports = sorted(out.glob("*/checks.json"))
    if not reports:
        return None
    checks: list[dict[str, object]] = json.loads(reports[-1].read_text(encoding="utf-8"))
    return checks


@pytest.mark.parametrize("scenario", GENERIC_SCENARIOS)
async def test_generic_server_scenario_passes(
    suite: tuple[Path, Path], mcp_url: str, scenario: str, tmp_path: Path
) -> None:
    checks = await run_scenario(suite, mcp_url, scenario, tmp_path / "out")
    failed = [c for c in checks if c.get("status") == "FAILURE"]
    assert checks
    assert failed == [], json.dumps(failed, indent=2)
    assert any(c.get("status") == "SUCCESS" for c in checks)
