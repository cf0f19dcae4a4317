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
WRITERS = 8


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


@pytest.mark.slow
async def test_acknowledged_writes_of_concurrent_writers_survive_sigkill(backend: StoreBackend) -> None:
    """Eight writers on eight runs in one process (whose writes a store may commit together, one
    transaction for several): every acknowledged write of every run is there after SIGKILL."""
    setup = await backend.open()
    clock = CountingClock()
    runs = [await create(setup, clock) for _ in range(WRITERS)]
    await setup.close()

    # The backend's command for one run; the writer takes more run ids after it.
    child = await asyncio.create_subprocess_exec(
        *backend.writer_command(runs[0]), *runs[1:], cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    lines: list[bytes] = []
    try:
        while len(lines) < ACKS_BEFORE_KILL:
            line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
            assert line, "the writer exited before it was killed"
            lines.append(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
    await child.wait()
    lines.extend((await child.stdout.read()).splitlines())
    acked: dict[str, list[int]] = {run_id: [] for run_id in runs}
    for line in lines:
        _, version, acked_id = line.split()
        acked[acked_id.decode()].append(int(version))

    assert child.returncode == -signal.SIGKILL
    assert sum(len(v) for v in acked.values()) >= ACKS_BEFORE_KILL
    reopened = await backend.open()
    for run_id in runs:
        state, trace = await reopened.load_run(TENANT, run_id)
        versions = [e["artifact"]["version"] for e in trace if e["type"] == "artifact_written"]
        assert acked[run_id] == list(range(1, len(acked[run_id]) + 1))
        assert versions[: len(acked[run_id])] == acked[run_id]  # every acknowledged version, in order
        assert len(versions) - len(acked[run_id]) <= 1  # at most the one write in flight, unacknowledged
        assert state.revision == len(trace)
    assert backend.integrity_problems() == []
