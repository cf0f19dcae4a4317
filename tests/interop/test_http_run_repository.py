"""Interop: the real TypeScript HttpRunRepository (@llm-workbench/runtime 0.3.3) against our REST API.

A run crosses the boundary twice: started in the TS runtime and saved to us, continued through our MCP
tools, loaded back into TS and finished there; both sides then export it and the hashes must agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.node_process import NodeOracle
from tests.mcp_server.scenario import caller
from tests.servers import mcp_client, running_server, server_config, token
from workbench_mcp.protocol.reference_workflow import DEFAULT_RULE_SET, JOB_SEARCH_WORKFLOW

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def repository_driver() -> Iterator[NodeOracle]:
    oracle = NodeOracle("http_repository.mjs")
    yield oracle
    oracle.close()


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    async with running_server(server_config(tmp_path)) as url:
        yield url


async def ask(driver: NodeOracle, request: dict[str, Any]) -> dict[str, Any]:
    # The oracle blocks on a pipe; our server runs in this event loop and must keep serving meanwhile.
    answer: dict[str, Any] = await asyncio.to_thread(driver.ask, request)
    assert "error" not in answer, answer
    return answer


def job_search(base_url: str, bearer: str) -> dict[str, Any]:
    return {"baseUrl": base_url, "token": bearer, "workflow": JOB_SEARCH_WORKFLOW, "ruleSets": [DEFAULT_RULE_SET]}


async def test_save_load_list_delete_round_trip(base_url: str, repository_driver: NodeOracle) -> None:
    out = await ask(repository_driver, {"op": "roundtrip", **job_search(base_url, token("ts-user", org="org_ts"))})
    assert out["loadedEqual"] is True
    assert out["listed"] is True
    meta = out["listedMeta"]
    assert meta["id"] == out["runId"]
    assert (meta["workflowId"], meta["status"], meta["tags"]) == ("jobSearchWorkflow", "running", ["interop"])
    assert out["goneAfterDelete"] is True


async def test_a_run_crosses_between_typescript_and_our_tools_and_hashes_agree(
    base_url: str, repository_driver: NodeOracle
) -> None:
    bearer = token("ts-user", org="org_ts")
    started = await ask(repository_driver, {"op": "start", **job_search(base_url, bearer)})
    run_id = started["runId"]

    async with mcp_client(base_url + "/api/mcp", bearer) as client:
        call = caller(client)
        state = await call("get_run", {"runId": run_id})
        assert state["revision"] == started["revision"]
        assert dict(state["gateState"])["parser1"]["before"] == "approved"
        revision = state["revision"]
        # Our tools continue the run TS saved, with optimistic concurrency on the first write.
        assert (await call("begin_step", {"runId": run_id, "stepId": "parser1", "expectedRevision": revision}))["ok"]
        await call(
            "write_artifact",
            {"runId": run_id, "artifactKey": "compiledProfile", "typeId": "compiledProfile", "data": {"h": "x"}},
        )
        await call("complete_step", {"runId": run_id, "stepId": "parser1"})
        assert (await call("begin_step", {"runId": run_id, "stepId": "jobSearcher"}))["ok"]
        await call(
            "write_artifact",
            {"runId": run_id, "artifactKey": "potentialJobs", "typeId": "potentialJobs", "data": [{"t": "a"}]},
        )
        await call("complete_step", {"runId": run_id, "stepId": "jobSearcher"})
        continued = await call("get_run", {"runId": run_id})

    finished = await ask(repository_driver, {"op": "finish", "baseUrl": base_url, "token": bearer, "runId": run_id})
    assert finished["revisionLoaded"] == continued["revision"]
    assert finished["status"] == "completed"
    assert finished["revisionSaved"] == continued["revision"] + 5  # gate, step start, artifact, step done, run done

    async with mcp_client(base_url + "/api/mcp", bearer) as client:
        call = caller(client)
        final = await call("get_run", {"runId": run_id})
        bundle = await call("export_bundle", {"runId": run_id})
    assert final["revision"] == finished["revisionSaved"]
    assert [e["type"] for e in final["trace"]] == finished["traceTypes"]
    assert bundle["integrity"]["sha256"] == finished["sha256"]
    assert (await ask(repository_driver, {"op": "verify", "bundle": bundle}))["verified"] is True


async def test_another_tenant_cannot_load_the_run(base_url: str, repository_driver: NodeOracle) -> None:
    started = await ask(repository_driver, {"op": "start", **job_search(base_url, token("ts-user", org="org_ts"))})
    async with mcp_client(base_url + "/api/mcp", token("intruder", org="org_other")) as client:
        result = await client.call_tool("get_run", {"runId": started["runId"]})
    assert result.is_error
