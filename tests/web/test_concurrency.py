"""D21/D2: many HTTP clients writing to one run at once lose nothing and never trip over each other."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.mcp_server.scenario import caller
from tests.servers import error_code, mcp_client, payload, token

CLIENTS = 32
WRITES_EACH = 5


async def test_32_clients_writing_one_run_lose_no_version(base_url: str) -> None:
    url = base_url + "/api/mcp"
    async with mcp_client(url, token("owner")) as owner:
        run_id = (await caller(owner)("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]

    async def writer(worker: int) -> list[dict[str, Any]]:
        results = []
        async with mcp_client(url, token("owner")) as client:
            for i in range(WRITES_EACH):
                arguments = {
                    "runId": run_id,
                    "artifactKey": "shared",
                    "typeId": "race",
                    "data": {"worker": worker, "i": i},
                    "correlationId": f"worker-{worker}",
                }
                results.append(await client.call_tool("write_artifact", arguments))
        return [payload(r) | {"isError": r.is_error} for r in results]

    outcomes = [r for batch in await asyncio.gather(*(writer(w) for w in range(CLIENTS))) for r in batch]

    async with mcp_client(url, token("owner")) as owner:
        state = await caller(owner)("get_run", {"runId": run_id})
        bundle = await caller(owner)("export_bundle", {"runId": run_id})
    total = CLIENTS * WRITES_EACH
    assert [o for o in outcomes if o["isError"]] == []
    assert sorted(o["version"] for o in outcomes) == list(range(1, total + 1))
    written = [e for e in state["trace"] if e["type"] == "artifact_written"]
    assert len(written) == total
    assert sorted(e["artifact"]["version"] for e in written) == list(range(1, total + 1))
    assert dict(state["artifactsByKey"])["shared"]["version"] == total
    assert state["revision"] == 1 + total
    assert {e["correlationId"] for e in written} == {f"worker-{w}" for w in range(CLIENTS)}
    assert bundle["engine"]["revision"] == 1 + total


async def test_expected_revision_lets_exactly_one_racing_decision_win(base_url: str) -> None:
    url = base_url + "/api/mcp"
    async with mcp_client(url, token("owner")) as owner:
        started = await caller(owner)("start_run", {"workflowId": "jobSearchWorkflow"})

        async def decide(decision: str) -> Any:
            return await owner.call_tool(
                "resolve_gate",
                {
                    "runId": started["runId"],
                    "stepId": "parser1",
                    "gate": "PAUSE_BEFORE",
                    "decision": decision,
                    "expectedRevision": started["revision"],
                },
            )

        results = await asyncio.gather(*(decide("approved" if i % 2 else "rejected") for i in range(8)))
    winners = [r for r in results if not r.is_error]
    assert len(winners) == 1
    assert {error_code(r) for r in results if r.is_error} == {"REVISION_CONFLICT"}
