"""Interop: the official TypeScript MCP client (StreamableHTTPClientTransport + Authorization header)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.interop.node_process import ensure_reference_installed
from tests.servers import running_server, server_config, token
from workbench_mcp import __version__

INTEROP_DIR = Path(__file__).resolve().parent
SCRIPT = INTEROP_DIR / "mcp_ts_client.mjs"

pytestmark = pytest.mark.interop


def ensure_ts_sdk() -> str:
    return ensure_reference_installed("@modelcontextprotocol/sdk")


async def test_typescript_client_drives_the_core_tools(tmp_path: Path) -> None:
    node = ensure_ts_sdk()
    async with running_server(server_config(tmp_path)) as base:
        process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            base + "/api/mcp",
            token("ts-user", org="org_ts"),
            cwd=INTEROP_DIR,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-3000:]
    out: dict[str, Any] = json.loads(stdout)
    calls = out["calls"]
    for label, call in calls.items():
        assert call["text"] == call["structured"], label  # the text item is the same JSON

    assert out["serverVersion"] == {"name": "llm-workbench", "title": "workbench-mcp", "version": __version__}
    assert {"start_run", "get_run", "resolve_gate", "write_artifact", "export_bundle"} <= set(out["tools"])
    run_id = out["runId"]
    assert calls["start_run"]["structured"] == {
        "runId": run_id,
        "workflowId": "jobSearchWorkflow",
        "status": "running",
        "revision": 1,
    }
    assert calls["resolve_gate"]["structured"]["ok"] is True
    first, replay = calls["write_artifact"]["structured"], calls["write_artifact_replay"]["structured"]
    assert (first["version"], first["replayed"], replay["version"], replay["replayed"]) == (1, False, 1, True)
    state = calls["get_run"]["structured"]
    assert state["gateState"][0] == ["parser1", {"before": "approved", "after": "approved", "checkpoints": {}}]
    assert [e.get("correlationId") for e in state["trace"]][-2:] == ["ts-1", None]
    assert [r["id"] for r in calls["list_runs"]["structured"]["runs"]] == [run_id]
    assert calls["verify_run_integrity"]["structured"]["ok"] is True
    assert calls["validate_run_bundle"]["structured"] == {"ok": True}
    assert out["resourceBundle"] == calls["export_bundle"]["structured"]
    assert calls["unknown_run"] == {
        "isError": True,
        "structured": {"error": "No run named run_missing", "code": "UNKNOWN_RUN"},
        "text": {"error": "No run named run_missing", "code": "UNKNOWN_RUN"},
    }
    assert (calls["bad_gate"]["isError"], calls["bad_gate"]["structured"]["code"]) == (True, "INVALID_INPUT")
    assert out["anonymous"] != "connected"
