"""CPU of this process per PostgresRunStore call (load_state, load_run of a 50-event run, create_run, a
write_artifact write), beside SqliteRunStore: prints a table, optionally a cProfile of one kind of call; never a test.

    python bench/pg_call_cost.py                       # a throwaway cluster, ~20 s
    python bench/pg_call_cost.py --profile write --calls 2000

The database runs in other processes, so process CPU here is the store's (and driver's) own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pg_meter import cluster_cpu_seconds
from bench.store_bench import TENANT, Writer, new_run
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore
from workbench_mcp.system_clock import SystemClock

Store = SqliteRunStore | PostgresRunStore


Meter = Callable[[], float]


def no_meter() -> float:
    return 0.0


async def per_call(
    calls: int, fn: Callable[[], Awaitable[Any]], db: Meter = no_meter, rounds: int = 5
) -> tuple[float, float, float]:
    """(CPU ms, wall ms, database CPU ms) per call, after a warm-up: the least of `rounds` rounds, since other
    processes on a shared box only ever add to either; the database's over all rounds (its clock ticks
    are 10 ms: a round's share would read 0)."""
    for _ in range(20):
        await fn()
    best_cpu = best_wall = float("inf")
    n = max(1, calls // rounds)
    db_start = db()
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            await fn()
        best_cpu = min(best_cpu, (time.process_time() - cpu) * 1000 / n)
        best_wall = min(best_wall, (time.perf_counter() - wall) * 1000 / n)
    return best_cpu, best_wall, (db() - db_start) * 1000 / (n * rounds)


async def measure(
    store: Store, calls: int, profile: str | None, db: Meter = no_meter
) -> dict[str, tuple[float, float, float]]:
    writer = Writer(store, SystemClock())  # type: ignore[arg-type]
    run_id = await new_run(store, writer.clock)  # type: ignore[arg-type]
    await writer.grow(run_id, 50)
    writers = [Writer(store, SystemClock(), seq=(i + 1) * 1_000_000) for i in range(8)]  # type: ignore[arg-type]
    runs = [await new_run(store, writer.clock) for _ in writers]  # type: ignore[arg-type]

    async def eight_writes() -> None:  # c=8, each on its own run; counted as 8 calls below
        await asyncio.gather(*(w.write(r) for w, r in zip(writers, runs, strict=True)))

    async def eight_loads() -> None:
        await asyncio.gather(*(store.load_state(TENANT, r) for r in runs))

    kinds: dict[str, Callable[[], Awaitable[Any]]] = {
        "load_state": lambda: store.load_state(TENANT, run_id),
        "load_run": lambda: store.load_run(TENANT, run_id),
        "create": lambda: new_run(store, writer.clock),  # type: ignore[arg-type]
        "write": lambda: writer.write(run_id),
        "list_runs": lambda: store.list_runs(TENANT, limit=20),
        "8 writes/8": eight_writes,
        "8 loads/8": eight_loads,
    }
    results = {}
    for name, fn in kinds.items():
        if name == profile:
            profiler = cProfile.Profile(time.thread_time)  # CPU, not waits
            profiler.enable()
            results[name] = await per_call(calls, fn, db)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
        else:
            results[name] = await per_call(calls, fn, db)
    for name in ("8 writes/8", "8 loads/8"):
        results[name] = (results[name][0] / 8, results[name][1] / 8, results[name][2] / 8)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a PostgreSQL database (default: a throwaway cluster)")
    parser.add_argument("--calls", type=int, default=500)
    kinds = ["load_state", "load_run", "create", "write", "list_runs", "8 writes/8", "8 loads/8"]
    parser.add_argument("--profile", choices=kinds)
    parser.add_argument("--pg-only", action="store_true")
    args = parser.parse_args()
    cluster: Any = None
    if not args.url:
        from tests.postgres_cluster import start_cluster

        cluster = start_cluster()
    try:
        rows: dict[str, dict[str, tuple[float, float, float]]] = {}
        if not args.pg_only:
            with tempfile.TemporaryDirectory() as folder:
                async with SqliteRunStore(Path(folder) / "s.db") as sqlite_store:
                    rows["sqlite"] = await measure(sqlite_store, args.calls, None)
        async with PostgresRunStore(args.url or cluster.new_database("cost")) as pg_store:
            db = no_meter if cluster is None else partial(cluster_cpu_seconds, cluster.data)
            rows["postgres"] = await measure(pg_store, args.calls, args.profile, db)
    finally:
        if cluster is not None:
            cluster.destroy()
    print(f"{'backend':10} " + " ".join(f"{k:>22}" for k in next(iter(rows.values()))))
    for backend, found in rows.items():
        cells = " ".join(f"{f'{cpu:.3f} cpu / {wall:.3f} wall':>22}" for cpu, wall, _ in found.values())
        print(f"{backend:10} {cells}")
    if cluster is not None:
        print(f"{'database':10} " + " ".join(f"{f'{db:.3f} cpu':>22}" for _, _, db in rows["postgres"].values()))
    print("(ms per call, sequential; cpu/wall: this process, the least of 5 rounds; database: the cluster's")
    print(" processes over all 5 rounds, to 10 ms / calls)")


if __name__ == "__main__":
    asyncio.run(main())
