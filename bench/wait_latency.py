"""`python -m bench wait`: how fast wait_for_decision answers a decision made by another process, and what an
idle wait costs the server (issue 12 §3).

Starts `serve --workers 2` on a temporary SQLite file. Each trial starts a run over HTTP, calls
wait_for_decision over HTTP, and once the call is waiting makes the decision from THIS process, through its own
SqliteRunStore on the same file (as stdio or another replica would): nothing in the server's processes signals
the waiter, so only its data_version poll can see it. Latency = decision committed -> tool result received.
Then it holds 10 concurrent waits that nothing answers and prints the server's CPU time (all its processes,
from /proc) over that window, beside the same window with no waits.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.servers import OurServer, cpu_seconds, latency_line
from workbench_mcp.principal import Principal, tenant_for
from workbench_mcp.service import RunService
from workbench_mcp.store.sqlite_store import SqliteRunStore

HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}
USER = "bench_agent"
GATE = {"stepId": "parser1", "gate": "PAUSE_BEFORE"}


async def _tool(http: httpx.AsyncClient, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    result = (await http.post("/api/mcp", json=request)).json()["result"]
    if result.get("isError"):
        raise RuntimeError(f"{name}: {result}")
    body: dict[str, Any] = result["structuredContent"]
    return body


async def _trial(base: str, token: str, reviewer: RunService, who: Principal) -> float:
    # A new connection per call: either worker may take it, as clients of a real deployment would.
    async with httpx.AsyncClient(base_url=base, timeout=70, headers={**HEADERS, "Authorization": token}) as http:
        run_id = (await _tool(http, "start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        waiting = asyncio.create_task(_tool(http, "wait_for_decision", {"runId": run_id, **GATE, "timeoutSeconds": 10}))
        await asyncio.sleep(0.6)  # the wait is under way (and past its first poll)
        await reviewer.resolve_gate(who, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
        decided = time.perf_counter()
        result = await waiting
        latency = time.perf_counter() - decided
    if not result["decided"]:
        raise RuntimeError("the wait timed out: the decision was not seen")
    return latency


async def _waits_cpu(server: OurServer, token: str, waits: int, seconds: int) -> float:
    """Server CPU seconds while `waits` concurrent waits that nothing answers each last `seconds`."""
    pids = server.pids()
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=70, headers={**HEADERS, "Authorization": token}
    ) as http:
        run_id = (await _tool(http, "start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        before = cpu_seconds(pids)
        args = {"runId": run_id, **GATE, "timeoutSeconds": seconds}
        results = await asyncio.gather(*(_tool(http, "wait_for_decision", args) for _ in range(waits)))
        used = cpu_seconds(pids) - before
    if any(r["decided"] for r in results):
        raise RuntimeError("an idle wait was answered")
    return used


async def _idle_cpu(server: OurServer, token: str, waits: int, seconds: int) -> tuple[float, float, float]:
    """(nothing happening, the same calls with timeoutSeconds 0, the calls waiting `seconds`), CPU seconds."""
    pids = server.pids()
    before = cpu_seconds(pids)
    await asyncio.sleep(seconds)
    baseline = cpu_seconds(pids) - before
    return baseline, await _waits_cpu(server, token, waits, 0), await _waits_cpu(server, token, waits, seconds)


async def run(trials: int, idle_seconds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "wait.db"
        server = OurServer(db, workers=2, extra_args=["--toolsets", "core,steps"]).start()
        store = SqliteRunStore(db)
        try:
            await store.open()
            token = "Bearer " + server.token(USER)
            who = Principal(tenant_for(USER, None), "bench_reviewer")
            latencies = [await _trial(server.base_url, token, RunService(store), who) for _ in range(trials)]
            print(f"decision in another process -> wait_for_decision result, {trials} trials (serve --workers 2):")
            print(latency_line(latencies))
            baseline, calls, waiting = await _idle_cpu(server, token, 10, idle_seconds)
            print("server CPU time (supervisor + 2 workers):")
            print(f"  {idle_seconds} s, no calls:                      {baseline * 1000:6.0f} ms")
            print(f"  10 concurrent waits, timeoutSeconds 0:  {calls * 1000:6.0f} ms (the calls themselves)")
            print(f"  10 concurrent waits, timeoutSeconds {idle_seconds}: {waiting * 1000:6.0f} ms")
        finally:
            await store.close()
            server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench wait", description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--idle-seconds", type=int, default=10)
    args = parser.parse_args(argv)
    asyncio.run(run(args.trials, args.idle_seconds))
    return 0
