"""`python -m bench listen`: how fast a `subscriptions/listen` stream on `runs://{runId}` announces a change made
by another process, and what idle listeners cost the server (issue 12 §3).

Starts `serve --workers 2` on a temporary SQLite file. Each trial opens a listen stream with the official
client (2026-07-28) on a new run, then changes the run from THIS process through its own SqliteRunStore on the
same file (as stdio or another replica would): nothing in the server's processes signals the stream, only its
data_version poll (run_watch.POLL_SECONDS) can see it. Latency = change committed -> notification received.
Then it holds 10 listen streams open on 10 runs that nothing changes and prints the server's CPU time (all its
processes, from /proc) over that window, beside the same window with no streams.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.servers import OurServer, cpu_seconds, latency_line
from workbench_mcp.principal import Principal, tenant_for
from workbench_mcp.run_watch import POLL_SECONDS
from workbench_mcp.service import RunService
from workbench_mcp.store.sqlite_store import SqliteRunStore

USER = "bench_listener"


async def _start(client: Client) -> str:
    started = (await client.call_tool("start_run", {"workflowId": "jobSearchWorkflow"})).structured_content
    if not started:
        raise RuntimeError("start_run failed")
    return str(started["runId"])


async def _trial(client: Client, other: RunService, who: Principal) -> float:
    run_id = await _start(client)
    async with client.listen(resource_subscriptions=[f"runs://{run_id}"]) as sub:
        await asyncio.sleep(0.3)  # past the stream's first revision read
        await other.resolve_gate(who, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
        changed = time.perf_counter()
        async with asyncio.timeout(10):
            await sub.__anext__()
        return time.perf_counter() - changed


async def _idle_cpu(server: OurServer, client: Client, streams: int, seconds: int) -> tuple[float, float]:
    """(no streams, `streams` idle streams), server CPU seconds over `seconds` each."""
    pids = server.pids()
    before = cpu_seconds(pids)
    await asyncio.sleep(seconds)
    baseline = cpu_seconds(pids) - before
    runs = [await _start(client) for _ in range(streams)]
    async with AsyncExitStack() as stack:
        for run_id in runs:
            await stack.enter_async_context(client.listen(resource_subscriptions=[f"runs://{run_id}"]))
        before = cpu_seconds(pids)
        await asyncio.sleep(seconds)
        listening = cpu_seconds(pids) - before
    return baseline, listening


async def run(trials: int, idle_seconds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "listen.db"
        server = OurServer(db, workers=2).start()
        store = SqliteRunStore(db)
        try:
            await store.open()
            headers = {"Authorization": "Bearer " + server.token(USER)}
            who = Principal(tenant_for(USER, None), "bench_reviewer")
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as http,
                Client(streamable_http_client(server.url, http_client=http)) as client,
            ):
                latencies = [await _trial(client, RunService(store), who) for _ in range(trials)]
                print(f"change in another process -> notifications/resources/updated, {trials} trials (--workers 2):")
                print(latency_line(latencies))
                baseline, listening = await _idle_cpu(server, client, 10, idle_seconds)
            print(f"server CPU time (supervisor + 2 workers), poll interval {POLL_SECONDS * 1000:.0f} ms:")
            print(f"  {idle_seconds} s, no streams:        {baseline * 1000:6.0f} ms")
            print(f"  {idle_seconds} s, 10 idle streams:   {listening * 1000:6.0f} ms")
        finally:
            await store.close()
            server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench listen", description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--idle-seconds", type=int, default=10)
    args = parser.parse_args(argv)
    asyncio.run(run(args.trials, args.idle_seconds))
    return 0
