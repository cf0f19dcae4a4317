"""Fault suite: SIGKILL the server in the middle of the mixed load, restart it on the same database, check.

    python -m bench fault                        # 3 kills, 16 clients, 2 workers (about 2 minutes)
    python -m bench fault --cycles 1 --clients 4   # smoke run

Each cycle runs the load suite's workload, kills the whole server (supervisor and workers, SIGKILL,
at a random moment), and starts it again on the same SQLite file and port. At the end every
acknowledged write and gate decision must be in its run's trace, artifact versions must still run
1..n without gaps (an unacknowledged in-flight write may or may not have landed), every run's bundle
must pass schema, structure and integrity checks, and `PRAGMA integrity_check` must say ok.

Busy/locked databases and a full disk are covered by tests (tests/faults/), which run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.servers import OurServer, harness_dir, load_average
from bench.workload import MODERN, Workload, load_driver, verify


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench fault", description=__doc__.splitlines()[0])
    p.add_argument("--harness", help="directory of mcp_load.py (default ../shared/bench)")
    p.add_argument("--cycles", type=int, default=3, help="kill/restart cycles")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--min-s", type=float, default=5.0, help="earliest kill after the load starts")
    p.add_argument("--max-s", type=float, default=15.0, help="latest kill after the load starts")
    p.add_argument("--pool", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=None, help="fix the kill moments")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    report = asyncio.run(run(args))
    print(render(report))
    return 0 if report["ok"] else 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    driver = load_driver(harness_dir(args.harness))
    rnd = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="wb-fault-"))
    db_path = tmp / "fault.db"
    server = OurServer(db_path, workers=args.workers, log_path=tmp / "server.log").start()
    kills: list[dict[str, Any]] = []
    load_before = load_average()
    try:
        workload = Workload(driver, server.url, server.token("fault"), clients=args.clients, protocol=MODERN)
        await workload.setup(args.pool)
        for _ in range(args.cycles):
            load = asyncio.create_task(workload.run(args.max_s + 60))
            at = rnd.uniform(args.min_s, args.max_s)
            await asyncio.sleep(at)
            acked_before = sum(len(v) for v in workload.tally.acked_versions.values())
            workload.stop.set()  # replies from here on are not trusted as acknowledgements
            server.kill()
            await load
            restarted = time.monotonic()
            server = OurServer(db_path, workers=args.workers, port=server.port, log_path=tmp / "server.log").start()
            kills.append(
                {
                    "after_s": round(at, 1),
                    "acked_so_far": acked_before,
                    "restart_s": round(time.monotonic() - restarted, 1),
                }
            )
            workload.stop.clear()
        verdict = await verify(workload, exact=False)
    finally:
        server.stop()
    integrity = sqlite3.connect(db_path).execute("PRAGMA integrity_check").fetchall()
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "cycles": args.cycles,
        "clients": args.clients,
        "workers": args.workers,
        "kills": kills,
        "calls": workload.tally.calls,
        "acked_writes": verdict.acked_writes,
        "runs_checked": verdict.runs_checked,
        "lost_updates": verdict.lost_updates,
        "version_gaps": verdict.version_gaps,
        "lost_gate_decisions": verdict.lost_gates,
        "bundles_invalid": verdict.bundles_invalid,
        "integrity_check": [row[0] for row in integrity],
        "problems": verdict.problems[:10],
        "ok": verdict.ok and integrity == [("ok",)],
        "load_average": [load_before, load_average()],
    }


def render(r: dict[str, Any]) -> str:
    kills = ", ".join(f"at {k['after_s']} s (restart {k['restart_s']} s)" for k in r["kills"])
    lines = [
        f"fault suite: {r['cycles']} x SIGKILL of the whole server ({r['workers']} workers) under "
        f"{r['clients']} clients: {kills}",
        f"acknowledged writes {r['acked_writes']:,} on {r['runs_checked']} runs: lost {r['lost_updates']}, "
        f"version gaps {r['version_gaps']}, lost gate decisions {r['lost_gate_decisions']}, "
        f"bundles failing verification {r['bundles_invalid']}, PRAGMA integrity_check {r['integrity_check']}",
        f"verdict: {'OK' if r['ok'] else 'FAILED'}; load average {r['load_average'][0]} before, "
        f"{r['load_average'][1]} after",
        json.dumps({k: r[k] for k in ("kills", "calls")}),
    ]
    lines += ["problem: " + p for p in r["problems"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
