"""SqliteRunStore benchmark: prints a table; never part of the test suite.

    python bench/store_bench.py            # about a minute on a 2-core machine
    python bench/store_bench.py --quick    # smaller samples, for a smoke run
    python bench/store_bench.py --ledger   # only the signed ledger's cost (~30 s)
    python bench/store_bench.py --writers  # only committed writes/s, sequential vs 8 concurrent writers (~10 s)
    python bench/store_bench.py --breakdown  # where a write's time goes, 1 writer and 8 writers (~15 s)
    python bench/store_bench.py --chain 5  # only chain on / off: 5 interleaved runs and the median ratios (~25 s)
    python bench/store_bench.py --two-stores  # hops and CPU per write, one store vs two on one file (~10 s)
    args = parser.parse_args()

        return

A "write" is what the service does for write_artifact: open the run's transaction, let the engine
decide, append, commit. Every write carries an idempotency key, so the idempotency map grows with
the trace (the less favourable case for a store that must not look at old entries).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench_mcp.engine.artifacts import write_artifact
from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.export import export_bundle
from workbench_mcp.engine.lifecycle import StartRun, start_run
from workbench_mcp.ledger.export import attested_bundle
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.protocol.canonical_json import pretty_json
from workbench_mcp.protocol.reference_workflow import DEFAULT_RULE_SET, JOB_SEARCH_WORKFLOW
from workbench_mcp.store.run_store import Actor, GovernanceRecord
from workbench_mcp.store.sqlite_store import Durability, SqliteRunStore
from workbench_mcp.system_clock import SystemClock

TENANT = "bench-tenant"
ACTOR = Actor(principal="bench", tool="write_artifact")
DATA = {"title": "Senior engineer", "score": 0.87, "tags": ["remote", "python"], "notes": "x" * 200}


async def new_run(store: SqliteRunStore, clock: Clock) -> str:
    outcome = start_run(clock, StartRun(workflow=JOB_SEARCH_WORKFLOW, rule_sets=[DEFAULT_RULE_SET]))
    return await store.create_run(TENANT, outcome.state, [e.model_dump(mode="json") for e in outcome.events], ACTOR)


@dataclass
class Writer:
    """Drives write_artifact through the store like the service does, timing the engine's share."""

    store: SqliteRunStore
    clock: Clock
    keyed: bool = True
    seq: int = 0
    engine_seconds: float = 0.0

    async def write(self, run_id: str, count: int = 1) -> None:
        """`count` writes in ONE transaction (several per transaction grow a trace quickly)."""
        async with self.store.run_transaction(TENANT, run_id) as tx:
            for _ in range(count):
                self.seq += 1
                key = f"k{self.seq}" if self.keyed else None
                began = time.perf_counter()
                outcome = write_artifact(
                    tx.state, self.clock, artifact_key="draft", type_id="note", data=DATA, idempotency_key=key
                )
                self.engine_seconds += time.perf_counter() - began
                await tx.append(outcome.state, [e.model_dump(mode="json") for e in outcome.events], ACTOR)

    async def one_by_one(self, run_id: str, count: int) -> None:
        """`count` writes, a transaction (and a commit) each."""
        for _ in range(count):
            await self.write(run_id)

    async def grow(self, run_id: str, length: int) -> None:
        grown = len(await self.store.load_trace(TENANT, run_id))
        while grown < length:
            batch = min(100, length - grown)
            await self.write(run_id, batch)
            grown += batch


@dataclass
class Latency:
    total: list[float]
    store: list[float]  # total minus the engine's decision: what the store itself costs


