"""Per-tenant rate limiting: a token bucket per tenant, as a pure ASGI middleware.

The middleware sits *behind* BearerAuthMiddleware, on the routes that need a token (MCP, REST), and
keys the bucket on the verified principal's tenant (`scope["user"]`), never on anything a caller can
vary per request (IP, header, token string: one tenant minting many tokens still shares one bucket).
Public routes (health, discovery documents) are not wrapped, so they are never limited.

An empty bucket answers `429 {"error", "code": "RATE_LIMITED"}` with `Retry-After` (whole seconds,
RFC 9110) before the request body is read, so a refused call costs no parsing and no store work.

Cost is proportional to size: a request costs one token per started `COST_UNIT_BYTES` (256 KiB) of
request body plus response body, at least one. Admission needs one whole token and takes it; the rest
is charged as the bytes pass (the body while it is read, the response while it is sent), and may take
the bucket below zero: the request in progress finishes, and the tenant's next requests wait until the
debt is refilled. So a 3.8 MB `verify_run_integrity` costs 15 tokens, a 3.8 MB export 15, a `get_run`
of a small run 1 - what the server spends on a call grows with the bytes it parses, hashes and writes.

Buckets live in this process: with `serve --workers N` each worker has its own. Memory is bounded:
at most `max_tenants` buckets are kept, the least recently used dropped first; a dropped tenant
starts again with a full bucket, which is what an idle tenant's bucket holds anyway.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench_mcp.auth import PrincipalToken
from workbench_mcp.config import RateLimitConfig, check_rate_limit
from workbench_mcp.errors import ErrorCode
from workbench_mcp.web.error_responses import error_response

DEFAULT_MAX_TENANTS = 10_000
COST_UNIT_BYTES = 256 * 1024
"""One token per started unit of request + response body bytes (a call below 256 KiB costs 1)."""


class TenantRateLimiter:
    """Token buckets keyed by tenant: `per_second` tokens refill continuously up to `burst`."""

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tenants: int = DEFAULT_MAX_TENANTS,
    ) -> None:
        check_rate_limit(config)
        if max_tenants < 1:
            raise ValueError("max_tenants must be >= 1")
        self.config = config
        self._clock = clock
        self._max_tenants = max_tenants
        # tenant -> [tokens left, clock reading when last refilled]; a list so it updates in place.
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, tenant: str) -> float:
        """Admit a request for one token: 0.0 if it may go ahead, else the seconds until a token is back."""
        rate = self.config.per_second
        if rate <= 0:
            return 0.0
        bucket = self._refilled(tenant)
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / rate

    def charge(self, tenant: str, tokens: float) -> None:
        """Spend `tokens` more for work already admitted; the bucket may go below zero (a debt)."""
        if self.config.per_second > 0 and tokens > 0:
            self._refilled(tenant)[0] -= tokens

    def _refilled(self, tenant: str) -> list[float]:
        rate = self.config.per_second
        now = self._clock()
        burst = float(self.config.burst)
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = [burst, now]
            self._buckets[tenant] = bucket
            if len(self._buckets) > self._max_tenants:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(tenant)
            bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        return bucket

    @property
    def tracked_tenants(self) -> int:
        return len(self._buckets)


class RateLimitMiddleware:
    """Refuses a tenant's request with 429 RATE_LIMITED when its bucket is empty."""

    def __init__(self, app: ASGIApp, *, limiter: TenantRateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = tenant_of(scope) if scope["type"] == "http" and self.limiter.config.enabled else None
        if tenant is None:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.take(tenant)
        if wait > 0:
            await self._refuse(wait)(scope, receive, send)
            return
        meter = _ByteMeter(self.limiter, tenant)

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                meter.add(len(message.get("body", b"")))
            return message

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                meter.add(len(message.get("body", b"")))
            await send(message)

        await self.app(scope, counted_receive, counted_send)

    def _refuse(self, wait: float) -> ASGIApp:
        retry_after = max(1, math.ceil(wait))
        limit = self.limiter.config
        message = (
            f"rate limit exceeded: {limit.per_second:g} tokens/s per tenant (burst {limit.burst}; a request costs "
            f"1 token per started {COST_UNIT_BYTES // 1024} KiB of request and response body); "
            f"retry after {retry_after} s"
        )
        return error_response(ErrorCode.RATE_LIMITED, message, 429, {"Retry-After": str(retry_after)})


class _ByteMeter:
    """Charges a request's tenant one token per started COST_UNIT_BYTES, the first one paid at admission."""

    __slots__ = ("_bytes", "_limiter", "_paid", "_tenant")

    def __init__(self, limiter: TenantRateLimiter, tenant: str) -> None:
        self._limiter = limiter
        self._tenant = tenant
        self._bytes = 0
        self._paid = 1

    def add(self, size: int) -> None:
        self._bytes += size
        units = -(-self._bytes // COST_UNIT_BYTES)
        if units > self._paid:
            self._limiter.charge(self._tenant, units - self._paid)
            self._paid = units


def tenant_of(scope: Scope) -> str | None:
    """The tenant BearerAuthMiddleware verified for this request; None on routes without a principal."""
    access = getattr(scope.get("user"), "access_token", None)
    return access.tenant_id if isinstance(access, PrincipalToken) else None
