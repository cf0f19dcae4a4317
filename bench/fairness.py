"""Fairness: a quiet tenant's get_run latency alone, then while a noisy tenant runs 16 clients at full speed.

    python -m bench fairness                      # off (main's behaviour), fair (slots only), on (defaults): ~60 s
    python -m bench fairness --configs on --seconds 5   # smoke run

For each server configuration (a fresh `serve` on loopback, temp SQLite): the quiet tenant calls `get_run`
on its own run, one call at a time with a short pause, first alone ("before"), then while the noisy tenant's
clients call the load suite's mix (writes, gates, reads, exports, starts) as fast as they are answered
("during"). A noisy client that gets 429 waits 1 s, as `Retry-After` (at least 1 s) tells it. Configurations:
`off` is main before this change (1,000 requests/s, burst 2,000, no fair admission, bundle checks on the
event loop), `fair` adds the fair slots alone, `on` is the defaults (fair slots, rate limit, bundle checks
in a child process).

`--noise reads`: the noisy clients only read (get_run, list_runs, export_bundle): CPU-bound, no SQLite
writer queue. `--noise heavy`: instead, one noisy client calls `verify_run_integrity` on a 3.8 MB bundle
of 15,000 small events, 3 calls/s at most (the issue's probe).
Prints p50/p99 of the quiet tenant's calls and what the noisy tenant got done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.servers import OurServer, harness_dir, load_average
from bench.workload import MIX, MODERN, WORKFLOW, load_driver, make_client, percentile_ms

CONFIGS: dict[str, list[str]] = {
    "off": ["--rate-limit", "1000", "--rate-burst", "2000", "--fair-slots", "0", "--offload-bytes", "0"],
    "fair": ["--rate-limit", "1000", "--rate-burst", "2000", "--offload-bytes", "0"],
    "on": [],
}
HEAVY_EVENTS = 15_000
"""Trace events of the bundle the heavy noise verifies: ~3.8 MB of small events, the issue's case."""
HEAVY_CALLS_PER_S = 3.0
READS = {"get": 50, "list": 25, "export": 25}
QUIET_PAUSE_S = 0.02


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench fairness", description=__doc__.splitlines()[0])
    p.add_argument("--harness", help="directory of mcp_load.py (default ../shared/bench)")
    p.add_argument("--configs", default="off,fair,on", help="off, fair, on, slots=K (comma-separated)")
    p.add_argument("--clients", type=int, default=16, help="noisy tenant's clients")
    p.add_argument("--noise", default="mix", choices=["mix", "reads", "heavy"], help="see the module docstring")
    p.add_argument("--seconds", type=float, default=6.0, help="length of each measured phase")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--protocol", default=MODERN, choices=[MODERN, "2025-11-25"])
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return p.parse_args(argv)


def _server_args(name: str) -> list[str]:
    if name.startswith("slots="):
        return [*CONFIGS["fair"], "--fair-slots", name.split("=", 1)[1]]
    if name not in CONFIGS:
        raise SystemExit(f"unknown configuration {name!r} (off, fair, on, slots=K)")
    return CONFIGS[name]


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    report = asyncio.run(run(args))
    print(json.dumps(report) if args.json else render(report, args))
    return 0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    driver = load_driver(harness_dir(args.harness))
    results = []
    load_before = load_average()
    for name in args.configs.split(","):
        results.append(await _one(driver, name.strip(), args))
    return {"clients": args.clients, "noise": args.noise, "workers": args.workers, "protocol": args.protocol,
            "results": results, "load_average": [load_before, load_average()]}  # fmt: skip


async def _one(driver: Any, name: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="wb-fair-"))
    server = OurServer(tmp / "fair.db", workers=args.workers, extra_args=_server_args(name), log_path=tmp / "log")
    server.limit_rate = True
    try:
        server.start()
        quiet = make_client(driver, server.url, server.token("quiet"), args.protocol)
        await quiet.handshake()
        quiet_run = await _start(driver, quiet)
        for n in range(5):
            write = {"runId": quiet_run, "artifactKey": f"k{n}", "typeId": "q.v1", "data": {"n": n}}
            await driver.must_call(quiet, "write_artifact", write)
        noisy_token = server.token("noisy")
        setup = make_client(driver, server.url, noisy_token, args.protocol)
        await setup.handshake()
        pool = [await _start(driver, setup) for _ in range(16)]
        await setup.aclose()

        before = await _quiet_loop(quiet, quiet_run, args.seconds)
        stop = asyncio.Event()
        noise = _Noise(driver, server.url, noisy_token, args.protocol, pool)
        if args.noise == "heavy":
            bundle = await _big_bundle(driver, quiet, quiet_run)
            noisy = [asyncio.create_task(noise.verifier(bundle, stop))]
        else:
            mix = READS if args.noise == "reads" else MIX
            noisy = [asyncio.create_task(noise.client(n, stop, mix)) for n in range(args.clients)]
        await asyncio.sleep(1.0)  # let the noise reach full speed
        noise.reset()
        began = time.monotonic()
        during = await _quiet_loop(quiet, quiet_run, args.seconds)
        elapsed = time.monotonic() - began
        stop.set()
        await asyncio.gather(*noisy)
        await quiet.aclose()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "config": name,
        "server_args": _server_args(name),
        "quiet_before": _summary(before),
        "quiet_during": _summary(during),
        "noisy_ok_per_s": round(noise.ok / elapsed, 1),
        "noisy_429": noise.refused,
        "noisy_other_errors": noise.failed,
    }


