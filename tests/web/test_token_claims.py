"""Token claims over real HTTP (MCP and REST alike): tenant namespaces and JWT hygiene.

A personal tenant is `user:<sub>`; an organization claim may never name one, or a token minted with
`org_id: "user:alice"` would read and write alice's runs. Such tokens, and tokens whose times or texts
are malformed, are refused with 401 UNAUTHORIZED on every surface, and alice's runs stay as they were.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from tests.servers import SECRET, token
from tests.web.rest import RunFactory

MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def bearer(raw_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw_token}"}


def signed(**claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "mallory", "iat": now, "exp": now + 600, **claims}, SECRET, algorithm="HS256")


async def call_tool(client: httpx.AsyncClient, raw_token: str, name: str, **arguments: Any) -> httpx.Response:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    return await client.post("/api/mcp", json=message, headers={**MCP_HEADERS, **bearer(raw_token)})


def tool_result(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    assert not result.get("isError"), result
    return dict(result["structuredContent"])


async def every_surface(client: httpx.AsyncClient, raw_token: str, run_id: str) -> list[httpx.Response]:
    """One request per way in: MCP list/read/write, REST list/read/replace/delete."""
    state = RunFactory().new(tags=["intruder"])
    state = {**state, "run": {**state["run"], "id": run_id}, "trace": [{**e, "runId": run_id} for e in state["trace"]]}
    return [
        await call_tool(client, raw_token, "list_runs"),
        await call_tool(client, raw_token, "get_run", runId=run_id),
        await call_tool(client, raw_token, "start_run", workflowId="jobSearchWorkflow"),
        await client.get("/api/runs", headers=bearer(raw_token)),
        await client.get(f"/api/runs/{run_id}", headers=bearer(raw_token)),
        await client.put(f"/api/runs/{run_id}", json=state, headers=bearer(raw_token)),
        await client.delete(f"/api/runs/{run_id}", headers=bearer(raw_token)),
    ]


def assert_unauthorized(responses: list[httpx.Response], reason: str) -> None:
    for response in responses:
        assert response.status_code == 401, (response.request.url, response.text)
        body = response.json()
        assert body["code"] == "UNAUTHORIZED"
        assert reason in body["error"]


@pytest.fixture
async def alice_runs(base_url: str) -> tuple[list[str], dict[str, Any]]:
    """Alice's personal tenant holds one run started over MCP and one PUT over REST."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        started = tool_result(await call_tool(client, token("alice"), "start_run", workflowId="jobSearchWorkflow"))
        state = RunFactory().new(tags=["alice"])
        put = await client.put(f"/api/runs/{state['run']['id']}", json=state, headers=bearer(token("alice")))
        assert put.status_code == 204
        listed = (await client.get("/api/runs", headers=bearer(token("alice")))).json()
    return sorted([started["runId"], state["run"]["id"]]), {"listed": listed}


@pytest.mark.parametrize(
    "org_claims",
    [
        {"org_id": "user:alice"},  # our own claim, as `workbench-mcp token --org user:alice` minted it
        {"o": {"id": "user:alice"}},  # Clerk's dotted `o.id`
        {"org_id": "user:alice", "o": {"id": "org_fine"}},  # a refused first claim is not skipped over
        {"org_id": "user:"},
    ],
)
async def test_an_org_claim_in_the_user_namespace_reaches_nothing(
    base_url: str, alice_runs: tuple[list[str], dict[str, Any]], org_claims: dict[str, Any]
) -> None:
    run_ids, before = alice_runs
    intruder = signed(**org_claims)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for run_id in run_ids:
            assert_unauthorized(await every_surface(client, intruder, run_id), "user:")
        after = (await client.get("/api/runs", headers=bearer(token("alice")))).json()
        assert after == before["listed"]
        assert sorted(meta["id"] for meta in after) == run_ids
        for run_id in run_ids:
            assert (await client.get(f"/api/runs/{run_id}", headers=bearer(token("alice")))).status_code == 200
        # Clerk-style organization ids keep working unchanged, and see none of alice's runs.
        clerk = signed(o={"id": "org_2abc", "rol": "admin"})
        assert tool_result(await call_tool(client, clerk, "list_runs"))["runs"] == []
        mine = tool_result(await call_tool(client, clerk, "start_run", workflowId="jobSearchWorkflow"))
        listed = (await client.get("/api/runs", headers=bearer(clerk))).json()
        assert [meta["id"] for meta in listed] == [mine["runId"]]


BIG = 10**9


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": 10**30}, "lifetime"),
        ({"exp": 1e30}, "lifetime"),
        ({"exp": int(time.time()) + BIG}, "lifetime"),
        ({"iat": None, "exp": int(time.time()) + BIG}, "lifetime"),  # no iat: measured from now
        ({"exp": str(int(time.time()) + 600)}, "exp"),
        ({"nbf": str(int(time.time()))}, "nbf"),
        ({"sub": "\ud800"}, "sub"),
        ({"org_id": "org_\udfff"}, "org_id"),
        ({"o": {"id": "\ud800"}}, "o.id"),
    ],
)
async def test_malformed_token_claims_are_401_not_internal_errors(
    base_url: str, alice_runs: tuple[list[str], dict[str, Any]], claims: dict[str, Any], reason: str
) -> None:
    run_ids, _ = alice_runs
    now = int(time.time())
    payload = {"sub": "mallory", "iat": now, "exp": now + 600, **claims}
    raw = jwt.encode({k: v for k, v in payload.items() if v is not None}, SECRET, algorithm="HS256")
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        assert_unauthorized(await every_surface(client, raw, run_ids[0]), reason)
