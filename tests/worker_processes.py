"""`workbench-mcp serve --workers N` as a real process tree, for tests that need several worker processes.

Plain helpers (import them): the supervisor in its own session, started with INFO logging (one audit line per
tool call, naming the process that answered) and torn down as a group.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def serving_workers(db: Path, workers: int, log_path: Path) -> AsyncIterator[tuple[str, int]]:
    """Start `serve --workers N` on `db` (its dev secret created beforehand by the caller); yields the base URL
    and the supervisor's pid once every worker runs and `/healthz` answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    command = [sys.executable, "-m", "workbench_mcp", "serve", "--port", str(port), "--db", str(db)]
    with log_path.open("wb") as log:
        server = await asyncio.create_subprocess_exec(
            *command,
            "--workers",
            str(workers),
            "--log-level",
            "INFO",
            cwd=REPO,
            env={**env, "PYTHONPATH": str(REPO)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            with anyio.fail_after(60):
                while len(worker_pids(server.pid)) < workers or not await healthy(http) or _started(log_path) < workers:
                    assert server.returncode is None, "serve --workers exited"
                    await asyncio.sleep(0.1)
        yield base, server.pid
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 30)


def _started(log: Path) -> int:
    """Workers whose app has started: /healthz answers as soon as the first one listens."""
    return log.read_text(encoding="utf-8", errors="replace").count("Application startup complete.")


def worker_pids(pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker, also a child)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in _read(task / "children").split():
            if b"spawn_main" in _read(Path(f"/proc/{child}/cmdline")).encode():
                found.append(int(child))
    return found


def _read(proc_file: Path) -> str:
    """A /proc file, or "" when its thread or process ended since the directory was listed."""
    try:
        return proc_file.read_bytes().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def audit_lines(log: Path) -> list[dict[str, Any]]:
    lines = (line for line in log.read_text(encoding="utf-8").splitlines() if line.startswith('{"event":'))
    return [json.loads(line) for line in lines]


async def healthy(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.HTTPError:
        return False
