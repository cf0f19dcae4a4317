"""Load suite: 16 concurrent clients x 60 s of mixed calls against our server, then a full check.

    python -m bench load                       # 16 clients, 60 s, 2 workers (about 1.5 minutes)
    python -m bench load --clients 4 --seconds 10   # smoke run

Reports errors, lost updates (acknowledged writes missing from the trace, or versions with gaps),
p50/p99 latency per operation, and the server's RSS (all processes) after a warm-up and at the end.
Exit code 1 if anything was lost, any call failed or a bundle did not verify.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.servers import OurServer, harness_dir, load_average
from bench.workload import MODERN, Workload, load_driver, percentile_ms, verify

RSS_SAMPLE_S = 5.0


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.splitlines()[0])
    p.add_argument("--harness", help="directory of mcp_load.py (default ../shared/bench)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--warmup", type=float, default=10.0, help="seconds of load before the start RSS is taken")
    p.add_argument("--pool", type=int, default=32, help="runs created before the load starts")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--protocol", default=MODERN, choices=[MODERN, "2025-11-25"])
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    report = asyncio.run(run(args))
    print(json.dumps(report) if args.json else render(report, args))
    ok = report["errors"] == 0 and report["verdict"]["ok"]
    return 0 if ok else 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    driver = load_driver(harness_dir(args.harness))
    tmp = Path(tempfile.mkdtemp(prefix="wb-load-"))
    server = OurServer(tmp / "load.db", workers=args.workers, log_path=tmp / "server.log")
    load_before = load_average()
    try:
        server.start()
        workload = Workload(driver, server.url, server.token("load"), clients=args.clients, protocol=args.protocol)
        await workload.setup(args.pool)
        await workload.run(args.warmup)
        warm_calls = workload.tally.calls
        workload.tally.reset_measurements()  # latencies and errors from here on; acknowledgements stay
        samples: list[tuple[float, int]] = []

        async def sample_rss() -> None:
            started = time.monotonic()
            while True:
                samples.append((round(time.monotonic() - started, 1), server.rss_kib()))
                await asyncio.sleep(RSS_SAMPLE_S)

        sampler = asyncio.create_task(sample_rss())
        began = time.monotonic()
        await workload.run(args.seconds)
        elapsed = time.monotonic() - began
        sampler.cancel()
        samples.append((round(elapsed, 1), server.rss_kib()))
        tally = workload.tally
        verdict = await verify(workload, exact=tally.unanswered_writes == 0)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rss_start, rss_end = samples[0][1], samples[-1][1]
    all_latencies = [x for values in tally.latencies.values() for x in values]
    return {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "workers": args.workers,
        "protocol": args.protocol,
        "warmup_calls": warm_calls,
        "calls": tally.calls,
        "calls_per_s": round(tally.calls / elapsed, 1),
        "errors": tally.error_count,
        "error_samples": tally.error_samples,
        "ops": {
            op: {
                "calls": len(values) + tally.errors.get(op, 0),
                "errors": tally.errors.get(op, 0),
                "p50_ms": percentile_ms(values, 50),
                "p99_ms": percentile_ms(values, 99),
            }
            for op, values in sorted(tally.latencies.items())
        },
        "p50_ms": percentile_ms(all_latencies, 50),
        "p99_ms": percentile_ms(all_latencies, 99),
        "rss_kib_start": rss_start,
        "rss_kib_end": rss_end,
        "rss_growth_pct": round(100.0 * (rss_end - rss_start) / rss_start, 1) if rss_start else None,
        "rss_samples": samples,
        "runs": len(set(tally.runs)),
        "verdict": {
            "ok": verdict.ok,
            "runs_checked": verdict.runs_checked,
            "acked_writes": verdict.acked_writes,
            "lost_updates": verdict.lost_updates,
            "version_gaps": verdict.version_gaps,
            "lost_gate_decisions": verdict.lost_gates,
            "bundles_invalid": verdict.bundles_invalid,
            "problems": verdict.problems[:10],
        },
        "load_average": [load_before, load_average()],
    }


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    v = r["verdict"]
    lines = [
        f"load suite: {r['clients']} clients x {r['seconds']} s, {r['workers']} workers, MCP {r['protocol']} "
        f"(after {args.warmup:.0f} s / {r['warmup_calls']} calls of warm-up); load average {r['load_average'][0]} "
        f"before, {r['load_average'][1]} after",
        "",
        "| operation | calls | errors | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for op, s in r["ops"].items():
        lines.append(f"| {op} | {s['calls']:,} | {s['errors']} | {s['p50_ms']} | {s['p99_ms']} |")
    lines.append(f"| **all** | {r['calls']:,} ({r['calls_per_s']}/s) | {r['errors']} | {r['p50_ms']} | {r['p99_ms']} |")
    lines += [
        "",
        f"acknowledged writes {v['acked_writes']:,} on {v['runs_checked']} runs: lost updates {v['lost_updates']}, "
        f"version gaps {v['version_gaps']}, lost gate decisions {v['lost_gate_decisions']}, "
        f"bundles failing verification {v['bundles_invalid']}",
        f"RSS (all server processes) {r['rss_kib_start'] / 1024:.1f} MiB after warm-up -> "
        f"{r['rss_kib_end'] / 1024:.1f} MiB at the end ({r['rss_growth_pct']:+.1f} %)",
    ]
    if r["error_samples"]:
        lines.append("error samples: " + "; ".join(r["error_samples"]))
    for problem in v["problems"]:
        lines.append("problem: " + problem)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
