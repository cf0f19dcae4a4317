"""Per-tenant rate limiting: the token bucket on its own (fake clock), then through the real server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.servers import running_server, server_config, token
from workbench_mcp.config import ConfigError, RateLimitConfig
from workbench_mcp.web.rate_limit import TenantRateLimiter

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


def call(request_id: int) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "list_runs", "arguments": {}},
    }


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
    config = server_config(tmp_path)
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token('alice', org='acme')}"}
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        statuses = {(await http.post("/api/mcp", json=call(n), headers=headers)).status_code for n in range(50)}
    assert statuses == {200}
    assert config.rate_limit.per_second >= 100
