"""Every tool call writes one structured audit line: who, which tool and run, outcome, latency; never payloads."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pytest

from tests.mcp_server.conftest import ClientFactory
from tests.mcp_server.scenario import caller


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "workbench_mcp.audit"]


async def test_one_line_per_call_with_outcome_and_no_payload(
    local_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workbench_mcp.audit")
    secret_data = {"resumeText": "very private resume"}
    async with local_client("user:alice") as client:
        run_id = (await caller(client)("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        await client.call_tool(
            "write_artifact",
            {"runId": run_id, "artifactKey": "cv", "typeId": "t", "data": secret_data, "correlationId": "c-9"},
        )
        await client.call_tool("get_run", {"runId": "run_nope"})
        await client.call_tool("list_runs", {"limit": 0})
    lines = audit_lines(caplog)
    assert [(line["tool"], line["outcome"]) for line in lines] == [
        ("start_run", "OK"),
        ("write_artifact", "OK"),
        ("get_run", "UNKNOWN_RUN"),
        ("list_runs", "INVALID_INPUT"),
    ]
    assert lines[0]["runId"] == run_id  # taken from the result when the call created the run
    assert lines[1] | {"latencyMs": 0, "pid": 0} == {
        "event": "tool_call",
        "tenant": "user:alice",
        "principal": "alice",
        "tool": "write_artifact",
        "runId": run_id,
        "correlationId": "c-9",
        "outcome": "OK",
        "latencyMs": 0,
        "pid": 0,
    }
    assert {line["pid"] for line in lines} == {os.getpid()}
    assert all(isinstance(line["latencyMs"], float | int) and line["latencyMs"] >= 0 for line in lines)
    assert "private resume" not in caplog.text
