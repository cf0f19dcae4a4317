"""The mixed workload of the load and fault suites, and the checks that follow it.

N clients, each on its own keep-alive connection (the shared driver's lean HTTP client, imported
from the harness unchanged), call start_run, resolve_gate, write_artifact, get_run, list_runs and
export_bundle on a shared pool of runs until a deadline. Every acknowledged write is remembered:
client c writes the artifact key `c<c>` only, so on each run the versions of that key it was told
must be exactly 1, 2, 3, ... and each must appear as an `artifact_written` event afterwards.

Clients speak MCP 2026-07-28 (no initialize; `_meta` and `Mcp-Method`/`Mcp-Name` on every request,
the SDK's per-request path) by default, or the 2025-11-25 handshake with `protocol="2025-11-25"`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from workbench_mcp.protocol.bundle import integrity_matches, normalize_bundle, validate_bundle

MODERN = "2026-07-28"
WORKFLOW = "jobSearchWorkflow"
# Runs here never begin a step, so parser1's PAUSE_BEFORE is the one gate under review (D25): decisions
# alternate on it; re-approving an open gate records nothing (`changed: false`) and is not counted.
GATE_DECISIONS = ["approved", "rejected", "edited"]
# Operation mix (weights): writes dominate, as they do for agents filling a run.
MIX = {"write": 35, "get": 20, "gate": 15, "list": 10, "export": 10, "start": 10}


def load_driver(harness: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("mcp_load", harness / "mcp_load.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {harness / 'mcp_load.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mcp_load"] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def make_client(driver: ModuleType, url: str, token: str, protocol: str) -> Any:
    """The driver's McpClient; for 2026-07-28 a subclass that adds what that revision requires."""
    if protocol != MODERN:
        return driver.McpClient(url, token, timeout=60.0, pool=1, transport="raw")

    class ModernClient(driver.McpClient):  # type: ignore[name-defined,misc]
        async def handshake(self) -> None:
            self.protocol_version = MODERN  # no initialize, no session in this revision

        async def _post(self, message: dict[str, Any], req_id: int | None) -> Any:
            params = dict(message.get("params") or {})
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            headers = {**self._headers(), "Mcp-Method": message["method"]}
            if message["method"] == "tools/call":
                headers["Mcp-Name"] = params["name"]
            body = json.dumps({**message, "params": params}, separators=(",", ":")).encode()
            return await self.transport.exchange(body, headers, req_id)

    return ModernClient(url, token, timeout=60.0, pool=1, transport="raw")


