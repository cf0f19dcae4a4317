"""Per-tenant rate limiting: the token bucket on its own (fake clock), then through the real server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.servers import running_server, server_config, token
from workbench_mcp.config import DEFAULT_RATE_PER_S, ConfigError, RateLimitConfig
from workbench_mcp.web.rate_limit import COST_UNIT_BYTES, TenantRateLimiter

MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(per_second: float, burst: int, **options: int) -> tuple[TenantRateLimiter, FakeClock]:
    clock = FakeClock()
    return TenantRateLimiter(RateLimitConfig(per_second=per_second, burst=burst), clock=clock, **options), clock


def test_a_tenant_gets_its_burst_then_waits_for_the_refill() -> None:
    bucket, clock = limiter(per_second=2, burst=3)
    assert [bucket.take("acme") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("acme") == pytest.approx(0.5)  # one token comes back every 1/2 s
    clock.now += 0.5
    assert bucket.take("acme") == 0.0
    assert bucket.take("acme") > 0


def test_refill_never_exceeds_the_burst() -> None:
    bucket, clock = limiter(per_second=10, burst=2)
    clock.now += 3600
    assert [bucket.take("acme") == 0.0 for _ in range(3)] == [True, True, False]


def test_tenants_have_separate_buckets() -> None:
    bucket, _ = limiter(per_second=1, burst=1)
    assert bucket.take("acme") == 0.0
    assert bucket.take("acme") > 0
    assert bucket.take("globex") == 0.0


def test_work_charged_after_admission_leaves_a_debt_that_delays_the_next_request() -> None:
    bucket, clock = limiter(per_second=2, burst=10)
    assert bucket.take("acme") == 0.0
    bucket.charge("acme", 14)  # a big body: the request in progress finishes, the bucket goes to -5
    assert bucket.take("acme") == pytest.approx(3.0)  # (1 - (-5)) / 2
    clock.now += 3.0
    assert bucket.take("acme") == 0.0
    assert bucket.take("globex") == 0.0  # the debt is acme's alone


def test_zero_rate_switches_the_limiter_off() -> None:
    bucket, _ = limiter(per_second=0, burst=0)
    assert all(bucket.take("acme") == 0.0 for _ in range(10_000))
    assert bucket.tracked_tenants == 0


def test_memory_is_bounded_by_max_tenants() -> None:
    bucket, _ = limiter(per_second=1, burst=1, max_tenants=100)
    for n in range(1000):
        bucket.take(f"tenant-{n}")
    assert bucket.tracked_tenants == 100


@pytest.mark.parametrize("config", [RateLimitConfig(per_second=-1), RateLimitConfig(per_second=5, burst=0)])
def test_nonsense_limits_are_refused(config: RateLimitConfig) -> None:
    with pytest.raises(ConfigError):
        TenantRateLimiter(config)


def call(request_id: int, name: str = "list_runs", arguments: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments or {}},
    }


def cost(request_bytes: int, response_bytes: int) -> int:
    """The documented price of a request: one token per started 256 KiB of request + response body, at least 1."""
    return max(1, -(-(request_bytes + response_bytes) // COST_UNIT_BYTES))


async def test_big_calls_cost_tokens_in_proportion_to_their_size(tmp_path: Path) -> None:
    burst = 24
    config = server_config(tmp_path, rate_limit=RateLimitConfig(per_second=0.001, burst=burst))
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token('alice', org='acme')}"}
    # A ~1 MB bundle-shaped argument: verify_run_integrity parses and hashes all of it.
    bundle = {"protocolVersion": "1.0.0", "padding": ["x" * 1000] * 1000}
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        sizes: list[tuple[int, int]] = []
        statuses: list[int] = []
        for n in range(burst):
            request = httpx.Request("POST", url + "/api/mcp", json=call(n, "verify_run_integrity", {"bundle": bundle}))
            response = await http.post("/api/mcp", content=request.content, headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
            sizes.append((len(request.content), len(response.content)))
        small = await http.post("/api/mcp", json=call(99), headers={**headers, "Authorization": f"Bearer {token('x')}"})
    each = cost(*sizes[0])
    assert each == 4  # ~1 MB of request body: 4 started units of 256 KiB
    # Admission takes one token, so the k-th big call is admitted while at least one token is left.
    admitted = -(-burst // each)
    assert statuses == [200] * admitted + [429]
    assert small.status_code == 200  # another tenant's bucket is untouched


async def test_a_big_response_costs_its_size_too(tmp_path: Path) -> None:
    config = server_config(tmp_path, rate_limit=RateLimitConfig(per_second=0.001, burst=12))
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token('alice', org='acme')}"}
    data = {"text": "y" * 600_000}  # under the 1 MiB artifact limit; its export carries it twice (trace + artifacts)
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        start = await http.post(
            "/api/mcp", json=call(1, "start_run", {"workflowId": "jobSearchWorkflow"}), headers=headers
        )
        run_id = start.json()["result"]["structuredContent"]["runId"]
        write = {"runId": run_id, "artifactKey": "big", "typeId": "t.v1", "data": data}
        wrote = await http.post("/api/mcp", json=call(2, "write_artifact", write), headers=headers)
        exports: list[httpx.Response] = []
        while len(exports) < 12:
            response = await http.get(f"/api/runs/{run_id}", headers=headers)
            exports.append(response)
            if response.status_code == 429:
                break
    assert wrote.status_code == 200
    assert len(exports[0].content) > 1_000_000
    # 12 tokens: start 1, write 3 (600 KB body), then each ~1.2 MB GET 5: two fit, the third is refused.
    assert [r.status_code for r in exports] == [200, 200, 429]


async def test_server_answers_429_rate_limited_with_retry_after_per_tenant(tmp_path: Path) -> None:
    config = server_config(tmp_path, rate_limit=RateLimitConfig(per_second=0.5, burst=2))
    acme = {**MCP_HEADERS, "Authorization": f"Bearer {token('alice', org='acme')}"}
    # Another token of the same tenant shares the bucket: the limit is per tenant, not per token.
    acme_again = {**MCP_HEADERS, "Authorization": f"Bearer {token('bob', org='acme')}"}
    globex = {**MCP_HEADERS, "Authorization": f"Bearer {token('carol', org='globex')}"}
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        allowed = [await http.post("/api/mcp", json=call(n), headers=acme) for n in range(2)]
        refused = await http.post("/mcp", json=call(3), headers=acme_again)
        other_tenant = await http.post("/api/mcp", json=call(4), headers=globex)
        public = [(await http.get(path)).status_code for path in ("/healthz",) * 5]
        metadata = [(await http.get("/.well-known/oauth-protected-resource/api/mcp")).status_code for _ in range(5)]
        anonymous = await http.post("/api/mcp", json=call(5), headers=MCP_HEADERS)
    assert [r.status_code for r in allowed] == [200, 200]
    assert all(not r.json()["result"].get("isError") for r in allowed)
    assert refused.status_code == 429
    assert refused.json()["code"] == "RATE_LIMITED"
    assert set(refused.json()) == {"error", "code"}
    assert int(refused.headers["retry-after"]) >= 1
    assert other_tenant.status_code == 200
    assert public == [200] * 5
    assert metadata == [200] * 5
    assert anonymous.status_code == 401  # authentication comes first; no bucket without a tenant


async def test_default_limits_let_a_burst_through(tmp_path: Path) -> None:
    config = server_config(tmp_path, rate_limit=RateLimitConfig())
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token('alice', org='acme')}"}
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        statuses = {(await http.post("/api/mcp", json=call(n), headers=headers)).status_code for n in range(50)}
    assert statuses == {200}
    # Below what one process serves of mixed calls on a 2-core machine (~200-400/s; README "Rate limiting").
    assert 100 <= config.rate_limit.per_second == DEFAULT_RATE_PER_S <= 250
