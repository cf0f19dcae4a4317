"""A writer killed with SIGKILL loses none of the writes it acknowledged, and the file stays sound."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.clocks import CountingClock
from tests.store.backends import StoreBackend
from tests.store.conftest import TENANT, create

ROOT = Path(__file__).resolve().parents[3]
ACKS_BEFORE_KILL = 300


@pytest.mark.slow
async def test_acknowledged_writes_survive_sigkill(backend: StoreBackend) -> None:
    setup = await backend.open()
    run_id = await create(setup, CountingClock())
    await setup.close()

    child = await asyncio.create_subprocess_exec(
        *backend.writer_command(run_id),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    acked: list[int] = []
    try:
        while len(acked) < ACKS_BEFORE_KILL:
            line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
            assert line, "the writer exited before it was killed"
            acked.append(int(line.split()[1]))
    finally:
        os.kill(child.pid, signal.SIGKILL)
    await child.wait()
    acked.extend(int(line.split()[1]) for line in (await child.stdout.read()).splitlines())

    assert child.returncode == -signal.SIGKILL
    reopened = await backend.open()
    state, trace = await reopened.load_run(TENANT, run_id)
    versions = [e["artifact"]["version"] for e in trace if e["type"] == "artifact_written"]
    assert acked == list(range(1, len(acked) + 1))
    assert versions[: len(acked)] == acked  # every acknowledged version, in order
    assert state.artifacts["journal"].version == len(versions)  # at most one unacknowledged write more
    assert len(versions) - len(acked) <= 1
    assert state.revision == len(trace)
    assert backend.integrity_problems() == []
