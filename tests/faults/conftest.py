"""Helpers for the fault tests: raw JSON-RPC tool calls over HTTP, and a server in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.servers import SECRET, free_port, token

ROOT = Path(__file__).resolve().parents[2]
MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


def auth_headers(user: str = "alice") -> dict[str, str]:
    return {**MCP_HEADERS, "Authorization": f"Bearer {token(user)}"}


async def call_tool(
    http: httpx.AsyncClient, name: str, arguments: dict[str, Any], user: str = "alice"
) -> dict[str, Any]:
    """tools/call -> {"isError": bool, "body": structuredContent}; transport errors raise."""
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    response = await http.post("/api/mcp", json=request, headers=auth_headers(user))
    response.raise_for_status()
    result = response.json()["result"]
    return {"isError": bool(result.get("isError")), "body": result["structuredContent"]}


# A launcher instead of preexec_fn: set the file-size limit, ignore SIGXFSZ (so a write past the
# limit fails with EFBIG instead of killing the process), then run the CLI as `python -m` would.
_LAUNCHER = """
import resource, runpy, signal, sys
limit = int(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["workbench-mcp", *sys.argv[2:]]
runpy.run_module("workbench_mcp", run_name="__main__")
"""


@contextmanager
def server_process(db_path: Path, *, file_size_limit: int) -> Iterator[str]:
    """`workbench-mcp serve` in a child process whose files may not grow beyond `file_size_limit` bytes."""
    secret_file = db_path.with_name("secret")
    secret_file.write_text(SECRET)
    secret_file.chmod(0o600)  # serve refuses a secret other users could read
    port = free_port()
    command = [
        sys.executable, "-c", _LAUNCHER, str(file_size_limit),
        "serve", "--port", str(port), "--db", str(db_path), "--jwt-secret-file", str(secret_file),
        "--log-level", "WARNING",
    ]  # fmt: skip
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, child)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stderr is not None:
            child.stderr.close()


def _wait_healthy(url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            stderr = child.stderr.read().decode() if child.stderr else ""
            raise RuntimeError(f"server exited with {child.returncode}: {stderr[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not become healthy within 30 s")


def big_payload(kib: int) -> dict[str, str]:
    return {"blob": json.dumps(list(range(kib * 1024 // 6)))[: kib * 1024]}