@dataclass
class Tally:
    """What the clients saw, and what they were promised."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    acked_versions: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    acked_gates: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    runs: list[str] = field(default_factory=list)
    unanswered_writes: int = 0
    """Writes whose outcome is unknown (an error reply, or none): such a write may or may not be stored."""

    def record(self, op: str, reply: Any) -> None:
        if reply.ok:
            self.latencies[op].append(reply.elapsed)
        else:
            self.errors[op] += 1
            if op == "write":
                self.unanswered_writes += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{op}: {reply.error}")

    def reset_measurements(self) -> None:
        self.latencies.clear()
        self.errors.clear()
        self.error_samples.clear()

    @property
    def calls(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.errors.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class Workload:
    def __init__(self, driver: ModuleType, url: str, token: str, *, clients: int, protocol: str, seed: int = 1):
        self.driver = driver
        self.url = url
        self.token = token
        self.clients = clients
        self.protocol = protocol
        self.random = random.Random(seed)
        self.tally = Tally()
        self.stop = asyncio.Event()

    def client(self) -> Any:
        return make_client(self.driver, self.url, self.token, self.protocol)

    async def setup(self, pool: int) -> None:
        c = self.client()
        try:
            await c.handshake()
            for _ in range(pool):
                self.tally.runs.append(await self._start(c))
        finally:
            await c.aclose()

    async def _start(self, c: Any) -> str:
        value = await self.driver.must_call(c, "start_run", {"workflowId": WORKFLOW})
        return str(value["runId"])

    async def run(self, seconds: float) -> None:
        """All clients until the deadline, or until `stop` is set (the fault suite's kill)."""
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(self._client_loop(n, deadline) for n in range(self.clients)))

    async def _client_loop(self, n: int, deadline: float) -> None:
        rnd = random.Random(self.random.random())
        ops, weights = list(MIX), list(MIX.values())
        c = self.client()
        try:
            await c.handshake()
            while time.monotonic() < deadline and not self.stop.is_set():
                op = rnd.choices(ops, weights)[0]
                run_id = rnd.choice(self.tally.runs)
                if op == "write":
                    key = f"c{n}"
                    reply = await c.call_tool(
                        "write_artifact",
                        {"runId": run_id, "artifactKey": key, "typeId": "load.v1", "data": {"n": n, "t": time.time()}},
                    )
                    if reply.ok:
                        version = self.driver.tool_value(reply.result)["version"]
                        self.tally.acked_versions[(run_id, key)].append(version)
                elif op == "gate":
                    decision = rnd.choice(GATE_DECISIONS)
                    args = {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE", "decision": decision}
                    reply = await c.call_tool("resolve_gate", {**args, "note": f"c{n}"})
                    if reply.ok and self.driver.tool_value(reply.result).get("changed", True):
                        self.tally.acked_gates[run_id] += 1
                elif op == "get":
                    reply = await c.call_tool("get_run", {"runId": run_id})
                elif op == "list":
                    reply = await c.call_tool("list_runs", {"limit": 20})
                elif op == "export":
                    reply = await c.call_tool("export_bundle", {"runId": run_id})
                else:
                    reply = await c.call_tool("start_run", {"workflowId": WORKFLOW})
                    if reply.ok:
                        self.tally.runs.append(self.driver.tool_value(reply.result)["runId"])
                if self.stop.is_set():
                    break  # a reply racing the kill is neither counted nor trusted
                self.tally.record(op, reply)
        finally:
            await c.aclose()


@dataclass
class Verdict:
    runs_checked: int = 0
    acked_writes: int = 0
    lost_updates: int = 0
    version_gaps: int = 0
    lost_gates: int = 0
    bundles_invalid: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost_updates or self.version_gaps or self.lost_gates or self.bundles_invalid)


async def verify(workload: Workload, *, exact: bool) -> Verdict:
    """Every acknowledged write and gate decision is in its run's trace; every bundle verifies.

    `exact`: no request was cut short (the load suite), so the trace must hold exactly the
    acknowledged writes; after a crash an unacknowledged in-flight write may or may not be there,
    but versions must still run 1..n without gaps.
    """
    verdict = Verdict()
    c = workload.client()
    try:
        await c.handshake()
        by_run: dict[str, dict[str, list[int]]] = defaultdict(dict)
        for (run_id, key), versions in workload.tally.acked_versions.items():
            by_run[run_id][key] = versions
        for run_id in dict.fromkeys(workload.tally.runs):
            verdict.runs_checked += 1
            state = await workload.driver.must_call(c, "get_run", {"runId": run_id})
            trace = state["trace"]
            seen: dict[str, list[int]] = defaultdict(list)
            for event in trace:
                if event.get("type") == "artifact_written":
                    seen[event["artifact"]["artifactKey"]].append(event["artifact"]["version"])
            for key, acked in by_run.get(run_id, {}).items():
                verdict.acked_writes += len(acked)
                present = set(seen.get(key, []))
                missing = [v for v in acked if v not in present]
                verdict.lost_updates += len(missing)
                stored = seen.get(key, [])
                if stored != list(range(1, len(stored) + 1)) or (exact and len(stored) != len(acked)):
                    verdict.version_gaps += 1
                    verdict.problems.append(f"{run_id} {key}: acked {len(acked)}, stored versions {stored[:10]}...")
                if missing:
                    verdict.problems.append(f"{run_id} {key}: acknowledged versions missing: {missing[:10]}")
            gates = sum(1 for e in trace if e.get("type") == "human_gate_resolved")
            if gates < workload.tally.acked_gates.get(run_id, 0):
                verdict.lost_gates += workload.tally.acked_gates[run_id] - gates
            bundle = await workload.driver.must_call(c, "export_bundle", {"runId": run_id})
            try:
                validate_bundle(bundle)
                if not integrity_matches(normalize_bundle(bundle)):
                    raise ValueError("integrity.sha256 does not match")
            except Exception as exc:  # any failure to verify is what is being counted
                verdict.bundles_invalid += 1
                verdict.problems.append(f"{run_id}: bundle does not verify: {exc}")
    finally:
        await c.aclose()
    return verdict


def percentile_ms(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return round(ordered[int(min(rank, len(ordered))) - 1] * 1000, 2)
