"""Side-by-side benchmark: our server and the reference peer through the shared driver, in one run.

    python -m bench compare                 # the README's numbers: about 15 minutes on 2 cores
    python -m bench compare --quick         # smoke run: fewer requests, short growth, about 3 minutes
    python -m bench compare --duration 4    # 4 s per cell instead of 300 requests: steadier ratios

Starts the reference peer (in-memory store), a second peer whose store waits 2 ms per call (for
`correctness` only, like ../shared/bench/run_peer.sh), our server once per `--workers` value
(temp SQLite DB, dev token, durable writes) and, unless --no-pg, on a throwaway PostgreSQL cluster
(tests/postgres_cluster.py; fsync off, which like SQLite's synchronous=NORMAL survives a killed process,
not power loss): `ours-pg`, one replica of one process, `ours-pg-2`, two separate one-process `serve`s on
two ports over one database behind a round-robin TCP balancer (bench/balancer.py) that spreads the driver's
clients over both, and `ours-pg-auto`, one replica as shipped (`serve`'s default `--workers auto`: one
process per usable CPU, so the replica uses the machine's cores as a deployed one would). Then, scenario by
scenario, runs the unchanged driver (`mcp_load.py`) against each server
in turn, so a change in machine load hits every server alike, and prints markdown tables with ratios
(ours / reference), then the sizing table of bench/pg_meter.py (server CPU per call per replica, DB
commits/s). Raw JSON lines: --out FILE.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.balancer import RoundRobinBalancer
from bench.pg_meter import DRIVER_SETTINGS, STATS_FLUSH_S, Meter, render_estimates
from bench.servers import OurServer, PeerServer, harness_dir, load_average, run_driver
from workbench_mcp.config import auto_workers

SCENARIOS = [
    "ping",
    "get_run",
    "list_runs",
    "start_run",
    "write_artifact",
    "write_artifact_spread",
    "resolve_gate",
    "export_bundle",
    "correctness",
]
REFERENCE = "reference"


@dataclass
class Target:
    label: str
    url: str
    auth: list[str]  # driver arguments naming the tenant(s)
    list_user: str | None = None
    server: OurServer | None = None
    """The server (a replica) that mints this target's tokens."""


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench compare", description=__doc__.splitlines()[0])
    p.add_argument("--harness", help="directory of mcp_load.py and peer/ (default ../shared/bench)")
    p.add_argument(
        "--workers",
        default="1,2",
        help="our server's worker counts to measure (default 1,2; serve's own default, auto, is one per CPU)",
    )
    p.add_argument("--requests", type=int, default=300, help="requests per scenario and level (default 300)")
    p.add_argument(
        "--duration",
        type=float,
        help="seconds per scenario and level instead of --requests (the driver's own --duration): at c=8 300 requests "
        "take well under a second, so connection set-up and warm-up weigh on them",
    )
    p.add_argument("--concurrency", default="1,8")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma list (growth is separate)")
    p.add_argument("--growth-targets", default="10,1000,5000,10000")
    p.add_argument("--growth-max-seconds", type=float, default=480.0)
    p.add_argument("--no-growth", action="store_true")
    p.add_argument("--race-latency-ms", type=int, default=2, help="store delay of the second peer (0: skip it)")
    p.add_argument("--rounds", type=int, default=3, help="measure every scenario this often; report the median")
    p.add_argument("--quick", action="store_true", help="1 round of 100 requests, growth to 1000 events")
    p.add_argument("--out", type=Path, help="append the driver's JSON lines to this file")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (databases, server logs)")
    p.add_argument(
        "--no-pg", action="store_true", help="skip the PostgreSQL columns (ours-pg, ours-pg-2, ours-pg-auto)"
    )
    args = p.parse_args(argv)
    if args.duration is not None and not 0 < args.duration <= 3600:
        p.error("--duration must be in (0, 3600] seconds")
    if args.quick:
        args.requests = min(args.requests, 100)
        args.rounds = 1
        args.growth_targets = "10,500,1000"
    return args


