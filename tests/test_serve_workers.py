"""`serve --workers N`: N processes on one port and one SQLite file, without losing a concurrent update."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import token
from tests.worker_processes import audit_lines, serving_workers, worker_pids
from workbench_mcp.auth import load_or_create_dev_secret
from workbench_mcp.cli import _parser, config_from
from workbench_mcp.config import (
    ConfigError,
    JwtConfig,
    RateLimitConfig,
    ServerConfig,
    Toolset,
    check_serve_config,
    config_from_json,
    config_to_json,
)

REPO = Path(__file__).resolve().parents[1]
WORKERS = 2
CLIENTS = 8
WRITES_EACH = 15
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


def test_the_configuration_reaches_workers_unchanged() -> None:
    config = ServerConfig(
        port=9999,
        db_path=Path("/data/w.db"),
        workflows_dir=Path("/wf"),
        toolsets=frozenset({Toolset.CORE, Toolset.STEPS}),
        read_only=True,
        public_url="https://mcp.example.test",
        allowed_hosts=("a", "b:1"),
        jwt=JwtConfig(secret="s" * 40, issuer="https://i", audience="aud", tenant_claims=("org",), leeway_seconds=5),
        log_level="WARNING",
        workers=3,
        durability="full",
        rate_limit=RateLimitConfig(per_second=12.5, burst=40),
    )
    assert config_from_json(config_to_json(config)) == config


def test_workers_and_rate_limits_come_from_flags_over_the_environment() -> None:
    args = _parser().parse_args(["serve", "--workers", "3", "--rate-limit", "50", "--rate-burst", "80"])
    env = {"WORKBENCH_WORKERS": "2", "WORKBENCH_RATE_LIMIT": "10", "WORKBENCH_RATE_BURST": "20"}
    config = config_from(args, env)
    assert (config.workers, config.rate_limit) == (3, RateLimitConfig(per_second=50, burst=80))
    from_env = config_from(_parser().parse_args(["serve"]), env)
    assert (from_env.workers, from_env.rate_limit) == (2, RateLimitConfig(per_second=10, burst=20))


@pytest.mark.parametrize("changes", [{"workers": 0}, {"workers": 1000}, {"rate_limit": RateLimitConfig(-1, 5)}])
def test_nonsense_worker_and_rate_settings_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        check_serve_config(replace(ServerConfig(), **changes))


async def _tool(http: httpx.AsyncClient, bearer: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    response = await http.post("/api/mcp", json=request, headers={**HEADERS, "Authorization": f"Bearer {bearer}"})
    result = response.json()["result"]
    assert not result.get("isError"), result
    body: dict[str, Any] = result["structuredContent"]
    return body


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts worker processes through /proc")
async def test_two_workers_share_one_database_without_lost_updates(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    secret, _ = load_or_create_dev_secret(db)  # the dev secret the workers will share
    bearer = token("racer", secret=secret)
    async with (
        serving_workers(db, WORKERS, tmp_path / "serve.log") as (base, supervisor),
        httpx.AsyncClient(base_url=base, timeout=60) as http,
    ):
        run_id = (await _tool(http, bearer, "start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]

        async def write(n: int, i: int) -> int:
            # A new connection per write: each lands on whichever process holds fewer connections at
            # that moment, so both processes race for the same run all along.
            async with httpx.AsyncClient(base_url=base, timeout=60) as own:
                args = {"runId": run_id, "artifactKey": "race", "typeId": "t.v1", "data": {"n": n, "i": i}}
                version: int = (await _tool(own, bearer, "write_artifact", args))["version"]
                return version

        async def writer(n: int) -> list[int]:
            return [await write(n, i) for i in range(WRITES_EACH)]

        versions = [v for got in await asyncio.gather(*(writer(n) for n in range(CLIENTS))) for v in got]
        state = await _tool(http, bearer, "get_run", {"runId": run_id})
        workers = worker_pids(supervisor)
    assert len(workers) == WORKERS
    audit = audit_lines(tmp_path / "serve.log")
    writes_by_pid = Counter(line["pid"] for line in audit if line["tool"] == "write_artifact")
    assert set(writes_by_pid) == set(workers), writes_by_pid  # both processes took writes
    expected = CLIENTS * WRITES_EACH
    assert sum(writes_by_pid.values()) == expected
    assert sorted(versions) == list(range(1, expected + 1))  # every acknowledgement a distinct version
    written = [e["artifact"]["version"] for e in state["trace"] if e["type"] == "artifact_written"]
    assert written == list(range(1, expected + 1))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts worker processes through /proc")
async def test_clients_that_connect_at_once_are_spread_over_the_workers(tmp_path: Path) -> None:
    """Bursts of eight clients that open their connection together and keep it: every worker gets its share.
    Before, one process's accept took a whole burst, and 8/0 or 7/1 splits left the other process idle."""
    db = tmp_path / "w.db"
    secret, _ = load_or_create_dev_secret(db)
    async with serving_workers(db, WORKERS, tmp_path / "serve.log") as (base, supervisor):
        for burst in range(BURSTS):
            await _burst_of_clients(base, token(f"burst{burst}", secret=secret))
            await asyncio.sleep(0.5)  # the workers see the burst's connections closed before the next one
        workers = worker_pids(supervisor)
    start_runs = [line for line in audit_lines(tmp_path / "serve.log") if line["tool"] == "start_run"]
    for burst in range(BURSTS):
        served = Counter(line["pid"] for line in start_runs if line["tenant"] == f"user:burst{burst}")
        assert sum(served.values()) == CLIENTS
        assert set(served) == set(workers), served
        assert min(served.values()) >= 3, served


BURSTS = 3


async def _burst_of_clients(base: str, bearer: str) -> None:
    """CLIENTS clients, each calling once on a connection of its own that all open at the same moment."""
    one_connection = httpx.Limits(max_connections=1)
    clients = [httpx.AsyncClient(base_url=base, timeout=60, limits=one_connection) for _ in range(CLIENTS)]
    try:
        await asyncio.gather(*(_tool(c, bearer, "start_run", {"workflowId": "jobSearchWorkflow"}) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_rate_limit_is_refused_from_the_flag_as_from_the_environment(value: str) -> None:
    """`--rate-limit nan` used to pass (NaN > 0 is false: the limiter silently off); the variable refused it."""
    with pytest.raises(ConfigError):
        check_serve_config(config_from(_parser().parse_args(["serve", "--rate-limit", value]), {}))
    with pytest.raises(ConfigError):
        check_serve_config(config_from(_parser().parse_args(["serve"]), {"WORKBENCH_RATE_LIMIT": value}))
