"""Run the real TypeScript reference under Node as a JSON-lines oracle.

A script in this folder reads one JSON request per line on stdin and answers one JSON line on
stdout. One process serves a whole test session, so thousands of comparisons run in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

INTEROP_DIR = Path(__file__).resolve().parent


def _missing(reason: str) -> None:
    # In CI a missing dependency is a failure, never a silent skip.
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"interop dependency missing in CI: {reason}")
    pytest.skip(reason)


def ensure_reference_installed(package: str = "@llm-workbench/runtime") -> str:
    """Return the node executable, installing tests/interop/node_modules when `package` is missing."""
    node = shutil.which("node")
    if node is None:
        _missing("node is not on PATH")
        raise AssertionError("unreachable")
    if not (INTEROP_DIR / "node_modules" / package).is_dir():
        npm = shutil.which("npm")
        if npm is None:
            _missing("npm is not on PATH")
        subprocess.run([npm or "npm", "ci", "--no-audit", "--no-fund"], cwd=INTEROP_DIR, check=True)
    return node


class NodeOracle:
    """One long-lived `node <script>` speaking JSON lines."""

    def __init__(self, script: str) -> None:
        node = ensure_reference_installed()
        self._proc = subprocess.Popen(
            [node, str(INTEROP_DIR / script)],
            cwd=INTEROP_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )

    def ask(self, request: Any) -> Any:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request, ensure_ascii=True) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"node oracle exited with {self._proc.wait()}")
        return json.loads(line)

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
