"""Per-tenant rate limiting: a token bucket per tenant, as a pure ASGI middleware.

The middleware sits *behind* BearerAuthMiddleware, on the routes that need a token (MCP, REST), and
keys the bucket on the verified principal's tenant (`scope["user"]`), never on anything a caller can
vary per request (IP, header, token string: one tenant minting many tokens still shares one bucket).
Public routes (health, discovery documents) are not wrapped, so they are never limited.

An empty bucket answers `429 {"error", "code": "RATE_LIMITED"}` with `Retry-After` (whole seconds,
RFC 9110) before the request body is read, so a refused call costs no parsing and no store work.

Buckets live in this process: with `serve --workers N` each worker has its own. Memory is bounded:
at most `max_tenants` buckets are kept, the least recently used dropped first; a dropped tenant
starts again with a full bucket, which is what an idle tenant's bucket holds anyway.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from workbench_mcp.auth import PrincipalToken
from workbench_mcp.config import RateLimitConfig, check_rate_limit
from workbench_mcp.errors import ErrorCode
from workbench_mcp.web.error_responses import error_response

DEFAULT_MAX_TENANTS = 10_000


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
        """Spend one token: 0.0 if the request may go ahead, else the seconds until a token is back."""
        rate = self.config.per_second
        if rate <= 0:
            return 0.0
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
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / rate

    @property
    def tracked_tenants(self) -> int:
        return len(self._buckets)


class RateLimitMiddleware:
    """Refuses a tenant's request with 429 RATE_LIMITED when its bucket is empty."""

    def __init__(self, app: ASGIApp, *, limiter: TenantRateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            tenant = _tenant_of(scope)
            if tenant is not None:
                wait = self.limiter.take(tenant)
                if wait > 0:
                    await self._refuse(wait)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _refuse(self, wait: float) -> ASGIApp:
        retry_after = max(1, math.ceil(wait))
        limit = self.limiter.config
        message = (
            f"rate limit exceeded: {limit.per_second:g} requests/s per tenant (burst {limit.burst}); "
            f"retry after {retry_after} s"
        )
        return error_response(ErrorCode.RATE_LIMITED, message, 429, {"Retry-After": str(retry_after)})


def _tenant_of(scope: Scope) -> str | None:
    """The tenant BearerAuthMiddleware verified for this request; None on routes without a principal."""
    access = getattr(scope.get("user"), "access_token", None)
    return access.tenant_id if isinstance(access, PrincipalToken) else None
