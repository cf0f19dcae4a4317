"""Cross-tenant REST matrix (D3): every tenant attacks every other tenant's runs with GET, PUT, DELETE and list.

Expected: reads of another tenant's run look exactly like a missing run (404 UNKNOWN_RUN), a PUT of the same
run id creates or replaces only the caller's own run, a DELETE removes only the caller's own, and no listing
ever shows another tenant's run. After every attack the owner's run must be byte-for-byte what it saved.
"""

from __future__ import annotations

import itertools
from contextlib import AsyncExitStack
from typing import Any

import httpx

from tests.web.rest import RunFactory, renamed, rest_client

TENANTS = {  # token (user, org) -> tenant: two personal tenants, two organizations
    "alice": ("alice", None),
    "bob": ("bob", None),
    "acme": ("carol", "org_acme"),
    "globex": ("dave", "org_globex"),
}
RUNS_PER_TENANT = 2
ATTACKS_PER_RUN = 5  # GET, DELETE, If-Match PUT, PUT, DELETE of the intruder's own copy


async def test_no_tenant_can_read_change_or_list_another_tenants_runs(base_url: str) -> None:
    factory = RunFactory()
    owned: dict[str, list[dict[str, Any]]] = {}
    clients: dict[str, httpx.AsyncClient] = {}
    async with AsyncExitStack() as stack:
        for tenant, (user, org) in TENANTS.items():
            clients[tenant] = await stack.enter_async_context(rest_client(base_url, user, org))
        for tenant, client in clients.items():
            owned[tenant] = [factory.new(tags=[tenant], writes=1) for _ in range(RUNS_PER_TENANT)]
            for state in owned[tenant]:
                assert (await client.put(f"/api/runs/{state['run']['id']}", json=state)).status_code == 204

        async def owner_still_has(tenant: str, state: dict[str, Any]) -> None:
            response = await clients[tenant].get(f"/api/runs/{state['run']['id']}")
            assert response.status_code == 200
            assert response.json() == state

        attacks = 0
        for owner, intruder in itertools.permutations(TENANTS, 2):
            attacker = clients[intruder]
            for state in owned[owner]:
                url = f"/api/runs/{state['run']['id']}"
                missing = await attacker.get(url)
                assert (missing.status_code, missing.json()["code"]) == (404, "UNKNOWN_RUN")
                assert (await attacker.delete(url)).status_code == 204
                await owner_still_has(owner, state)

                etag = (await clients[owner].get(url)).headers["etag"]
                copy = renamed(factory.new(tags=[f"{intruder} overwrote"]), state["run"]["id"])
                blind = await attacker.put(url, json=copy, headers={"If-Match": etag})
                assert blind.status_code == 412  # the owner's ETag names no run of the intruder
                await owner_still_has(owner, state)

                assert (await attacker.put(url, json=copy)).status_code == 204
                await owner_still_has(owner, state)
                assert (await attacker.get(url)).json() == copy  # the intruder only ever sees its own copy

                assert (await attacker.delete(url)).status_code == 204
                await owner_still_has(owner, state)
                assert (await attacker.get(url)).status_code == 404
                attacks += ATTACKS_PER_RUN

        for tenant, client in clients.items():
            listed = {meta["id"] for meta in (await client.get("/api/runs?limit=500")).json()}
            assert listed == {s["run"]["id"] for s in owned[tenant]}
        pairs = len(TENANTS) * (len(TENANTS) - 1)
        assert attacks == pairs * RUNS_PER_TENANT * ATTACKS_PER_RUN == 120
