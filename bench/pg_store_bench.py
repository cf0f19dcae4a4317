"""PostgresRunStore beside SqliteRunStore, and `migrate` of a large SQLite database: prints tables; never a test.

    python bench/pg_store_bench.py                    # a throwaway cluster (tests/postgres_cluster.py), ~1 min
    python bench/pg_store_bench.py --url postgresql://...  --runs 2000
    python bench/pg_store_bench.py --migration-only       # migrate 10,000 runs, compare every bundle hash

Writes are what the service does for write_artifact (bench/store_bench.Writer). On this 2-core box the
database, the store and the driver share the cores, so PostgreSQL numbers here say little about a real
deployment's; they show the store's own overhead per call (connection hops, round trips).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.store_bench import TENANT, Writer, new_run, print_table
from workbench_mcp.engine.export import export_bundle
from workbench_mcp.protocol.bundle import compute_integrity
from workbench_mcp.store.copy_to_postgres import _RUN_TABLES, copy_sqlite_to_postgres
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore
from workbench_mcp.system_clock import SystemClock

Store = SqliteRunStore | PostgresRunStore


async def sequential(store: Store, writes: int) -> float:
    writer = Writer(store, SystemClock())  # type: ignore[arg-type]
    run_id = await new_run(store, writer.clock)  # type: ignore[arg-type]
    began = time.perf_counter()
    for _ in range(writes):
        await writer.write(run_id)
    return writes / (time.perf_counter() - began)


async def concurrent(store: Store, clients: int, writes: int, *, one_run: bool) -> float:
    writers = [Writer(store, SystemClock(), seq=i * 1_000_000) for i in range(clients)]  # type: ignore[arg-type]
    shared = await new_run(store, writers[0].clock)  # type: ignore[arg-type]
    runs = [shared if one_run else await new_run(store, w.clock) for w in writers]  # type: ignore[arg-type]

    async def drive(writer: Writer, run_id: str) -> None:
        for _ in range(writes):
            await writer.write(run_id)

    began = time.perf_counter()
    await asyncio.gather(*(drive(w, r) for w, r in zip(writers, runs, strict=True)))
    return clients * writes / (time.perf_counter() - began)


async def latency_by_length(store: Store, lengths: list[int], samples: int) -> dict[int, float]:
    writer = Writer(store, SystemClock())  # type: ignore[arg-type]
    runs = {}
    for length in lengths:
        runs[length] = await new_run(store, writer.clock)  # type: ignore[arg-type]
        await writer.grow(runs[length], length)
    found: dict[int, list[float]] = {length: [] for length in lengths}
    for _ in range(samples):
        for length in lengths:
            began = time.perf_counter()
            await writer.write(runs[length])
            found[length].append(time.perf_counter() - began)
    return {length: statistics.median(values) for length, values in found.items()}


def multiply_runs(path: Path, run_id: str, copies: int) -> None:
    """`copies` more runs made of every row of the given one (ids suffixed), as a big database to migrate."""
    with sqlite3.connect(path) as conn:
        for table, columns, _ in _RUN_TABLES:
            if table == "start_requests":
                continue
            names = ", ".join(columns)
            rest = f", {names}" if names else ""
            conn.execute(
                f"""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                INSERT INTO {table} (tenant_id, run_id{rest})
                SELECT tenant_id, run_id || '_' || i{rest} FROM {table}, n WHERE tenant_id = ? AND run_id = ?
                """,
                (copies, TENANT, run_id),
            )


async def bundle_hashes(store: Store, run_ids: list[str]) -> list[str]:
    hashes = []
    for run_id in run_ids:
        state, trace = await store.load_run(TENANT, run_id)
        hashes.append(compute_integrity(export_bundle(state, trace, profile="full")))
    return hashes


async def migration(folder: Path, url: str, runs: int) -> list[list[str]]:
    path = folder / "big.db"
    source = SqliteRunStore(path)
    await source.open()
    writer = Writer(source, SystemClock())
    template = await new_run(source, writer.clock)
    await writer.grow(template, 20)
    await source.close()
    multiply_runs(path, template, runs - 1)
    began = time.perf_counter()
    report = await asyncio.to_thread(copy_sqlite_to_postgres, path, url)
    copy_s = time.perf_counter() - began
    began = time.perf_counter()
    again = await asyncio.to_thread(copy_sqlite_to_postgres, path, url)
    rerun_s = time.perf_counter() - began
    with sqlite3.connect(path) as conn:
        run_ids = [row[0] for row in conn.execute("SELECT run_id FROM runs WHERE tenant_id = ?", (TENANT,))]
    stores: list[Store] = [SqliteRunStore(path), PostgresRunStore(url)]
    hashes = []
    began = time.perf_counter()
    for store in stores:
        await store.open()
        hashes.append(await bundle_hashes(store, run_ids))
        await store.close()
    compare_s = time.perf_counter() - began
    differ = sum(a != b for a, b in zip(*hashes, strict=True))
    return [
        [f"migrate {runs:,} runs x 21 events", f"{copy_s:.1f} s ({report.copied / copy_s:,.0f} runs/s)"],
        ["migrate again (nothing to copy)", f"{rerun_s:.1f} s, {again.skipped:,} skipped, {again.copied} copied"],
        [
            "bundle hash of every run, SQLite vs PostgreSQL",
            f"{len(run_ids):,} compared, {differ} differ ({compare_s:.1f} s)",
        ],
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL database to use (default: a throwaway cluster)")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the migrated database")
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--migration-only", action="store_true", help="only the migration table")
    args = parser.parse_args()
    cluster: Any = None
    if args.url is None:
        from tests.postgres_cluster import start_cluster

        cluster = start_cluster()
    try:
        url = args.url or cluster.new_database("bench")
        migrate_url = cluster.new_database("migrate") if cluster else url
        with tempfile.TemporaryDirectory(prefix="pg-bench-") as tmp:
            folder = Path(tmp)
            if args.migration_only:
                print_table(["migration", "result"], await migration(folder, migrate_url, args.runs))
                return
            rows = []
            stores: dict[str, Store] = {"SQLite": SqliteRunStore(folder / "s.db"), "PostgreSQL": PostgresRunStore(url)}
            results: dict[str, list[Any]] = {}
            for name, store in stores.items():
                await store.open()
                results[name] = [
                    await sequential(store, args.writes),
                    await concurrent(store, 8, args.writes // 8, one_run=False),
                    await concurrent(store, 8, args.writes // 8, one_run=True),
                    await latency_by_length(store, [10, 10_000], 50),
                ]
                await store.close()
            labels = ["sequential writes/s", "c=8 writes/s, 8 runs", "c=8 writes/s, one run"]
            for i, label in enumerate(labels):
                rows.append([label, *(f"{results[n][i]:,.0f}" for n in stores)])
            for length in (10, 10_000):
                rows.append(
                    [f"write p50 at {length:,} events", *(f"{results[n][3][length] * 1000:.2f} ms" for n in stores)]
                )
            print_table(["store", *stores], rows)
            print()
            print_table(["migration", "result"], await migration(folder, migrate_url, args.runs))
    finally:
        if cluster is not None:
            cluster.destroy()


if __name__ == "__main__":
    asyncio.run(main())
