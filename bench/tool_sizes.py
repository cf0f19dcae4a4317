"""`python -m bench tool_sizes`: what `tools/list` costs an agent's context, per server configuration.

Prints the bytes of the `tools/list` result (compact JSON, as it travels) for the default toolset,
every toolset, and their read-only variants, with the share taken by input schemas, output schemas
and descriptions, and checks the targets of issue 9 (default <= 16 KB, all <= 32 KB, 1 KB = 1,000 bytes
here). Exit code 1 when a target is missed. In-process, real SQLite file, a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from workbench_mcp.auth import acting_as
from workbench_mcp.config import DEFAULT_TOOLSETS, ServerConfig, Toolset
from workbench_mcp.mcp_server.server import build_mcp_server
from workbench_mcp.principal import Principal
from workbench_mcp.wiring import open_service

# The default install's budget (16,000) is the one a client's context pays for unasked; it does not move. "all" is
# opted into: it was 32,000 (issue 9) and grows by what a tool the issues name costs with lean schemas, no more:
# request_review (issue 12 section 1, ~1.2 KB) -> 33,000; ask_user_to_review (issue 12 section 2, ~1.3 KB) is listed
# only to clients that can be asked -> 34,500 for them.
TARGETS = {"default": 16_000, "all": 33_000, "all, client elicits": 34_500}
CONFIGS: dict[str, tuple[frozenset[Toolset], bool]] = {
    "default": (DEFAULT_TOOLSETS, False),
    "all": (frozenset(Toolset), False),
    "default --read-only": (DEFAULT_TOOLSETS, True),
    "all --read-only": (frozenset(Toolset), True),
    "all, client elicits": (frozenset(Toolset), False),
}
"""The targeted rows list tools as a client without elicitation sees them (most do: every 2025-11-25 client over
our stateless HTTP); a client that can be asked also gets the tools that ask (ToolSpec.asks_user)."""


async def _decline(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="decline")


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


async def measure() -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as directory:
        async with open_service(ServerConfig(db_path=Path(directory) / "sizes.db")) as service:
            for label, (toolsets, read_only) in CONFIGS.items():
                server = build_mcp_server(service, toolsets, read_only)
                with acting_as(Principal("user:bench", subject="bench")):
                    callback = _decline if label.endswith("client elicits") else None
                    async with Client(server, elicitation_callback=callback) as client:
                        result = await client.list_tools()
                        instructions = client.instructions or ""
                tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in result.tools]
                rows[label] = {
                    "tools": len(tools),
                    "bytes": _size({"tools": tools}),
                    "inputSchema": sum(_size(t["inputSchema"]) for t in tools),
                    "outputSchema": sum(_size(t.get("outputSchema")) for t in tools if "outputSchema" in t),
                    "description": sum(len(t.get("description", "").encode()) for t in tools),
                    "instructions": len(instructions.encode()),
                }
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench tool_sizes", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure())
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        header = f"{'configuration':<22} {'tools':>5} {'tools/list':>10} {'inputs':>8} {'outputs':>8} {'descr.':>7}"
        print(header + f" {'instructions':>12}  target")
        for label, row in rows.items():
            target = TARGETS.get(label)
            verdict = "" if target is None else f"<= {target:,}: {'ok' if row['bytes'] <= target else 'MISSED'}"
            print(
                f"{label:<22} {row['tools']:>5} {row['bytes']:>10,} {row['inputSchema']:>8,} {row['outputSchema']:>8,}"
                f" {row['description']:>7,} {row['instructions']:>12,}  {verdict}"
            )
    missed = [label for label, target in TARGETS.items() if rows[label]["bytes"] > target]
    return 1 if missed else 0
