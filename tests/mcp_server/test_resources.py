"""Resources: run bundles and workflows, listed per tenant with cursor pagination."""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp_server.conftest import ClientFactory
from tests.mcp_server.scenario import caller
from workbench_mcp.mcp_server.resources import RESOURCE_PAGE_SIZE
from workbench_mcp.mcp_server.run_view import RUN_VIEW_URI


async def test_resource_listing_is_paginated_per_tenant(local_client: ClientFactory) -> None:
    async with local_client("acme") as acme:
        call = caller(acme)
        run_ids = [(await call("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"] for _ in range(105)]
        first = await acme.list_resources()
        second = await acme.list_resources(cursor=first.next_cursor)
    async with local_client("globex") as globex:
        other = await globex.list_resources()
    first_runs = [str(r.uri) for r in first.resources if str(r.uri).startswith("runs://")]
    second_runs = [str(r.uri) for r in second.resources]
    assert next(str(r.uri) for r in first.resources) == "workflows://jobSearchWorkflow"
    assert len(first_runs) == RESOURCE_PAGE_SIZE
    assert first.next_cursor is not None
    assert second.next_cursor is None
    assert sorted(first_runs + second_runs) == sorted(f"runs://{r}" for r in run_ids)
    assert [str(r.uri) for r in other.resources] == ["workflows://jobSearchWorkflow", RUN_VIEW_URI]
    resource = first.resources[2]
    assert resource.mime_type == "application/json"
    assert resource.description == f"LLM Workbench run bundle for {resource.name}"


async def test_bad_resource_cursor_is_invalid_params(local_client: ClientFactory) -> None:
    async with local_client() as client:
        with pytest.raises(MCPError) as refused:
            await client.list_resources(cursor="not-a-cursor")
    assert refused.value.error.data == {"code": "INVALID_INPUT"}


async def test_templates_and_workflow_resource(local_client: ClientFactory) -> None:
    async with local_client() as client:
        templates = await client.list_resource_templates()
        contents = await client.read_resource("workflows://jobSearchWorkflow")
        with pytest.raises(MCPError) as missing:
            await client.read_resource("workflows://nope")
    assert {t.uri_template for t in templates.resource_templates} == {"runs://{runId}", "workflows://{workflowId}"}
    document = json.loads(contents.contents[0].text)  # type: ignore[union-attr]
    assert document["workflow"]["id"] == "jobSearchWorkflow"
    assert [rs["id"] for rs in document["ruleSets"]] == ["default"]
    assert missing.value.error.data == {"code": "UNKNOWN_WORKFLOW", "uri": "workflows://nope"}
