"""Servers the benchmark scripts start: ours (`workbench-mcp serve`, temp SQLite, dev token) and the reference peer.

Both run as child processes on free loopback ports and are stopped by the scripts that started them.
The reference peer (`<harness>/peer`, see its README) is copied into `.cache/bench-peer` and installed
there with `npm ci`, because the harness directory may be read-only (or absent) where the scripts run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from workbench_mcp.auth import load_or_create_dev_secret, mint_token
from workbench_mcp.ledger.keys import SigningKey, default_key_path, write_key

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"
DEFAULT_HARNESS = REPO.parent / "shared" / "bench"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def harness_dir(explicit: str | None = None) -> Path:
    """The shared load harness (mcp_load.py + peer/): --harness, $WORKBENCH_BENCH_HARNESS, or ../shared/bench."""
    path = Path(explicit or os.environ.get("WORKBENCH_BENCH_HARNESS") or DEFAULT_HARNESS).resolve()
    if not (path / "mcp_load.py").is_file():
        raise SystemExit(f"load driver not found: {path / 'mcp_load.py'} (pass --harness DIR)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` from /proc: uvicorn's workers and multiprocessing's resource tracker."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found.extend(int(p) for p in text)
    except OSError:
        pass
    return found


def worker_pids(pid: int) -> list[int]:
    found = []
    for child in child_pids(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            pass
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} during startup")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not become healthy in {STARTUP_TIMEOUT_S:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class OurServer:
    """`python -m workbench_mcp serve` on a free port, with the dev secret beside `db_path`.

    With `database_url` (postgresql://...) the store is that database and `db_path` only names the local side
    files: the dev secret (handed to the server as WORKBENCH_JWT_SECRET) and the ledger key, so replicas given
    the same `db_path` accept the same tokens and sign with the same key; they run in `db_path`'s folder."""

    db_path: Path
    workers: int = 1
    database_url: str | None = None
    extra_args: list[str] = field(default_factory=list)
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    limit_rate: bool = False
    """Keep the per-tenant rate limit: off by default, because every script but `fairness` drives one tenant
    far above it to measure the server (fair admission stays on, as shipped)."""
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/mcp"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, user: str) -> str:
        """A bearer token for tenant `user:<user>`, signed with the server's dev secret."""
        secret, _ = load_or_create_dev_secret(self.db_path)
        return mint_token(secret, user=user, ttl_s=7 * 24 * 3600)

    def start(self) -> OurServer:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        load_or_create_dev_secret(self.db_path)  # created once, before any worker starts
        if not self.port:
            self.port = free_port()
        env, cwd, store_args = {**os.environ, **self.env}, REPO, ["--db", str(self.db_path)]
        if self.database_url is not None:
            env["WORKBENCH_JWT_SECRET"] = load_or_create_dev_secret(self.db_path)[0]
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
            key_file = default_key_path(self.db_path)
            if not key_file.exists():
                write_key(key_file, SigningKey.generate())
            cwd, store_args = self.db_path.parent, ["--db", self.database_url, "--signing-key-file", str(key_file)]
        command = [
            sys.executable,
            "-m",
            "workbench_mcp",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *store_args,
            "--workers",
            str(self.workers),
            *([] if self.limit_rate or "--rate-limit" in self.extra_args else ["--rate-limit", "0"]),
            *self.extra_args,
        ]
        log = open(self.log_path or os.devnull, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self.proc = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=cwd, start_new_session=True)
        self._log = log
        _wait_healthy(self.base_url + "/healthz", self.proc, time.monotonic() + STARTUP_TIMEOUT_S)
        if self.workers > 1:
            self._wait_workers()
        return self

    def _wait_workers(self) -> None:
        # /healthz answers as soon as the first worker listens; wait for the others to finish starting.
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline and self.proc and len(worker_pids(self.proc.pid)) < self.workers:
            time.sleep(0.1)
        time.sleep(1.0)  # their lifespans (store open) run after the process appears

    def pids(self) -> list[int]:
        """The supervisor (or the single server process) and its workers."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid, *child_pids(self.proc.pid)]

    def rss_kib(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids())

    def kill(self) -> None:
        """SIGKILL the whole process group (supervisor and workers) at once: a crash, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class PeerServer:
    """The reference peer (node:http + the published packages), in-memory store."""

    harness: Path
    store_latency_ms: int = 0
    log_path: Path | None = None
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PeerServer:
        work = install_peer(self.harness / "peer")
        env = {**os.environ, "NODE_ENV": "production"}
        if self.store_latency_ms:
            env["PEER_STORE_LATENCY_MS"] = str(self.store_latency_ms)
        err = open(self.log_path or os.devnull, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            ["node", "peer-server.mjs", "--host", "127.0.0.1", "--port", "0"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
        err.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()  # the peer prints this first, once listening
        if not line.startswith("PEER_LISTENING "):
            self.stop()
            raise RuntimeError(f"reference peer did not start (first line: {line!r})")
        self.url = line.split(" ", 1)[1]
        return self

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc is not None and self.proc.poll() is None else []

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def install_peer(source: Path) -> Path:
    """Copy the peer into .cache/bench-peer and `npm ci` there when its lock file changed."""
    work = CACHE / "bench-peer"
    files = ["package.json", "package-lock.json", "peer-server.mjs", ".npmrc"]
    digest = hashlib.sha256(b"".join((source / f).read_bytes() for f in files if (source / f).exists())).hexdigest()
    stamp = work / ".installed"
    if stamp.exists() and stamp.read_text() == digest and (work / "node_modules").is_dir():
        return work
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in files:
        if (source / name).exists():
            shutil.copyfile(source / name, work / name)  # copyfile: not the read-only mode bits
    print(f"[bench] installing the reference peer in {work} (npm ci)", file=sys.stderr, flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work, check=True)
    stamp.write_text(digest)
    return work


def run_driver(
    harness: Path, url: str, label: str, args: list[str], *, timeout_s: float = 1800
) -> list[dict[str, Any]]:
    """One invocation of the shared driver, unchanged; returns its JSON lines (error samples go to stderr)."""
    command = [sys.executable, str(harness / "mcp_load.py"), "--url", url, "--server", label, *args]
    done = subprocess.run(command, stdout=subprocess.PIPE, timeout=timeout_s, check=False)
    lines = []
    for raw in done.stdout.decode().splitlines():
        raw = raw.strip()
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def latency_line(seconds: list[float]) -> str:
    """`p50 / p99 / max` in milliseconds, for the few-trial latency scripts (wait, listen)."""
    ms = sorted(x * 1000 for x in seconds)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return f"  p50 {statistics.median(ms):6.0f} ms   p99 {p99:6.0f} ms   max {ms[-1]:6.0f} ms"