async def write_latency(folder: Path, lengths: list[int], samples: int, *, keyed: bool) -> dict[int, Latency]:
    """Runs of every length are written in turns, so load from other processes hits all alike.
    Each length has a pool of runs, used round-robin, so a run grows by few events while measured."""
    store = SqliteRunStore(folder / f"latency-{'keyed' if keyed else 'plain'}.db")
    await store.open()
    writer = Writer(store, SystemClock(), keyed=keyed)
    try:
        pools: dict[int, list[str]] = {}
        for length in lengths:
            pools[length] = [await new_run(store, writer.clock) for _ in range(max(1, min(20, 20_000 // length)))]
            for run_id in pools[length]:
                await writer.grow(run_id, length)
        results = {length: Latency([], []) for length in lengths}
        for i in range(samples + 20):  # the first 20 rounds warm up
            for length in lengths:
                run_id = pools[length][i % len(pools[length])]
                engine_before, began = writer.engine_seconds, time.perf_counter()
                await writer.write(run_id)
                total = time.perf_counter() - began
                if i >= 20:
                    results[length].total.append(total)
                    results[length].store.append(total - (writer.engine_seconds - engine_before))
    finally:
        await store.close()
    return results


async def timed(samples: int, op: Callable[[], Awaitable[Any]]) -> list[float]:
    out = []
    for _ in range(samples):
        began = time.perf_counter()
        await op()
        out.append(time.perf_counter() - began)
    return out


async def export_latency(folder: Path, samples: int) -> tuple[float, float]:
    """p50 of exporting a 10k-event run: (load + bundle + integrity hash, the same plus its JSON text)."""
    store = SqliteRunStore(folder / "export.db")
    await store.open()
    try:
        writer = Writer(store, SystemClock())
        run_id = await new_run(store, writer.clock)
        await writer.grow(run_id, 10_000)

        async def bundle() -> dict[str, Any]:
            state, trace = await store.load_run(TENANT, run_id)
            return export_bundle(state, trace)

        async def bundle_text() -> str:
            return pretty_json(await bundle())

        return median(await timed(samples, bundle)), median(await timed(samples, bundle_text))
    finally:
        await store.close()


async def attest_cost(signed: SqliteRunStore, writer: Writer, run_id: str) -> tuple[list[float], list[float]]:
    """Seconds to sign an export checkpoint of a 10k-event run, and to attest it (with bundle and statement)."""
    await writer.grow(run_id, 10_000)
    export_s = await timed(3, lambda: signed.export_checkpoint(TENANT, run_id))
    key = signed.signer
    assert key is not None

    async def attest() -> None:
        state, export = await signed.export_checkpoint(TENANT, run_id)
        attested_bundle(state, export, key)

    return export_s, await timed(3, attest)


async def ledger_cost(
    folder: Path, rounds: int, writes: int, *, attest: bool = True, plain_first: bool = False
) -> list[list[str]]:
    """The hash chain's cost on the write path (the same writes, chain on vs off, interleaved) and the
    time to attest a 10k-event run. `plain_first`: open the store without the chain first (which store
    is opened first is the one thing the interleaving does not swap)."""
    stores = {
        "chain": SqliteRunStore(folder / "ledger-on.db", signer=SigningKey.generate()),
        "plain": SqliteRunStore(folder / "ledger-off.db", chain=False),
    }
    if plain_first:
        stores = {"plain": stores["plain"], "chain": stores["chain"]}
    from workbench_mcp.ledger import store_rows

    hashing = Sections(clock=time.thread_time)  # CPU of the chain's own work, on the store's thread
    hashing.wrap(store_rows, "link_rows", "chain")
    latencies: dict[str, list[float]] = {name: [] for name in stores}
    seconds: dict[str, float] = dict.fromkeys(stores, 0.0)
    cpu: dict[str, float] = dict.fromkeys(stores, 0.0)  # process CPU (both threads): the host's load barely moves it
    try:
        runs = {}
        for name, store in stores.items():
            await store.open()
            runs[name] = await new_run(store, SystemClock())
        writers = {name: Writer(store, SystemClock()) for name, store in stores.items()}
        # One write each in turn, the order swapped every time: drift in the machine's load and the
        # store that happens to go first (an A/A run of two plain stores differed by up to 16 % in
        # blocks of 300) then hit both alike.
        order = list(stores)
        for _ in range(rounds * writes):
            order.reverse()
            for name in order:
                used, began = time.process_time(), time.perf_counter()
                await writers[name].write(runs[name])
                took = time.perf_counter() - began
                cpu[name] += time.process_time() - used
                latencies[name].append(took)
                seconds[name] += took
        hashing.restore()  # the attestation's writes below are not counted
        if attest:
            export_s, attest_s = await attest_cost(stores["chain"], writers["chain"], runs["chain"])
    finally:
        hashing.restore()
        for store in stores.values():
            await store.close()
    on, off = median(latencies["chain"]), median(latencies["plain"])
    total = rounds * writes
    rate_on, rate_off = total / seconds["chain"], total / seconds["plain"]
    cpu_on, cpu_off = cpu["chain"] / total, cpu["plain"] / total
    rows = [
        ["write p50, chain on / off", f"{ms(on)} / {ms(off)}", "<= 1.10x",
         f"{on / off:.2f}x {verdict(on / off <= 1.10)}"],
        ["sequential writes/s, chain on / off", f"{rate_on:,.0f} / {rate_off:,.0f}", "<= 10 % slower",
         f"{rate_off / rate_on:.2f}x {verdict(rate_off / rate_on <= 1.10)}"],
        ["process CPU per write, chain on / off", f"{ms(cpu_on)} / {ms(cpu_off)}", "", f"{cpu_on / cpu_off:.2f}x"],
        # The chain's own work (links of the new rows, thread CPU) as a share of a write's CPU without it:
        # the hashing the comparisons above see through this host's noise.
        ["CPU per write hashing the chain (link_rows), as on / off", ms(hashing.seconds["chain"] / total), "",
         f"{1 + hashing.seconds['chain'] / total / cpu_off:.2f}x"],
    ]  # fmt: skip
    if not attest:
        return rows
    return [
        *rows,
        ["attest a 10k-event run: check rows, sign checkpoint, read (p50)", ms(median(export_s)), "", ""],
        ["attest a 10k-event run: all, with bundle and statement (p50)", ms(median(attest_s)), "", ""],
    ]  # fmt: skip


async def governance_cost(folder: Path, sizes: list[int], samples: int) -> list[list[str]]:
    """p50 of recording one governance record (a refusal: its own transaction, chained to the run's
    governance rows) on runs that already hold `size` such rows; the chain's link reads the run's row
    count and last link, so a growing run is the case to watch."""
    store = SqliteRunStore(folder / "governance.db", signer=SigningKey.generate())
    await store.open()
    record = GovernanceRecord(kind="denial", principal="bench", tool="write_artifact", detail={"reason": "bench"})
    rows = []
    try:
        runs = {size: await new_run(store, SystemClock()) for size in sizes}
        for size, run_id in runs.items():
            for _ in range(size):
                await store.record_governance(TENANT, run_id, record)
        took: dict[int, list[float]] = {size: [] for size in sizes}
        for _ in range(samples):
            for size, run_id in runs.items():
                began = time.perf_counter()
                await store.record_governance(TENANT, run_id, record)
                took[size].append(time.perf_counter() - began)
        for size in sizes:
            rows.append([f"record_governance p50, run with {size:,} governance rows", ms(median(took[size])), "", ""])
    finally:
        await store.close()
    return rows


async def chain_runs(count: int) -> None:
    """`count` runs of the chain on / off comparison (fresh stores each, opened in turns in either order),
    then the median of each ratio: on this shared host one run's ratio moves by several per cent (an A/A
    run of two plain stores too), the median of a few much less."""
    ratios: list[list[float]] = []
    for i in range(count):
        with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
            rows = await ledger_cost(Path(tmp), 3, 300, attest=False, plain_first=i % 2 == 1)
        ratios.append([float(row[3].split("x")[0]) for row in rows])
        print(f"run {i + 1}: " + "; ".join(f"{row[0]} {row[1]} = {row[3]}" for row in rows))
    names = ["write p50", "writes/s (slower by)", "process CPU per write", "hashing share"]
    medians = [median([r[j] for r in ratios]) for j in range(len(names))]
    summary = ", ".join(f"{n} {m:.2f}x" for n, m in zip(names, medians, strict=True))
    print(f"\nchain on / off, median of {count} runs: {summary}")
    print(f"load average {os.getloadavg()[0]:.1f}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


async def throughput(folder: Path, writes: int, durability: Durability) -> float:
    store = SqliteRunStore(folder / f"throughput-{durability}.db", durability=durability)
    await store.open()
    writer = Writer(store, SystemClock())
    try:
        run_id = await new_run(store, writer.clock)
        began = time.perf_counter()
        for _ in range(writes):
            await writer.write(run_id)
        return writes / (time.perf_counter() - began)
    finally:
        await store.close()


async def concurrent_throughput(folder: Path, writers: int, writes: int, rounds: int = 5) -> dict[str, float]:
    """Committed writes/s of one writer and of `writers` concurrent writers, each on a run of its own (a
    write is acknowledged once its commit returned, as for `throughput`); same store, same chain. The two
    alternate in `rounds` blocks, the order swapped each round, so drift in the host's load hits both
    alike; process CPU per write (both threads) is printed too, as the host's other load barely moves it."""
    store = SqliteRunStore(folder / f"writers-{writers}.db")
    await store.open()
    wall = {"one": 0.0, "many": 0.0}
    cpu = {"one": 0.0, "many": 0.0}
    try:
        clock = SystemClock()
        runs = [await new_run(store, clock) for _ in range(writers)]
        drivers = [Writer(store, clock) for _ in runs]

        await asyncio.gather(*(w.one_by_one(r, 20) for w, r in zip(drivers, runs, strict=True)))  # warm-up
        each = writes // rounds // writers
        block = each * writers  # the same number of writes in both kinds of block
        order = ["one", "many"]
        for _ in range(rounds):
            order.reverse()
            for kind in order:
                began, used = time.perf_counter(), time.process_time()
                if kind == "one":
                    await drivers[0].one_by_one(runs[0], block)
                else:
                    await asyncio.gather(*(w.one_by_one(r, each) for w, r in zip(drivers, runs, strict=True)))
                wall[kind] += time.perf_counter() - began
                cpu[kind] += time.process_time() - used
    finally:
        await store.close()
    total = block * rounds
    return {
        "one": total / wall["one"], "many": total / wall["many"],
        "one_cpu": cpu["one"] / total, "many_cpu": cpu["many"] / total,
    }  # fmt: skip


def writers_rows(result: dict[str, float], writers: int) -> list[list[str]]:
    ratio = result["many"] / result["one"]
    return [
        ["committed writes/s, 1 writer", f"{result['one']:,.0f}/s", "", ""],
        [f"committed writes/s, {writers} concurrent writers (one run each)", f"{result['many']:,.0f}/s",
         ">= 3x 1 writer", f"{ratio:.2f}x {verdict(ratio >= 3)}"],
        ["process CPU per write, 1 writer / 8 writers", f"{ms(result['one_cpu'])} / {ms(result['many_cpu'])}", "",
         f"{result['one_cpu'] / result['many_cpu']:.2f}x"],
    ]  # fmt: skip


class Sections:
    """Time spent in named store functions (wrapped in place: this is a bench, never the server)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds: dict[str, float] = {}
        self.clock = clock
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        if not hasattr(owner, name):
            return  # that version of the store has no such function
        original = getattr(owner, name)
        seconds, clock = self.seconds, self.clock
        seconds.setdefault(label, 0.0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = clock()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += clock() - began

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


async def breakdown(folder: Path, writers: int, writes: int) -> list[list[str]]:
    """Per write, in microseconds: the sections of `writes` chained writes by `writers` concurrent
    writers (one run each). "SQLite" parts run on the store's thread; "hops and asyncio" is the wall time
    per write the sections do not explain (thread hand-overs, waiting for the GIL, the event loop)."""
    from workbench_mcp.ledger import store_rows
    from workbench_mcp.store import row_codec, sqlite_store

    sqlite_group: ModuleType | None
    try:
        from workbench_mcp.store import sqlite_group
    except ImportError:  # before group commit
        sqlite_group = None
    store = SqliteRunStore(folder / f"breakdown-{writers}.db", signer=SigningKey.generate())
    await store.open()
    sections = Sections()
    try:
        clock = SystemClock()
        runs = [await new_run(store, clock) for _ in range(writers)]
        drivers = [Writer(store, clock) for _ in runs]

        await asyncio.gather(*(w.one_by_one(r, 50) for w, r in zip(drivers, runs, strict=True)))
        sections.wrap(row_codec, "append_write", "encode (rows, event JSON)")
        sections.wrap(store_rows, "link_rows", "chain hash (link_rows)")
        sections.wrap(sqlite_store, "_write_rows", "rows")
        sections.wrap(sqlite_store, "_open_run_tx", "SQLite: read the run row")
        sections.wrap(sqlite_store, "_begin_immediate", "SQLite: BEGIN IMMEDIATE")
        sections.wrap(sqlite_store, "_finish_run_tx", "finish")
        if sqlite_group is not None:
            sections.wrap(sqlite_group.WriteGroups, "_commit_job", "SQLite: COMMIT")
        for driver in drivers:
            driver.engine_seconds = 0.0
        each = writes // writers
        cpu, began = time.process_time(), time.perf_counter()
        await asyncio.gather(*(w.one_by_one(r, each) for w, r in zip(drivers, runs, strict=True)))
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        sections.restore()
        await store.close()
    total = each * writers
    t = {k: v / total * 1e6 for k, v in sections.seconds.items()}
    t["engine (write_artifact, event validation)"] = sum(d.engine_seconds for d in drivers) / total * 1e6
    t["SQLite: statements"] = t.pop("rows") - t["chain hash (link_rows)"]
    finish = t.pop("finish")
    if "SQLite: COMMIT" not in t:  # before group commit the COMMIT ran at the end of _finish_run_tx
        t["SQLite: COMMIT"] = finish - t["SQLite: statements"] - t["chain hash (link_rows)"]
    explained = sum(t.values())
    order = [
        "engine (write_artifact, event validation)", "encode (rows, event JSON)", "chain hash (link_rows)",
        "SQLite: BEGIN IMMEDIATE", "SQLite: read the run row", "SQLite: statements", "SQLite: COMMIT",
    ]  # fmt: skip
    rows = [[name, f"{t.get(name, 0.0):.0f}"] for name in order]
    rows.append(["hops, asyncio, waiting (wall minus the above)", f"{wall / total * 1e6 - explained:.0f}"])
    rows.append(["wall time per write", f"{wall / total * 1e6:.0f}"])
    rows.append(["process CPU per write (both threads)", f"{cpu / total * 1e6:.0f}"])
    rows.append(["committed writes/s", f"{total / wall:,.0f}"])
    return rows


async def listing(folder: Path, runs: int, samples: int) -> tuple[float, float]:
    path = folder / "listing.db"
    store = SqliteRunStore(path)
    await store.open()
    try:
        template = await new_run(store, SystemClock())
        bulk_copy(path, template, runs - 1, TENANT)
        bulk_copy(path, template, runs, "bench-neighbour")  # another tenant of the same size
        first = statistics.median(await timed(samples, lambda: store.list_runs(TENANT, limit=100)))
        middle = (await store.list_runs(TENANT, limit=500)).next_cursor
        for _ in range(runs // 1000):  # walk to the middle of the listing
            middle = (await store.list_runs(TENANT, limit=500, cursor=middle)).next_cursor
        deep = statistics.median(await timed(samples, lambda: store.list_runs(TENANT, limit=100, cursor=middle)))
    finally:
        await store.close()
    return first, deep


def bulk_copy(path: Path, run_id: str, copies: int, tenant: str) -> None:
    """Copies of one real run row with distinct ids and start times: the listing reads only this row."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO runs SELECT ?, run_id || '_' || i, workflow_id, status, started_at, started_us - i * 1000,
                ended_at, tags, revision, trace_length, state_tag, run_json, engine_json
            FROM runs, n WHERE tenant_id = ? AND run_id = ?
            """,
            (copies, tenant, TENANT, run_id),
        )


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


async def two_stores(folder: Path, writes: int, rounds: int = 5) -> list[list[str]]:
    """Sequential writes by one store, then by two stores on the same file taking turns (what `serve --workers
    2` does to its workers): thread hops and process CPU per write, the lowest of `rounds` blocks each."""
    ours, theirs = SqliteRunStore(folder / "two.db"), SqliteRunStore(folder / "two.db")
    await ours.open()
    await theirs.open()
    hops = 0
    counted: list[tuple[Any, Any]] = []
    for store in (ours, theirs):
        writer = store._writer
        assert writer is not None
        submit = writer.submit

        def counting(fn: Any, submit: Any = submit) -> Any:
            nonlocal hops
            hops += 1
            return submit(fn)

        writer.submit = counting  # type: ignore[method-assign]
        counted.append((writer, submit))
    rows = []
    try:
        clock = SystemClock()
        runs = [await new_run(ours, clock) for _ in range(4)]
        drivers = [Writer(ours, clock, keyed=False), Writer(theirs, clock, keyed=False)]
        for label, turns in (("one store", 1), ("two stores taking turns", 2)):
            best_cpu, per_write = float("inf"), 0.0
            for _ in range(rounds):
                hops, used = 0, time.process_time()
                for i in range(writes):
                    await drivers[i % turns].write(runs[i % len(runs)])
                best_cpu = min(best_cpu, (time.process_time() - used) / writes)
                per_write = hops / writes
            rows.append([label, f"{per_write:.2f}", f"{best_cpu * 1e6:.0f}"])
    finally:
        for store in (ours, theirs):
            await store.close()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples for a smoke run")
    parser.add_argument("--ledger", action="store_true", help="only the signed ledger's cost")
    parser.add_argument("--writers", action="store_true", help="only writes/s, 1 writer vs 8 concurrent writers")
    parser.add_argument("--breakdown", action="store_true", help="where a write's time goes, 1 and 8 writers")
    parser.add_argument("--chain", type=int, metavar="N", help="only chain on / off: N interleaved runs, medians")
    parser.add_argument("--two-stores", action="store_true", help="hops and CPU per write, 1 store vs 2 on one file")
    args = parser.parse_args()
    if args.chain:
        await chain_runs(args.chain)
        return
    if args.two_stores:
        with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
            rows = await two_stores(Path(tmp), 400)
        print_table(["sequential writes", "hops per write", "process CPU per write (us)"], rows)
        print(f"\nload average {os.getloadavg()[0]:.1f}")
        return
    if args.breakdown:
        with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
            one = await breakdown(Path(tmp), 1, 2_000)
            eight = await breakdown(Path(tmp), 8, 2_000)
        rows = [[a[0], a[1], b[1]] for a, b in zip(one, eight, strict=True)]
        print_table(["per write (us)", "1 writer", "8 writers"], rows)
        print(f"\nload average {os.getloadavg()[0]:.1f}")
        return
    if args.writers:
        with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
            result = await concurrent_throughput(Path(tmp), 8, 2_000)
        print_table(["writers", "result", "target", "ratio"], writers_rows(result, 8))
        print(f"\nload average {os.getloadavg()[0]:.1f}")
        return
    if args.ledger:
        with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
            rows = [*await ledger_cost(Path(tmp), 6, 300), *await governance_cost(Path(tmp), [10, 1_000], 200)]
            print_table(["ledger", "result", "target", "ratio"], rows)
        print("\none on / off run: on a loaded host it moves by +-5 %; `--chain 9` prints the medians of nine")
        return
    samples, writes, runs = (100, 500, 20_000) if args.quick else (400, 3_000, 100_000)
    lengths = [10, 1_000, 10_000]

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        folder = Path(tmp)
        keyed = await write_latency(folder, lengths, samples, keyed=True)
        plain = await write_latency(folder, lengths, samples, keyed=False)
        normal = await throughput(folder, writes, "normal")
        full = await throughput(folder, writes // 3, "full")
        writers = await concurrent_throughput(folder, 8, writes)
        first_page, deep_page = await listing(folder, runs, samples)
        export_s, export_text_s = await export_latency(folder, 5 if args.quick else 15)
        ledger_rows = await ledger_cost(folder, 3 if args.quick else 6, 300)
        ledger_rows += await governance_cost(folder, [10, 1_000], 100 if args.quick else 200)

    print("Write latency p50 (one write_artifact = transaction + engine + commit):\n")
    print_table(
        ["trace length", "keyed: total", "keyed: store part", "unkeyed: total", "unkeyed: store part"],
        [
            [f"{n:,}", *(ms(median(x)) for x in (keyed[n].total, keyed[n].store, plain[n].total, plain[n].store))]
            for n in lengths
        ],
    )
    print("\nTargets:\n")
    rows = [
        ratio_row("write p50 10k / 10, keyed, total", keyed, "total"),
        ratio_row("write p50 10k / 10, keyed, store part", keyed, "store"),
        ratio_row("write p50 10k / 10, unkeyed, total", plain, "total"),
        ["sequential committed writes/s, durability=normal", f"{normal:,.0f}/s", ">= 1,000/s", verdict(normal >= 1000)],
        ["sequential committed writes/s, durability=full", f"{full:,.0f}/s", "(one fsync per commit)", ""],
        [f"list_runs(limit=100) p50, {runs:,} runs, page 1", ms(first_page), "<= 10 ms", verdict(first_page <= 0.01)],
        [f"list_runs(limit=100) p50, {runs:,} runs, mid-list", ms(deep_page), "<= 10 ms", verdict(deep_page <= 0.01)],
        ["export of a 10k-event run (load + bundle + hash) p50", ms(export_s), "<= 0.5 s", verdict(export_s <= 0.5)],
        ["  ... plus its pretty JSON text (what export_bundle returns)", ms(export_text_s), "", ""],
    ]  # fmt: skip
    print_table(["measure", "result", "target", ""], [*rows, *writers_rows(writers, 8)])
    print("\nSigned ledger:\n")
    print_table(["ledger", "result", "target", "ratio"], ledger_rows)
    print(
        f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, SQLite {sqlite3.sqlite_version}, "
        f"Python {sys.version.split()[0]}; {samples} samples per p50; took {time.perf_counter() - began:.0f} s"
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio_row(label: str, results: dict[int, Latency], part: str) -> list[str]:
    ratio = median(getattr(results[10_000], part)) / median(getattr(results[10], part))
    return [label, f"{ratio:.2f}x", "<= 1.5x", verdict(ratio <= 1.5)]


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if row is header:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    asyncio.run(main())
