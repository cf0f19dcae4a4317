"""`python -m bench governance`: what governance costs the hot service calls, in process on a real SQLite file.

Prints microseconds per call of next_actions, begin_step+complete_step and resolve_gate on a built-in run (no
policy: one extra indexed read of the governance side table) and on a governed run with a budget and N telemetry
events (the budget is recomputed from them). Run the same script against another checkout (PYTHONPATH) to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from workbench_mcp.commands import BeginStep, LogModelIo
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService
from workbench_mcp.store.sqlite_store import SqliteRunStore
from workbench_mcp.workflows import WorkflowCatalog

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "workflows"
WHO = Principal("org_bench", "agent")


async def _timed(calls: int, fn: object) -> float:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


async def run(calls: int, telemetry: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteRunStore(Path(folder) / "bench.db")
        await store.open()
        catalog = WorkflowCatalog.with_builtins()
        governed = EXAMPLES.exists()
        if governed:
            catalog.load_directory(EXAMPLES)
        service = RunService(store, catalog=catalog)
        try:
            plain = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
            reads = await _timed(calls, lambda: service.reads.next_actions(WHO, plain))
            print(f"next_actions, built-in run:        {reads:8.0f} us")

            async def gate_cycle() -> None:
                run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
                await service.resolve_gate(WHO, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
                await service.execute(WHO, run_id, BeginStep(step_id="parser1"))

            print(f"start+resolve_gate+begin_step:     {await _timed(calls // 4, gate_cycle):8.0f} us")
            if governed:
                run_id = (await service.start_run(WHO, "governedRelease"))["runId"]
                for _ in range(telemetry):
                    await service.execute(WHO, run_id, LogModelIo(direction="response", usage={"totalTokens": 0}))
                label = f"next_actions, budget + {telemetry} events:"
                print(f"{label:35}{await _timed(calls, lambda: service.reads.next_actions(WHO, run_id)):8.0f} us")
        finally:
            await store.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench governance", description=__doc__)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--telemetry", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(run(args.calls, args.telemetry))
    return 0
