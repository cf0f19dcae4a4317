"""Server RSS under the traffic that made it grow for good: held GET streams on /api/mcp and big exports.

    python -m bench memory [--streams 1000] [--exports 10]

Starts `workbench-mcp serve` on a temp database and prints its RSS (MiB) at each step: at rest, with
`--streams` authenticated GETs on /api/mcp held open, after they close, after `--exports` exports of a
~18 MB run (the MCP answer carries the bundle twice: structuredContent and its text), after as many
exports once the run has more events than the bundle cache keeps, and after a short rest. About 40 s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.servers import OurServer

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
ARTIFACT_BYTES = 900_000  # under the 1 MiB per-artifact quota
ARTIFACTS = 20
SMALL_WRITES = 2_000  # past the bundle cache's 2,000-event limit: every export builds a new bundle


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


async def _call(http: httpx.AsyncClient, name: str, arguments: dict[str, Any]) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    return await http.post("/api/mcp", json=body)


async def probe(server: OurServer, streams: int, exports: int) -> list[tuple[str, int]]:
    rows = [("at rest", server.rss_kib())]
    headers = {**HEADERS, "Authorization": f"Bearer {server.token('probe')}"}
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60, limits=limits) as http:
        opened: list[httpx.Response] = []
        statuses: dict[int, int] = {}

        async def hold() -> None:
            request = http.build_request("GET", "/api/mcp", headers={"Accept": "text/event-stream"})
            response = await http.send(request, stream=True)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            opened.append(response)

        await asyncio.gather(*(hold() for _ in range(streams)))
        await asyncio.sleep(1.0)
        rows.append((f"{streams} GET /api/mcp held (status {statuses})", server.rss_kib()))
        for response in opened:
            await response.aclose()
    await asyncio.sleep(2.0)
    rows.append(("streams closed", server.rss_kib()))

    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=120) as http:
        started = (await _call(http, "start_run", {"workflowId": "jobSearchWorkflow"})).json()
        run_id = started["result"]["structuredContent"]["runId"]
        for i in range(ARTIFACTS):
            data = {"blob": f"{i:04d}" + "x" * ARTIFACT_BYTES}
            await _call(http, "write_artifact", {"runId": run_id, "artifactKey": f"a{i}", "typeId": "t", "data": data})
        rows.append((f"run of {ARTIFACTS} x {ARTIFACT_BYTES // 1000} kB artifacts written", server.rss_kib()))
        size = 0
        for _ in range(exports):
            size = len((await _call(http, "export_bundle", {"runId": run_id})).content)
        rows.append((f"{exports} exports ({size / 1e6:.0f} MB answer each)", server.rss_kib()))
        for i in range(SMALL_WRITES):
            await _call(http, "write_artifact", {"runId": run_id, "artifactKey": "n", "typeId": "t", "data": {"i": i}})
        for _ in range(exports):
            size = len((await _call(http, "export_bundle", {"runId": run_id})).content)
        rows.append((f"+{SMALL_WRITES} events (bundle not cached), {exports} exports", server.rss_kib()))
        rest_response = await http.get(f"/api/runs/{run_id}")
        rows.append((f"REST GET of the run ({len(rest_response.content) / 1e6:.0f} MB)", server.rss_kib()))
    await asyncio.sleep(3.0)
    rows.append(("3 s later", server.rss_kib()))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--exports", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = OurServer(Path(tmp) / "probe.db", extra_args=["--log-level", "WARNING"]).start()
        try:
            began = time.monotonic()
            rows = asyncio.run(probe(server, args.streams, args.exports))
        finally:
            server.stop()
    for label, kib in rows:
        print(f"{_mib(kib):>6} MiB  {label}")
    print(f"({time.monotonic() - began:.0f} s)")

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