def _amount(args: argparse.Namespace) -> str:
    return f"{args.duration:g} s" if args.duration else f"{args.requests} requests"


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    harness = harness_dir(args.harness)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="wb-compare-"))
    started_at = time.monotonic()
    load_before = load_average()
    servers: list[OurServer | PeerServer] = []
    lines: list[dict[str, Any]] = []
    meters: dict[str, Meter] = {}
    balancers: list[RoundRobinBalancer] = []
    cluster: Any = None
    try:
        peer = PeerServer(harness, log_path=tmp / "peer.log").start()
        servers.append(peer)
        targets = [Target(REFERENCE, peer.url, [])]
        for n in workers:
            ours = OurServer(tmp / f"w{n}" / "bench.db", workers=n, log_path=tmp / f"ours-w{n}.log").start()
            servers.append(ours)
            targets.append(Target(f"ours-w{n}", ours.url, ["--token", ours.token("bench")], "bench-list", ours))
        if not args.no_pg:
            from tests.postgres_cluster import start_cluster  # the tests' throwaway cluster, reused

            cluster = start_cluster()
            targets += _postgres_targets(cluster, tmp, servers, balancers, meters)
        print(f"[compare] servers up; load average {load_before}; logs in {tmp}", file=sys.stderr, flush=True)

        amount = ["--duration", f"{args.duration:g}"] if args.duration else ["--requests", str(args.requests)]
        common = [*amount, "--concurrency", args.concurrency, *DRIVER_SETTINGS]
        race: PeerServer | None = None
        if args.race_latency_ms and "correctness" in scenarios:
            race = PeerServer(harness, store_latency_ms=args.race_latency_ms, log_path=tmp / "peer-race.log").start()
            servers.append(race)
        for round_no in range(args.rounds):
            # Every round runs each scenario against every server back to back, the first server
            # rotating, so a burst of machine load lands on all of them; tables use the median round.
            order = targets[round_no % len(targets) :] + targets[: round_no % len(targets)]
            for scenario in scenarios:
                for target in order:
                    extra = list(target.auth)
                    if scenario == "list_runs" and target.list_user and target.server is not None:
                        extra += ["--list-token", target.server.token(f"{target.list_user}-{round_no}")]
                    drive = [*common, "--scenarios", scenario, *extra]
                    meter = meters.get(target.label)
                    if meter is None:
                        got = run_driver(harness, target.url, target.label, drive)
                    else:
                        got = meter.measure(partial(run_driver, harness, target.url, target.label, drive))
                    lines.extend({**line, "round": round_no} for line in got)
                    _echo(got)
            if race is not None:
                label = f"{REFERENCE}+store{args.race_latency_ms}ms"
                got = run_driver(harness, race.url, label, [*common, "--scenarios", "correctness"])
                lines.extend({**line, "round": round_no} for line in got)
                _echo(got)
        if meters:
            time.sleep(STATS_FLUSH_S)  # until every backend has reported its commits
            for meter in meters.values():
                meter.end()
        if not args.no_growth:
            for target in targets:
                growth = [
                    "--scenarios",
                    "growth",
                    "--growth-targets",
                    args.growth_targets,
                    "--growth-max-seconds",
                    str(args.growth_max_seconds),
                    *target.auth,
                ]
                got = run_driver(harness, target.url, target.label, growth)
                lines.extend(got)
                _echo(got)
    finally:
        for balancer in balancers:
            balancer.stop()
        for server in servers:
            server.stop()
        if cluster is not None:
            cluster.destroy()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    load_after = load_average()
    if args.out:
        with args.out.open("a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line) + "\n")
    labels = [REFERENCE, *(f"ours-w{n}" for n in workers), *meters]
    print(
        render(
            lines,
            labels,
            command="python -m bench compare " + " ".join(sys.argv[2:] if argv is None else argv),
            load=(load_before, load_after),
            seconds=time.monotonic() - started_at,
            note=f"calls/s and latencies: the median of {args.rounds} round(s) of {_amount(args)} per cell",
        )
    )
    if meters:
        print(render_estimates(list(meters.values())))
    failed = [line for line in lines if "failed" in line]
    return 1 if failed else 0


def _postgres_targets(
    cluster: Any,
    tmp: Path,
    servers: list[OurServer | PeerServer],
    balancers: list[RoundRobinBalancer],
    meters: dict[str, Meter],
) -> list[Target]:
    """`ours-pg` (one replica), `ours-pg-2` (two replicas behind the balancer) and `ours-pg-auto` (one replica with
    serve's default worker count), each on a database of its own;
    every replica shares one dev secret and ledger key (`side`), so a token works on either."""
    side = tmp / "pg" / "side.db"
    found: list[Target] = []
    for label, count, workers in (("ours-pg", 1, 1), ("ours-pg-2", 2, 1), ("ours-pg-auto", 1, auto_workers())):
        url = cluster.new_database(label.replace("-", "_"))
        replicas = [
            OurServer(side, workers=workers, database_url=url, log_path=tmp / f"{label}-r{i + 1}.log").start()
            for i in range(count)
        ]
        servers.extend(replicas)
        endpoint = replicas[0].url
        if count > 1:
            balancer = RoundRobinBalancer([("127.0.0.1", r.port) for r in replicas]).start()
            balancers.append(balancer)
            endpoint = balancer.url()
        meters[label] = Meter(label, replicas, url, cluster.data)
        meters[label].begin()
        found.append(Target(label, endpoint, ["--token", replicas[0].token("bench")], "bench-list", replicas[0]))
    return found


def _echo(lines: list[dict[str, Any]]) -> None:
    for line in lines:
        brief = {k: line.get(k) for k in ("server", "scenario", "concurrency", "calls_per_s", "p50_ms", "errors")}
        if "failed" in line:
            brief["failed"] = line["failed"]
        print(f"[compare] {json.dumps(brief)}", file=sys.stderr, flush=True)


# --- tables -------------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(ours: Any, ref: Any) -> str:
    if not ours or not ref:
        return "—"
    return f"{ours / ref:.2f}x"


def render(
    lines: list[dict[str, Any]],
    labels: list[str],
    *,
    command: str,
    load: tuple[str, str],
    seconds: float,
    note: str = "",
) -> str:
    by = _median_rounds(lines)
    ours = [label for label in labels if label != REFERENCE]
    out: list[str] = []
    out.append(f"`{command.strip()}` — {platform.node()}, {_cores()} cores, Python {platform.python_version()}, ")
    out.append(f"load average (1/5/15 min) {load[0]} before, {load[1]} after; {seconds / 60:.1f} min in all.")
    if note:
        out.append(note + ".")
    out.append("")
    header = ["scenario", "c", "reference calls/s"]
    for label in ours:
        header += [f"{label} calls/s", "ratio"]
    short = " / ".join(_short(label) for label in ours)
    header += [f"p50 ms ref / {short}", f"p99 ms ref / {short}", f"errors ref / {short}"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    rows = sorted(
        {(s, c) for (_, s, c) in by if s not in ("growth",)},
        key=lambda sc: (SCENARIOS.index(sc[0]) if sc[0] in SCENARIOS else 99, sc[1]),
    )
    for scenario, conc in rows:
        ref = by.get((REFERENCE, scenario, conc), {})
        cells = [scenario, str(conc), _num(ref.get("calls_per_s"))]
        p50 = [_num(ref.get("p50_ms"), 1)]
        p99 = [_num(ref.get("p99_ms"), 1)]
        errors = [ref.get("errors", 0) or 0]
        for label in ours:
            line = by.get((label, scenario, conc), {})
            cells += [_num(line.get("calls_per_s")), _ratio(line.get("calls_per_s"), ref.get("calls_per_s"))]
            p50.append(_num(line.get("p50_ms"), 1))
            p99.append(_num(line.get("p99_ms"), 1))
            errors.append(line.get("errors", 0) or 0)
        cells += [" / ".join(p50), " / ".join(p99), " / ".join(str(e) for e in errors)]
        out.append("| " + " | ".join(cells) + " |")
    failed = [x for x in lines if "failed" in x]
    for x in failed:
        out.append(f"\nFAILED: {x['server']} {x['scenario']} c={x['concurrency']}: {x['failed']}")

    correctness: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for x in lines:
        if x["scenario"] == "correctness" and "failed" not in x:
            correctness.setdefault((x["server"], x["concurrency"]), []).append(x)
    if correctness:
        out += ["", "| correctness (all rounds) | c | rounds | writes expected | acked | lost updates | all ok |"]
        out.append("|---|---|---|---|---|---|---|")
        for (server, conc), runs in sorted(correctness.items()):
            row: list[object] = [
                server,
                conc,
                len(runs),
                sum(r.get("expected", 0) for r in runs),
                sum(r.get("acked", 0) for r in runs),
            ]
            row += [sum(r.get("lost_updates", 0) for r in runs), all(r.get("ok") for r in runs)]
            out.append("| " + " | ".join(str(c) for c in row) + " |")

    growth = [x for x in lines if x["scenario"] == "growth" and "windows" in x]
    if growth:
        targets = [w["target"] for w in growth[0]["windows"]]
        header = ["growth (write p50 / mean ms)", *(f"{t:,} events" for t in targets)]
        header += [f"p50 {targets[-1]:,} / p50 {targets[0]}", "completed", "seconds"]
        out += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for x in sorted(growth, key=lambda x: labels.index(x["server"]) if x["server"] in labels else 99):
            windows = x["windows"]
            cells = [x["server"]] + [f"{_num(w['p50_ms'], 2)} / {_num(w['mean_ms'], 2)}" for w in windows]
            first, last = windows[0].get("p50_ms"), windows[-1].get("p50_ms")
            cells += [_ratio(last, first), str(x.get("completed")), _num(x.get("seconds"), 0)]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _median_rounds(lines: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Per (server, scenario, concurrency): the round with the median calls/s (a failed round counts as 0)."""
    rounds: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for x in lines:
        rounds.setdefault((x["server"], x["scenario"], x["concurrency"]), []).append(x)
    chosen = {}
    for key, measured in rounds.items():
        ordered = sorted(measured, key=lambda x: x.get("calls_per_s") or 0.0)
        chosen[key] = ordered[(len(ordered) - 1) // 2]
    return chosen


def _short(label: str) -> str:
    return label.replace("ours-", "")


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
