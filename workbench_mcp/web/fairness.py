"""Fair admission across tenants: at most K requests in flight per process, waiters served round-robin by tenant.

Without it every accepted request runs at once, interleaved on the one event loop: sixteen clients of
one tenant at full speed made another tenant's `get_run` wait behind all sixteen (p50 5 -> 62 ms). With
it a request *works* only while it holds one of `capacity` slots, and one tenant holds at most `share`
of them (default half): the others wait in per-tenant FIFO queues, and a freed slot goes to the waiting
tenant that holds the fewest slots (ties: round-robin), not to the next request. So a quiet tenant finds
a slot free however many requests a noisy tenant has queued, and shares the loop with at most `share` of
them; a tenant alone on the server still keeps `share` requests working at once, which keeps a process
busy (the CPU work is serial on its one event loop and the writes are serial in SQLite).

A slot covers the work, not the transfer: a request with a body takes its slot when its last body chunk
arrives (a slow upload holds a connection, never a slot), one without a body at once; the slot is given
back when the response starts (a slow reader does not hold it either). Routes whose GET is a stream
(MCP) pass `unscheduled_methods`: a stream must not hold a slot for its lifetime.

Waiting is not bounded here: a waiter is one future per open request, and how many requests a tenant
can have open is bounded by its rate limit (which refuses before any slot is asked for) and by the
server's connection limits.

`FairQueue` is the pure policy (no clock, no I/O; tests drive it step by step); `FairScheduler` puts it
behind asyncio futures; `FairnessMiddleware` applies it to a route behind the bearer check, keyed on the
verified tenant like the rate limiter.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Generic, Literal, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench_mcp.web.rate_limit import tenant_of

W = TypeVar("W")
_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
"""Methods whose body no route here reads: their slot is taken before the app runs."""


class FairQueue(Generic[W]):
    """`capacity` slots, at most `share` of them per tenant; waiters queue per tenant, the least served first."""

    def __init__(self, capacity: int, share: int | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.share = min(capacity, share if share is not None else max(1, capacity // 2))
        if self.share < 1:
            raise ValueError("share must be >= 1")
        self.in_flight = 0
        self._held: dict[str, int] = {}
        # Tenants with waiters, in turn order: the first eligible one is served next, then goes to the back.
        self._turns: OrderedDict[str, deque[W]] = OrderedDict()

    def arrive(self, tenant: str, waiter: W) -> Literal["run", "wait"]:
        """A request wants a slot: it runs now ("run", the slot is counted) or waits for `leave` to pick it."""
        if self.in_flight < self.capacity and self._held.get(tenant, 0) < self.share and tenant not in self._turns:
            self._take(tenant)
            return "run"
        queue = self._turns.get(tenant)
        if queue is None:
            queue = self._turns[tenant] = deque()
        queue.append(waiter)
        return "wait"

    def leave(self, tenant: str) -> tuple[str, W] | None:
        """`tenant` gave a slot back. Returns the (tenant, waiter) that now holds it, or None if it stays free."""
        self.in_flight -= 1
        held = self._held[tenant] - 1
        if held:
            self._held[tenant] = held
        else:
            del self._held[tenant]
        # The waiting tenant holding the fewest slots goes first (a quiet tenant before a busy one), then
        # turn order; only tenants below their share are eligible.
        chosen: str | None = None
        fewest = self.share
        for candidate in self._turns:
            held = self._held.get(candidate, 0)
            if held < fewest:
                chosen, fewest = candidate, held
                if held == 0:
                    break
        if chosen is None:
            return None
        queue = self._turns.pop(chosen)
        waiter = queue.popleft()
        if queue:
            self._turns[chosen] = queue  # back of the line: every other waiting tenant goes first
        self._take(chosen)
        return chosen, waiter

    def cancel(self, tenant: str, waiter: W) -> bool:
        """A waiter gave up. False when it was no longer waiting (`leave` had already handed it a slot)."""
        queue = self._turns.get(tenant)
        if queue is None or waiter not in queue:
            return False
        queue.remove(waiter)
        if not queue:
            del self._turns[tenant]
        return True

    def held(self, tenant: str) -> int:
        return self._held.get(tenant, 0)

    def waiting(self, tenant: str | None = None) -> int:
        if tenant is not None:
            return len(self._turns.get(tenant, ()))
        return sum(len(q) for q in self._turns.values())

    def _take(self, tenant: str) -> None:
        self.in_flight += 1
        self._held[tenant] = self._held.get(tenant, 0) + 1


class FairScheduler:
    """FairQueue behind asyncio futures: `await acquire(tenant)`, then `release(tenant)` exactly once."""

    def __init__(self, capacity: int, share: int | None = None) -> None:
        self.queue: FairQueue[asyncio.Future[None]] = FairQueue(capacity, share)

    async def acquire(self, tenant: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.queue.arrive(tenant, future) == "run":
            return
        try:
            await future
        except asyncio.CancelledError:
            if not self.queue.cancel(tenant, future):
                self.release(tenant)  # the slot was handed over while we were being cancelled: pass it on
            raise

    def release(self, tenant: str) -> None:
        while (turn := self.queue.leave(tenant)) is not None:
            tenant, waiter = turn
            if not waiter.done():
                waiter.set_result(None)
                return
            # a waiter cancelled after being queued cannot use the slot: pass it on


class FairnessMiddleware:
    """Holds each authenticated request of a tenant to a FairScheduler slot while the app works on it."""

    def __init__(
        self, app: ASGIApp, *, scheduler: FairScheduler | None, unscheduled_methods: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.scheduler = scheduler
        self.unscheduled = frozenset(unscheduled_methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheduler = self.scheduler
        tenant = tenant_of(scope) if scope["type"] == "http" else None
        if scheduler is None or tenant is None or scope["method"] in self.unscheduled:
            await self.app(scope, receive, send)
            return
        held = False

        async def acquire() -> None:
            nonlocal held
            if not held:
                await scheduler.acquire(tenant)
                held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                scheduler.release(tenant)

        async def receive_then_acquire() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                await acquire()  # the whole body is here: the work starts now
            return message

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()  # the answer is built; writing it out needs no slot
            await send(message)

        try:
            if scope["method"] in _BODYLESS:
                await acquire()
            await self.app(scope, receive_then_acquire, send_then_release)
        finally:
            release()
