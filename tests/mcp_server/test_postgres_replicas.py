"""`workbench-mcp serve --db postgresql://...` end to end: two separate serve processes (replicas) on two
ports and one PostgreSQL database, driven by the official MCP client over Streamable HTTP.

The whole reference workflow runs through replica A and its bundle verifies; replica B exports the very
same bundle; 16 clients spread over both replicas write to one run without an error or a lost version; a
gate decided through replica A ends a wait_for_decision on replica B (LISTEN/NOTIFY across processes)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mcp_server.scenario import caller, run_job_search
from tests.servers import SECRET, free_port, mcp_client, token
from workbench_mcp.ledger.keys import SigningKey, write_key

REPO = Path(__file__).resolve().parents[2]
CLIENTS = 16
WRITES_EACH = 5


@dataclass
class Replicas:
    urls: list[str]
    bearer: str


async def _healthy(base: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{base}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
async def replicas(postgres_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    key_file = tmp_path / "ledger.signing-key"
    write_key(key_file, SigningKey.generate())  # every replica signs with the same key
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env |= {
        "PYTHONPATH": str(REPO),
        "WORKBENCH_JWT_SECRET": SECRET,
        "WORKBENCH_RATE_LIMIT": "0",
        "WORKBENCH_TOOLSETS": "all",
    }
    processes, bases = [], []
    for name in ("a", "b"):
        port = free_port()
        command = [sys.executable, "-m", "workbench_mcp", "serve", "--port", str(port), "--db", postgres_url]
        with (tmp_path / f"{name}.log").open("wb") as log:
            processes.append(
                await asyncio.create_subprocess_exec(
                    *command,
                    "--signing-key-file",
                    str(key_file),
                    "--log-level",
                    "WARNING",
                    cwd=tmp_path,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
            )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for process, base in zip(processes, bases, strict=True):
            while not await _healthy(base):
                assert process.returncode is None, (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
                assert time.monotonic() < deadline, "replicas did not start"
                await asyncio.sleep(0.1)
        yield Replicas([f"{base}/mcp" for base in bases], token("alice", org="org_acme"))
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)


async def test_the_reference_workflow_runs_on_postgresql_and_both_replicas_export_it(replicas: Replicas) -> None:
    async with mcp_client(replicas.urls[0], replicas.bearer) as a, mcp_client(replicas.urls[1], replicas.bearer) as b:
        outcome = await run_job_search(caller(a))
        exported_by_b = await caller(b)("export_bundle", {"runId": outcome["runId"]})
    assert exported_by_b == outcome["bundle"]


async def test_sixteen_clients_over_two_replicas_write_one_run_losing_nothing(replicas: Replicas) -> None:
    async with mcp_client(replicas.urls[0], replicas.bearer) as first:
        run_id = (await caller(first)("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]

    async def writer(n: int) -> list[int]:
        async with mcp_client(replicas.urls[n % 2], replicas.bearer) as client:
            call, versions = caller(client), []
            for i in range(WRITES_EACH):
                args = {"runId": run_id, "artifactKey": "race", "typeId": "t.v1", "data": {"n": n, "i": i}}
                versions.append(int((await call("write_artifact", args))["version"]))
            return versions

    versions = [v for got in await asyncio.gather(*(writer(n) for n in range(CLIENTS))) for v in got]
    expected = list(range(1, CLIENTS * WRITES_EACH + 1))
    assert sorted(versions) == expected  # every acknowledgement a distinct version, none failed
    for url in replicas.urls:
        async with mcp_client(url, replicas.bearer) as client:
            call = caller(client)
            bundle = await call("export_bundle", {"runId": run_id})
            assert await call("verify_run_integrity", {"bundle": bundle}) == {
                "ok": True,
                "sha256": bundle["integrity"]["sha256"],
            }
    written = [e["artifact"]["version"] for e in bundle["trace"] if e["type"] == "artifact_written"]
    assert written == expected


async def test_a_gate_decided_through_one_replica_ends_a_wait_on_the_other(replicas: Replicas) -> None:
    gate = {"stepId": "parser1", "gate": "PAUSE_BEFORE"}
    async with mcp_client(replicas.urls[0], replicas.bearer) as a, mcp_client(replicas.urls[1], replicas.bearer) as b:
        run_id = (await caller(a)("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]

        async def decide() -> dict[str, Any]:
            await asyncio.sleep(0.5)  # let the wait start first
            return await caller(a)("resolve_gate", {"runId": run_id, **gate, "decision": "approved"})

        waited, decided = await asyncio.gather(
            caller(b)("wait_for_decision", {"runId": run_id, **gate, "timeoutSeconds": 20}), decide()
        )
    assert decided["ok"] is True
    assert waited["decided"] is True
    assert waited["decision"] == "approved"