async def _big_bundle(driver: Any, client: Any, run_id: str) -> dict[str, Any]:
    """A valid bundle of HEAVY_EVENTS small events: the run's export, its artifact event repeated."""
    from workbench_mcp.protocol.bundle import attach_integrity

    exported = await driver.must_call(client, "export_bundle", {"runId": run_id})
    event = next(e for e in exported["trace"] if e["type"] == "artifact_written")
    trace = list(exported["trace"]) + [{**event, "id": f"evt_bench_{n:06d}"} for n in range(HEAVY_EVENTS)]
    return attach_integrity({**{k: v for k, v in exported.items() if k != "integrity"}, "trace": trace})


async def _start(driver: Any, client: Any) -> str:
    return str((await driver.must_call(client, "start_run", {"workflowId": WORKFLOW}))["runId"])


async def _quiet_loop(client: Any, run_id: str, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = await client.call_tool("get_run", {"runId": run_id})
        if reply.ok:
            latencies.append(reply.elapsed)
        else:
            errors.append(str(reply.error))
        await asyncio.sleep(QUIET_PAUSE_S)
    return {"latencies": latencies, "errors": errors}


def _summary(phase: dict[str, Any]) -> dict[str, Any]:
    values = phase["latencies"]
    return {
        "calls": len(values),
        "errors": len(phase["errors"]),
        "p50_ms": percentile_ms(values, 50),
        "p99_ms": percentile_ms(values, 99),
        "error_samples": phase["errors"][:3],
    }


class _Noise:
    """The noisy tenant: the load suite's operation mix, as fast as answered; 1 s pause after a 429."""

    def __init__(self, driver: Any, url: str, token: str, protocol: str, pool: list[str]) -> None:
        self.driver, self.url, self.token, self.protocol, self.pool = driver, url, token, protocol, pool
        self.reset()

    def reset(self) -> None:
        self.ok = self.refused = self.failed = 0

    async def verifier(self, bundle: dict[str, Any], stop: asyncio.Event) -> None:
        c = make_client(self.driver, self.url, self.token, self.protocol)
        try:
            await c.handshake()
            while not stop.is_set():
                started = time.monotonic()
                status = await _status_of_call(c, "verify_run_integrity", {"bundle": bundle})
                self.ok += status == 200
                self.refused += status == 429
                self.failed += status not in (200, 429)
                await asyncio.sleep(max(0.0, 1 / HEAVY_CALLS_PER_S - (time.monotonic() - started)))
        finally:
            await c.aclose()

    async def client(self, n: int, stop: asyncio.Event, mix: dict[str, int]) -> None:
        rnd = random.Random(n)
        ops, weights = list(mix), list(mix.values())
        c = make_client(self.driver, self.url, self.token, self.protocol)
        try:
            await c.handshake()
            args: dict[str, Any]
            while not stop.is_set():
                op = rnd.choices(ops, weights)[0]
                run_id = rnd.choice(self.pool)
                if op == "write":
                    name, args = "write_artifact", {"runId": run_id, "artifactKey": f"c{n}", "typeId": "noise.v1"}
                    args["data"] = {"n": n}
                elif op == "gate":
                    # parser1's PAUSE_BEFORE is the one gate under review in a run that began no step (D25).
                    args = {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE", "decision": "approved"}
                    name = "resolve_gate"
                elif op == "get":
                    name, args = "get_run", {"runId": run_id}
                elif op == "list":
                    name, args = "list_runs", {"limit": 20}
                elif op == "export":
                    name, args = "export_bundle", {"runId": run_id}
                else:
                    name, args = "start_run", {"workflowId": WORKFLOW}
                status = await _status_of_call(c, name, args)
                if status == 200:
                    self.ok += 1
                elif status == 429:
                    self.refused += 1
                    await asyncio.sleep(1.0)
                else:
                    self.failed += 1
        finally:
            await c.aclose()


async def _status_of_call(c: Any, name: str, arguments: dict[str, Any]) -> int:
    """The HTTP status of one tools/call (the driver's `call_tool` reads a 429's JSON body as a JSON-RPC
    error and fails); 200 only when the tool succeeded."""
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    try:
        status, _, msg, _ = await c._post(message, 1)
    except Exception:  # a transport failure counts as an error, like the driver's
        return 0
    if status == 200 and not (isinstance(msg, dict) and "result" in msg and not msg["result"].get("isError")):
        return -1
    return int(status)


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    noise = (
        f"1 noisy client verifying a {HEAVY_EVENTS:,}-event bundle {HEAVY_CALLS_PER_S:g}x/s"
        if r["noise"] == "heavy"
        else f"{r['clients']} noisy clients at full speed ({r['noise']})"
    )
    lines = [
        f"fairness: quiet tenant get_run (1 client, {QUIET_PAUSE_S * 1000:.0f} ms pause) alone, then during "
        f"{noise}; {args.seconds:g} s per phase, {r['workers']} worker(s), "
        f"MCP {r['protocol']}; load average {r['load_average'][0]} before, {r['load_average'][1]} after",
        "",
        "| config | server flags | quiet p50 / p99 ms before | quiet p50 / p99 ms during | quiet errors | "
        "noisy ok calls/s | noisy 429 |",
        "|---|---|---|---|---|---|---|",
    ]
    for x in r["results"]:
        b, d = x["quiet_before"], x["quiet_during"]
        flags = " ".join(x["server_args"]) or "(defaults)"
        lines.append(
            f"| {x['config']} | `{flags}` | {b['p50_ms']} / {b['p99_ms']} | {d['p50_ms']} / {d['p99_ms']} | "
            f"{b['errors'] + d['errors']} | {x['noisy_ok_per_s']} | {x['noisy_429']} |"
        )
        for sample in b["error_samples"] + d["error_samples"]:
            lines.append(f"quiet error ({x['config']}): {sample}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
