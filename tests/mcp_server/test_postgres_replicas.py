"""`workbench-mcp serve --db postgresql://...` end to end: two separate serve processes (replicas) on two
ports and one PostgreSQL database, driven by the official MCP client over Streamable HTTP.

The whole reference workflow runs through replica A and its bundle verifies; replica B exports the very
same bundle; 16 clients spread over both replicas write to one run without an error or a lost version; a
gate decided through replica A ends a wait_for_decision on replica B (LISTEN/NOTIFY across processes); with
one replica killed (SIGKILL) and then the database restarted under load, clients retrying on the other replica
lose no acknowledged write, the only errors are the dead replica's and STORAGE_UNAVAILABLE, and the killed
replica rejoins."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mcp_server.scenario import caller, run_job_search
from tests.postgres_cluster import PostgresCluster
from tests.servers import SECRET, free_port, mcp_client, token
from workbench_mcp.ledger.keys import SigningKey, write_key

REPO = Path(__file__).resolve().parents[2]
CLIENTS = 16
WRITES_EACH = 5


@dataclass
class Replicas:
    urls: list[str]
    bearer: str
    processes: list[asyncio.subprocess.Process]
    start: Callable[[int], Awaitable[None]]
    """(Re)start replica i on its port and wait until it answers /healthz."""

    def kill(self, i: int) -> None:
        os.killpg(self.processes[i].pid, signal.SIGKILL)


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
    env |= {"PYTHONPATH": str(REPO), "WORKBENCH_JWT_SECRET": SECRET, "WORKBENCH_RATE_LIMIT": "0"}
    env |= {"WORKBENCH_TOOLSETS": "all", "WORKBENCH_WORKERS": "1"}
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    processes: list[asyncio.subprocess.Process] = []

    async def start(i: int) -> None:
        command = [sys.executable, "-m", "workbench_mcp", "serve", "--port", str(ports[i]), "--db", postgres_url]
        log_path = tmp_path / f"replica-{i}.log"
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
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
        if i < len(processes):
            processes[i] = process
        else:
            processes.append(process)
        deadline = time.monotonic() + 60
        while not await _healthy(bases[i]):
            assert process.returncode is None, log_path.read_text()
            assert time.monotonic() < deadline, "replica did not start"
            await asyncio.sleep(0.1)

    try:
        await asyncio.gather(start(0), start(1))
        yield Replicas([f"{base}/mcp" for base in bases], token("alice", org="org_acme"), processes, start)
    finally:
        for process in processes:
            if process.returncode is None:
                os.killpg(process.pid, signal.SIGTERM)
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


HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


async def _raw_call(url: str, bearer: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One tools/call on a fresh connection: the structured result, {"code": ...} for a tool error, or
    {"code": "UNREACHABLE"} when the replica does not answer (killed)."""
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(url, json=request, headers={**HEADERS, "Authorization": f"Bearer {bearer}"})
    except httpx.HTTPError:
        return {"code": "UNREACHABLE"}
    result = response.json()["result"]
    body: dict[str, Any] = result["structuredContent"]
    return body


async def test_a_killed_replica_and_a_restarted_database_lose_no_acknowledged_write(
    replicas: Replicas, postgres_cluster: PostgresCluster
) -> None:
    run_id = (await _raw_call(replicas.urls[0], replicas.bearer, "start_run", {"workflowId": "jobSearchWorkflow"}))[
        "runId"
    ]
    acknowledged: list[int] = []
    codes: set[str] = set()
    reached = {count: asyncio.Event() for count in (20, 40, 60)}

    async def writer(n: int) -> None:
        # Like a load balancer with retries: a failed call is tried again on the other replica.
        target = n % 2
        for i in range(12):
            args = {"runId": run_id, "artifactKey": "journal", "typeId": "t", "data": {"n": n, "i": i}}
            while True:
                reply = await _raw_call(replicas.urls[target], replicas.bearer, "write_artifact", args)
                if "version" in reply:
                    acknowledged.append(int(reply["version"]))
                    if len(acknowledged) in reached:
                        reached[len(acknowledged)].set()
                    break
                codes.add(reply["code"])
                target = 1 - target
                await asyncio.sleep(0.05)

    async def faults() -> None:
        await reached[20].wait()
        replicas.kill(1)
        await reached[40].wait()
        await asyncio.to_thread(postgres_cluster.restart, "immediate")
        await reached[60].wait()
        await replicas.start(1)  # the killed replica rejoins

    await asyncio.gather(faults(), *(writer(n) for n in range(8)))
    assert codes <= {"UNREACHABLE", "STORAGE_UNAVAILABLE"}, codes
    assert len(acknowledged) == len(set(acknowledged)) == 96
    for url in replicas.urls:  # both serve again, and the trace holds every acknowledged version
        bundle = await _raw_call(url, replicas.bearer, "export_bundle", {"runId": run_id})
        written = {e["artifact"]["version"] for e in bundle["trace"] if e["type"] == "artifact_written"}
        assert set(acknowledged) <= written
