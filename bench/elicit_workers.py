"""`python -m bench elicit`: ask_user_to_review under `serve --workers 2` (issue 12 §2).

Each of N asks is a fresh 2026-07-28 client with an elicitation callback that approves, on an HTTP client that
keeps no connection alive, so the answer round trip reaches whichever worker accepts it. Prints how many asks
recorded their decision and how many were refused (before the shared requestState key, most answers landing on
the other worker were refused with -32602 "Invalid or expired requestState"). ~10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequestParams, ElicitResult

from bench.servers import OurServer


async def _approve(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"decision": "approve"})


async def _ask(url: str, bearer: str) -> str:
    headers = {"Authorization": f"Bearer {bearer}"}
    limits = httpx2.Limits(max_keepalive_connections=0)  # every POST a new connection: any worker may take it
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60, limits=limits) as http,
        Client(streamable_http_client(url, http_client=http), mode="2026-07-28", elicitation_callback=_approve) as c,
    ):
        started = await c.call_tool("start_run", {"workflowId": "jobSearchWorkflow"})
        run_id = (started.structured_content or {})["runId"]
        try:
            result = await c.call_tool(
                "ask_user_to_review", {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE"}
            )
        except MCPError as exc:
            return f"refused: {exc.error.message}"
        body = result.structured_content or {}
        return "recorded" if not result.is_error and body.get("changed") else f"error: {body.get('code')}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench elicit", description=__doc__)
    parser.add_argument("--asks", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        server = OurServer(Path(folder) / "elicit.db", workers=2, extra_args=["--toolsets", "core,steps"]).start()
        try:
            outcomes = [asyncio.run(_ask(server.url, server.token("reviewer"))) for _ in range(args.asks)]
        finally:
            server.stop()
    recorded = outcomes.count("recorded")
    print(f"serve --workers 2: {recorded}/{len(outcomes)} asks recorded their decision")
    for outcome in sorted(set(outcomes) - {"recorded"}):
        print(f"  {outcomes.count(outcome)} x {outcome}")
    return 0 if recorded == len(outcomes) else 1
