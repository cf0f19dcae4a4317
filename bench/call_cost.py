"""`python -m bench call_cost`: server CPU per MCP call, by protocol era, and where it goes.

Drives the whole ASGI app (`create_app`: Host/Origin guard, bearer auth, rate limiter, MCP endpoint, tools,
service, engine, SQLite store) in process, without sockets: one call is one hand-built HTTP request, so the
numbers leave out only uvicorn's HTTP parsing and the kernel. For each era (2025-11-25, the handshake era that
`web/mcp_endpoint.py` answers directly; 2026-07-28, the per-request envelope era) it prints CPU per call
(`time.process_time`, all threads: the SQLite work runs on the store's own thread) and a breakdown of the
event-loop thread's self time by layer (cProfile), scaled to that thread's CPU, plus the store thread's CPU.

    python -m bench call_cost [--calls 1000] [--rounds 3] [--tool write_artifact|start_run|resolve_gate|get_run]
    python -m bench call_cost --layers   # instead of cProfile: each layer's own CPU, from timers at its entry

`--layers` wraps each layer's entry point in a timer (event-loop thread CPU, ~1 us per timer): no profiler
overhead, so the split is closer to the real one than cProfile's, which inflates code that makes many small
calls. A layer's own CPU is its time minus the next layer's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.types import Message

from workbench_mcp.auth import mint_token
from workbench_mcp.config import JwtConfig, RateLimitConfig, ServerConfig, Toolset

JOB_SEARCH = "jobSearchWorkflow"
SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"
ERAS = ("2025-11-25", "2026-07-28")
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}

# First match wins: (bucket, substring of the profiled function's file path or name).
BUCKETS: tuple[tuple[str, str], ...] = (
    (HARNESS := "the bench's own client (excluded)", "bench/call_cost"),
    ("SQLite calls (event-loop side)", "sqlite3"),
    ("auth (JWT, principal)", "workbench_mcp/auth"),
    ("auth (JWT, principal)", "workbench_mcp/web/bearer_auth"),
    ("auth (JWT, principal)", "/jwt/"),
    ("engine", "workbench_mcp/engine/"),
    ("protocol models, canonical JSON", "workbench_mcp/protocol/"),
    ("store (event-loop side)", "workbench_mcp/store/"),
    ("ledger", "workbench_mcp/ledger/"),
    ("service, governance", "workbench_mcp/service"),
    ("service, governance", "workbench_mcp/governance/"),
    ("service, governance", "workbench_mcp/commands"),
    ("tools (MCP adapters)", "workbench_mcp/mcp_server/"),
    ("HTTP: our middleware and endpoint", "workbench_mcp/web/"),
    ("validation and encoding (pydantic)", "pydantic"),
    ("JSON encode/decode", "json"),
    ("MCP SDK", "/mcp/"),
    ("MCP SDK", "/mcp_types/"),
    ("HTTP: Starlette", "starlette"),
    ("asyncio, anyio (scheduling)", "asyncio"),
    ("asyncio, anyio (scheduling)", "anyio"),
    ("asyncio, anyio (scheduling)", "threading"),
)


def _bucket(filename: str, name: str) -> str:
    where = f"{filename}:{name}"
    return next((bucket for bucket, needle in BUCKETS if needle in where), "other (stdlib, builtins)")


class Caller:
    """One client: builds each request's scope and body for its era and sends it through the app."""

    def __init__(self, app: Starlette, token: str, era: str) -> None:
        self._app, self._token, self._era = app, token, era
        self._ids = 0

    async def call(self, tool: str, arguments: dict[str, Any]) -> bytes:
        self._ids += 1
        params: dict[str, Any] = {"name": tool, "arguments": arguments}
        headers = {
            "host": "127.0.0.1:8765",
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "authorization": f"Bearer {self._token}",
            "mcp-protocol-version": self._era,
        }
        if self._era == "2026-07-28":
            params["_meta"] = MODERN_META
            headers |= {"mcp-method": "tools/call", "mcp-name": tool}
        body = json.dumps({"jsonrpc": "2.0", "id": self._ids, "method": "tools/call", "params": params}).encode()
        status, payload = await self._post(body, headers)
        # Not parsed here: the harness's own CPU would count as the server's (one thread runs both).
        if status != 200 or b'"isError":true' in payload or b'"result"' not in payload:
            raise RuntimeError(f"{tool} failed ({status}): {payload[:500]!r}")
        return payload

    async def call_json(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        structured: dict[str, Any] = json.loads(await self.call(tool, arguments))["result"]["structuredContent"]
        return structured

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        sent: list[Message] = []
        chunks: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> Message:
            return chunks.pop() if chunks else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/mcp",
            "raw_path": b"/api/mcp",
            "query_string": b"",
            "root_path": "",
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()]
            + [(b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8765),
            "state": {},
        }
        await self._app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _workload(caller: Caller, tool: str, run_ids: list[str]) -> Callable[[int], Any]:
    def one(i: int) -> Any:
        run_id = run_ids[i % len(run_ids)]
        if tool == "get_run":
            return caller.call("get_run", {"runId": run_id})
        if tool == "start_run":
            return caller.call("start_run", {"workflowId": JOB_SEARCH})
        if tool == "resolve_gate":
            # Runs here never begin a step, so parser1's PAUSE_BEFORE is the gate under review (D25); the decision
            # alternates per run, so every call records a change (re-approving an open gate records nothing).
            decision = ("approved", "rejected")[(i // len(run_ids)) % 2]
            arguments = {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE", "decision": decision}
            return caller.call("resolve_gate", arguments | {"note": f"n{i}"})
        write: dict[str, Any] = {"runId": run_id, "artifactKey": f"k{i % 7}", "typeId": "note", "data": {"i": i}}
        return caller.call("write_artifact", write)

    return one


async def _measure(caller: Caller, tool: str, run_ids: list[str], calls: int) -> tuple[float, float, pstats.Stats]:
    one = _workload(caller, tool, run_ids)
    for i in range(min(200, calls)):  # warm caches, JIT-free but lazy imports and first-use paths
        await one(i)
    cpu0, main0 = time.process_time(), time.thread_time()
    for i in range(calls):
        await one(i)
    cpu, main = time.process_time() - cpu0, time.thread_time() - main0
    profiler = cProfile.Profile(time.thread_time)  # CPU of this thread: waiting for the store is not cost
    profiler.enable()
    for i in range(calls):
        await one(i)
    profiler.disable()
    return cpu / calls * 1e6, main / calls * 1e6, pstats.Stats(profiler)


def _breakdown(stats: pstats.Stats, main_us: float) -> dict[str, float]:
    self_time: dict[str, float] = defaultdict(float)
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in entries.items():
        self_time[_bucket(filename, name)] += tottime
    total = sum(self_time.values()) or 1.0
    return {bucket: seconds / total * main_us for bucket, seconds in self_time.items()}


def _without_harness(cpu_us: float, main_us: float, parts: dict[str, float]) -> Round:
    """The server's share: the harness runs on the event-loop thread too, so its profiled share comes off."""
    harness = parts.pop(HARNESS, 0.0)
    return cpu_us - harness, main_us - harness, parts


@asynccontextmanager
async def _served_app() -> AsyncIterator[tuple[Starlette, str]]:
    """The whole app on a temp database, its lifespan running, and a token it accepts."""
    from workbench_mcp.web.app import create_app  # after argument parsing: the app import is slow

    with tempfile.TemporaryDirectory() as folder:
        config = ServerConfig(
            port=8765,
            db_path=Path(folder) / "bench.db",
            toolsets=frozenset(Toolset),
            jwt=JwtConfig(secret=SECRET),
            log_level="WARNING",
            rate_limit=RateLimitConfig(per_second=0),
        )
        app = create_app(config)
        lifespan: AbstractAsyncContextManager[Any] = app.router.lifespan_context(app)
        async with lifespan:
            yield app, mint_token(SECRET, user="bench", org="org_bench")


Round = tuple[float, float, dict[str, float]]
"""(CPU of all threads, event-loop thread CPU, per-bucket CPU), us per call."""


async def _median_rounds(
    rounds_wanted: int, measure: Callable[[Caller, list[str]], Awaitable[Round]]
) -> dict[str, Round]:
    """`measure` on 8 fresh runs per era and round, the eras alternating (a noisy neighbour hits both alike);
    per era, the round with the median total CPU."""
    async with _served_app() as (app, token):
        rounds: dict[str, list[Round]] = {era: [] for era in ERAS}
        for _ in range(rounds_wanted):
            for era in ERAS:
                caller = Caller(app, token, era)
                starts = [await caller.call_json("start_run", {"workflowId": JOB_SEARCH}) for _ in range(8)]
                rounds[era].append(await measure(caller, [start["runId"] for start in starts]))
    print(
        "total per round: "
        + "; ".join(f"{era} " + ", ".join(f"{r[0]:.0f}" for r in runs) for era, runs in rounds.items())
    )
    return {era: sorted(runs, key=lambda r: r[0])[len(runs) // 2] for era, runs in rounds.items()}


async def run(calls: int, tool: str, rounds_wanted: int = 3) -> None:
    async def profiled(caller: Caller, run_ids: list[str]) -> Round:
        cpu_us, main_us, stats = await _measure(caller, tool, run_ids, calls)
        return _without_harness(cpu_us, main_us, _breakdown(stats, main_us))

    _print(tool, calls, await _median_rounds(rounds_wanted, profiled))


def _print(tool: str, calls: int, results: dict[str, Round]) -> None:
    def row(label: str, values: list[float]) -> None:
        print(f"{label:40}" + "".join(f"{value:14.0f}" for value in values))

    print(f"server CPU per `{tool}` call, in process, {calls} calls per era (us)")
    print(f"{'':40}" + "".join(f"{era:>14}" for era in results))
    row("total, all threads", [cpu for cpu, _, _ in results.values()])
    row("  store thread (SQLite, chain hash)", [cpu - main for cpu, main, _ in results.values()])
    row("  event-loop thread", [main for _, main, _ in results.values()])
    last = results[ERAS[-1]][2]
    for bucket in sorted({b for _, _, parts in results.values() for b in parts}, key=lambda b: -last.get(b, 0)):
        row(f"    {bucket}", [parts.get(bucket, 0.0) for _, _, parts in results.values()])


# (row label, module, class, method): each wraps the next, outermost first. A row's own CPU is its time minus the
# next row's; the last row holds everything below it (service, engine, the store's event-loop side).
LAYERS: tuple[tuple[str, str, str, str], ...] = (
    ("HTTP: Starlette, Host, body deadline, router", "starlette.applications", "Starlette", "__call__"),
    ("auth, rate limit, fair admission", "workbench_mcp.web.bearer_auth", "BearerAuthMiddleware", "__call__"),
    ("MCP endpoint: checks, parse, envelope, reply", "workbench_mcp.web.mcp_endpoint", "McpEndpoint", "__call__"),
    ("MCP SDK kernel: serve_one, validation, result", "workbench_mcp.web.mcp_endpoint", "McpEndpoint", "_serve"),
    ("tool adapter: scopes, arguments, result", "workbench_mcp.mcp_server.server", "WorkbenchMCP", "call_tool"),
    ("tool function, tool result", "mcp.server.mcpserver.utilities.func_metadata", "FuncMetadata", "call_fn"),
    ("service, engine, store (event-loop side)", "workbench_mcp.service", "RunService", "{service}"),
)
SERVICE_ENTRY = {"write_artifact": "execute", "start_run": "start_run", "resolve_gate": "resolve_gate"}
"""The service method each tool calls (get_run's read stays in the tool function's row)."""


def _timed(fn: Callable[..., Any], label: str, spent: dict[str, float]) -> Callable[..., Any]:
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return await fn(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - started

    return timed


async def _layers(caller: Caller, tool: str, run_ids: list[str], calls: int) -> Round:
    import importlib

    spent: dict[str, float] = defaultdict(float)
    patched: list[tuple[type, str, Any]] = []
    layers = [layer for layer in LAYERS if layer[3] != "{service}" or tool in SERVICE_ENTRY]
    for label, module, owner, name in layers:
        name = SERVICE_ENTRY[tool] if name == "{service}" else name
        if owner:
            cls = getattr(importlib.import_module(module), owner)
            patched.append((cls, name, cls.__dict__[name]))
            setattr(cls, name, _timed(cls.__dict__[name], label, spent))
    try:
        one = _workload(caller, tool, run_ids)
        for i in range(min(200, calls)):
            await one(i)
        spent.clear()
        cpu0, main0 = time.process_time(), time.thread_time()
        for i in range(calls):
            await one(i)
        cpu, main = time.process_time() - cpu0, time.thread_time() - main0
    finally:
        for cls, name, original in patched:
            setattr(cls, name, original)
    inclusive = [spent[label] for label, *_ in layers]
    inner = [*inclusive[1:], 0.0]
    rows = zip(layers, inclusive, inner, strict=True)
    own = {label: (outer - below) / calls * 1e6 for (label, *_), outer, below in rows}
    return cpu / calls * 1e6, main / calls * 1e6, own


async def run_layers(calls: int, tool: str, rounds_wanted: int) -> None:
    """`run`, with the layers' own CPU in place of the cProfile breakdown."""

    async def timed(caller: Caller, run_ids: list[str]) -> Round:
        return await _layers(caller, tool, run_ids, calls)

    results = await _median_rounds(rounds_wanted, timed)
    print(f"server CPU per `{tool}` call by layer (own CPU, timers at each layer's entry), {calls} calls per era (us)")
    print(f"{'':52}" + "".join(f"{era:>12}" for era in results))
    print(f"{'total, all threads':52}" + "".join(f"{cpu:12.0f}" for cpu, _, _ in results.values()))
    print(f"{'  store thread (SQLite, chain hash)':52}" + "".join(f"{c - m:12.0f}" for c, m, _ in results.values()))
    print(f"{'  event-loop thread':52}" + "".join(f"{main:12.0f}" for _, main, _ in results.values()))
    for label, *_ in LAYERS:
        print(f"{'    ' + label:52}" + "".join(f"{parts.get(label, 0):12.0f}" for _, _, parts in results.values()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench call_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per era and round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median round is shown (default 3)")
    tools = ("write_artifact", "start_run", "resolve_gate", "get_run")
    parser.add_argument("--tool", choices=tools, default="write_artifact")
    parser.add_argument("--layers", action="store_true", help="each layer's own CPU (timers) instead of cProfile")
    args = parser.parse_args(argv)
    asyncio.run((run_layers if args.layers else run)(args.calls, args.tool, args.rounds))
    return 0
