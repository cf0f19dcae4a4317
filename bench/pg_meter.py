"""The PostgreSQL columns of `python -m bench compare`: a throwaway cluster (tests/postgres_cluster.py), and what
a replica and the database spend per call, so the README can size N replicas.

Measured per PostgreSQL column over the scenario rounds (not the growth run): the CPU time of each replica's
process (from /proc), the database's CPU (the postmaster and its backends, reaped ones included), the calls the
driver made, and `xact_commit` of the column's own database in pg_stat_database. The calls count the driver's
setup calls too (list_runs first starts 1,000 runs, export_bundle writes a 200-event run, ...: `setup_calls`,
from mcp_load.py's scenarios and the settings `DRIVER_SETTINGS` pins), since they cost CPU and commits like any.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.servers import OurServer, cpu_seconds

STATS_FLUSH_S = 11.0
"""PostgreSQL 15 backends report their commits to pg_stat_database when idle, at the latest after 10 s."""


LIST_RUNS, GATE_POOL, EXPORT_EVENTS = 1000, 50, 200
DRIVER_SETTINGS = ["--list-runs", str(LIST_RUNS), "--gate-pool", str(GATE_POOL), "--export-events", str(EXPORT_EVENTS)]
"""The driver's defaults, passed explicitly so that `setup_calls` counts what the driver really does."""
HANDSHAKE_CALLS = 2
"""initialize and notifications/initialized, per client (one per scenario and concurrency level)."""


def setup_calls(line: dict[str, Any], first: bool) -> int:
    """Calls the driver made besides the measured ones for this JSON line (`first`: the invocation's first line;
    list_runs and export_bundle set up once per invocation)."""
    scenario, concurrency = line.get("scenario"), int(line.get("concurrency") or 1)
    per_level = {
        "get_run": 7,  # start_run, 5 writes, get_run
        "list_runs": 1,  # the probe
        "write_artifact": 2,
        "write_artifact_spread": 2 * concurrency,
        "resolve_gate": GATE_POOL,
        "correctness": 3,  # start_run, get_run, export_bundle
    }.get(str(scenario), 0)
    once = {"list_runs": LIST_RUNS, "export_bundle": EXPORT_EVENTS + 3}.get(str(scenario), 0) if first else 0
    return HANDSHAKE_CALLS + per_level + once


def cluster_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds of the cluster: the postmaster, its live children and the children it has reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    reaped = (int(fields[13]) + int(fields[14])) / ticks  # cutime, cstime
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.extend(int(p) for p in (task / "children").read_text().split())
    live = 0.0
    for child in children:
        with contextlib.suppress(OSError):  # a backend that just exited: counted in `reaped` from now on
            live += cpu_seconds([child])
    return cpu_seconds([pid]) + reaped + live


def commits(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()
    return int(row[0]) if row else 0


@dataclass
class Meter:
    """One PostgreSQL column: its replicas, its database, and the totals measured around its driver runs."""

    label: str
    replicas: list[OurServer]
    url: str
    data_dir: Path
    calls: int = 0
    seconds: float = 0.0
    replica_cpu: list[float] = field(default_factory=list)
    db_cpu: float = 0.0
    commits_at_start: int = 0
    commits_at_end: int = 0

    def begin(self) -> None:
        self.replica_cpu = [0.0] * len(self.replicas)
        self.commits_at_start = commits(self.url)

    def measure(self, run: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        before = [cpu_seconds(r.pids()) for r in self.replicas], cluster_cpu_seconds(self.data_dir), time.monotonic()
        lines = run()
        self.seconds += time.monotonic() - before[2]
        self.db_cpu += cluster_cpu_seconds(self.data_dir) - before[1]
        for i, replica in enumerate(self.replicas):
            self.replica_cpu[i] += cpu_seconds(replica.pids()) - before[0][i]
        self.calls += sum(int(line.get("requests") or 0) + setup_calls(line, i == 0) for i, line in enumerate(lines))
        return lines

    def end(self) -> None:
        self.commits_at_end = commits(self.url)


def render_estimates(meters: list[Meter]) -> str:
    """The sizing table and how to read it."""
    out = [
        "",
        "PostgreSQL sizing (scenario rounds, not growth; calls include the driver's setup calls):",
        "",
        "| server | replicas | calls | server CPU ms/call, per replica | DB CPU ms/call | DB commits/call "
        "| DB commits/s while driven |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in meters:
        if not m.calls or not m.seconds:
            continue
        per = " / ".join(f"{cpu * 1000 / m.calls:.2f}" for cpu in m.replica_cpu)
        total = sum(m.replica_cpu) * 1000 / m.calls
        made = m.commits_at_end - m.commits_at_start
        cells = [m.label, str(len(m.replicas)), f"{m.calls:,}", f"{per} (sum {total:.2f})"]
        cells += [f"{m.db_cpu * 1000 / m.calls:.2f}", f"{made / m.calls:.2f}", f"{made / m.seconds:,.0f}"]
        out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        "Replica scaling cannot show on this box: the replicas, the database and the driver share its cores. "
        "Read the table as costs. Each call lands on one replica and costs it the column's summed server CPU "
        "(one core of a replica serves about 1000 / that many calls/s); N replicas serving R calls/s each ask the "
        "database for N x R x (commits/call) commits/s and N x R x (DB CPU ms/call) ms of its CPU per second.",
    ]
    return "\n".join(out)
