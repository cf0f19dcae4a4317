"""The whole reference workflow through the official Python client, over Streamable HTTP with a bearer token."""

from __future__ import annotations

import json

import pytest

from tests.mcp_server.conftest import ClientFactory
from tests.mcp_server.scenario import caller, run_job_search
from workbench_mcp import __version__
from workbench_mcp.protocol.canonical_json import pretty_json


@pytest.mark.parametrize("path", ["/api/mcp", "/mcp"])
async def test_job_search_run_end_to_end(http_client: ClientFactory, path: str) -> None:
    async with http_client("alice", path=path) as client:
        outcome = await run_job_search(caller(client))
        # The run resource is the same bundle, pretty-printed like the export tool's text item.
        contents = await client.read_resource(f"runs://{outcome['runId']}")
    text = contents.contents[0].text  # type: ignore[union-attr]
    assert json.loads(text) == outcome["bundle"]
    assert text == pretty_json(outcome["bundle"])


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_both_protocol_eras_work(http_client: ClientFactory, mode: str, version: str) -> None:
    """2026-07-28 (per-request, no handshake) and the 2025-11-25 initialize handshake, on the same endpoint."""
    async with http_client("bob", mode=mode) as client:
        assert client.protocol_version == version
        assert client.server_info is not None
        assert (client.server_info.name, client.server_info.version) == ("llm-workbench", __version__)
        started = await caller(client)("start_run", {"workflowId": "jobSearchWorkflow"})
        again = await caller(client)("get_run", {"runId": started["runId"]})
    assert again["revision"] == 1
