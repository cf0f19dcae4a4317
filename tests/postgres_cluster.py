"""A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, a free port, its unix socket
in that directory, fsync off (nothing here must survive a power cut), stopped and deleted at the end.

The server refuses to run as root and CI runs as root, so as root every server command runs as the
`postgres` system user (`runuser`); otherwise as the current user. Debian's `postgresql` package
provides the binaries; when they are missing and we are root, `apt-get` installs it (as .ci/run does).
With CI=true a server that still cannot be found fails the test; elsewhere it skips it.

One cluster per test session (`postgres_cluster` in tests/conftest.py); each user takes a fresh
database of its own (`new_database`), so tests never see each other's rows. Fault tests stop and
start the same cluster (`stop`, `start`, `restart`) to simulate a database crash.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

PACKAGE = "postgresql"
"""Debian's current PostgreSQL (15 on bookworm); the binaries land in /usr/lib/postgresql/<major>/bin."""


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if found:
        return Path(found[-1])
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _install() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", PACKAGE], check=True, env=env, capture_output=True)


def find_postgres() -> Path:
    """The server's bin directory, installing Debian's package first if we can (root with apt-get)."""
    found = _bin_dir()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        with contextlib.suppress(subprocess.CalledProcessError):
            _install()
        found = _bin_dir()
    if found is not None:
        return found
    reason = "PostgreSQL is not installed (apt-get install -y postgresql)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """One running cluster; `url(name)` names a database on it, `new_database()` creates a fresh one."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "log"
        self.port = free_port()
        self.user = "postgres"
        self._names = itertools.count(1)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.folder, user="postgres")
        else:
            self.user = os.environ.get("USER", "postgres")

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{log[-2000:]}")

    def init(self) -> None:
        # C locale: text sorts by code point, as in SQLite, so listings order the same on both backends.
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "--locale=C", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`mode="immediate"`: a crash (no shutdown checkpoint; recovery replays the WAL on the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "wb") -> str:
        """A fresh, empty database; its URL."""
        name = f"{prefix}_{next(self._names)}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    cluster = PostgresCluster(find_postgres())
    try:
        cluster.init()
    except BaseException:
        cluster.destroy()
        raise
    return cluster
