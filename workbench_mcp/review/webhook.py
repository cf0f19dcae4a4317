"""Review notices POSTed to the operator's webhook (README "Human review"): signed, retried, recorded.

The scheme (the convention of Stripe's webhooks, so receivers can reject forgeries and replays):

- body: the notice as UTF-8 JSON (`payload`), the same bytes on every attempt;
- `Workbench-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, signed anew at each
  attempt, so a receiver checks the HMAC over the raw body and rejects a `t` outside its tolerance;
- `Workbench-Delivery: <id>`, the payload's `id`, the same on every attempt (receivers deduplicate on it);
  `Workbench-Attempt: <n>`.

`notify` only enqueues. Each delivery is a task of this notifier: at most `queue_size` are held at once
(waiting for a retry or in flight; beyond that the oldest is dropped), at most `concurrency` requests are in
flight. A 2xx delivers; a network error, a timeout, 408, 429 or 5xx is retried with exponential backoff and
jitter up to `max_attempts`; anything else (a redirect, which is never followed, or a 4xx) fails at once.
Every attempt is a log line and a `webhook_delivery` governance record on the run, so `audit_log` shows it;
neither ever holds the review link, the secret or the webhook URL (whose path may carry a token).
The review request itself is in the store whatever happens here.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx2

from workbench_mcp import __version__
from workbench_mcp.config import WebhookConfig
from workbench_mcp.review.notice import NoNotifier, ReviewNotice, ReviewNotifier
from workbench_mcp.store.run_store import GovernanceRecord

logger = logging.getLogger(__name__)

EVENT_TYPE = "review.requested"
SIGNATURE_HEADER = "Workbench-Signature"
DELIVERY_HEADER = "Workbench-Delivery"
ATTEMPT_HEADER = "Workbench-Attempt"
RECORD_KIND = "webhook_delivery"
RECORD_PRINCIPAL = "system:webhook"
"""Deliveries are the server's own doing: no token's subject made them."""
RECORD_TOOL = "webhook"
MAX_ERROR_CHARS = 200
_RECORDING = " recording"

Status = Literal["delivered", "retrying", "failed", "dropped", "abandoned"]
"""`failed`: gave up (permanent answer or attempts exhausted); `dropped`: the queue was full; `abandoned`: the
server stopped (or was not serving) before delivering."""


class GovernanceSink(Protocol):
    """Where attempts are recorded: the run store (`RunStore.record_governance`)."""

    async def record_governance(self, tenant_id: str, run_id: str | None, record: GovernanceRecord) -> None: ...


def payload(notice: ReviewNotice, delivery_id: str, created_at: str) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "type": EVENT_TYPE,
        "createdAt": created_at,
        "requestId": notice.request_id,
        "tenantId": notice.tenant_id,
        "runId": notice.run_id,
        "workflowId": notice.workflow_id,
        "stepId": notice.step_id,
        "gate": notice.gate,
        "reason": notice.reason,
        "reviewer": notice.reviewer,
        "reviewLink": notice.link,
        "expiresAt": notice.expires_at,
    }


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Workbench-Signature` value: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + body>`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff_s(config: WebhookConfig, failed_attempts: int, jitter: float) -> float:
    """Wait before the next attempt: base * 2^(n-1), capped, then scaled by 0.5..1 so that deliveries failing
    together (a receiver that was down) do not all come back at the same instant."""
    ceiling: float = min(config.backoff_max_s, config.backoff_base_s * 2.0 ** (failed_attempts - 1))
    return ceiling * (0.5 + 0.5 * jitter)


def retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


@dataclass(slots=True)
class _Attempt:
    status: Status
    http_status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


@dataclass(slots=True)
class _Delivery:
    notice: ReviewNotice
    id: str
    body: bytes
    attempts: int = 0
    ending: Status | None = None
    """How it ended, set before that is recorded (and before its task is cancelled, for a drop): a delivery
    whose final record is being written when the server stops is not also recorded as abandoned."""


class WebhookNotifier:
    """The `ReviewNotifier` of a server with a webhook. `start` and `stop` belong to the app's lifespan."""

    def __init__(
        self,
        config: WebhookConfig,
        sink: GovernanceSink,
        *,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._config = config
        self._sink = sink
        self._clock = clock
        self._jitter = jitter
        self._origin = origin(config.url)
        self._client: httpx2.AsyncClient | None = None
        self._slots = asyncio.Semaphore(config.concurrency)
        self._deliveries: OrderedDict[str, tuple[_Delivery, asyncio.Task[None]]] = OrderedDict()
        self._idle = asyncio.Event()
        self._idle.set()
        self._recorded = 0
        self._progress = asyncio.Condition()

    @property
    def pending(self) -> int:
        """Deliveries held now: waiting for a retry or in flight."""
        return sum(1 for delivery, _ in self._deliveries.values() if delivery.ending is None)

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx2.AsyncClient(
                follow_redirects=False,
                timeout=httpx2.Timeout(self._config.timeout_s),
                limits=httpx2.Limits(max_connections=self._config.concurrency),
                headers={"User-Agent": f"workbench-mcp/{__version__}"},
            )

    async def stop(self) -> None:
        """Ends every delivery still held, recording each as abandoned (the store must still be open)."""
        held = list(self._deliveries.items())
        for key, (_, task) in held:
            if not key.endswith(_RECORDING):  # a drop being recorded is let finish
                task.cancel()
        await asyncio.gather(*(task for _, (_, task) in held), return_exceptions=True)
        for _, (delivery, _) in held:
            if delivery.ending is None:
                delivery.ending = "abandoned"
                await self._record(delivery, _Attempt("abandoned", error="the server stopped"))
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def wait_idle(self) -> None:
        """Until no delivery is held (tests; a drain before a planned stop)."""
        await self._idle.wait()

    async def wait_recorded(self, count: int) -> None:
        """Until `count` attempts (of any delivery, drops and abandonments included) were recorded (tests)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self._recorded >= count)

    async def notify(self, notice: ReviewNotice) -> None:
        delivery_id = "whd_" + uuid.uuid4().hex
        created = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        delivery = _Delivery(notice, delivery_id, encode(payload(notice, delivery_id, created)))
        if self._client is None:
            logger.warning("webhook delivery %s (run %s): the notifier is not running", delivery_id, notice.run_id)
            delivery.ending = "abandoned"
            self._track(delivery, self._record(delivery, _Attempt("abandoned", error="the server was not serving")))
            return
        held = [pair for pair in self._deliveries.values() if pair[0].ending is None]
        if len(held) >= self._config.queue_size:
            oldest, task = held[0]  # the one retried longest; a new request is likelier to be answered in time
            oldest.ending = "dropped"
            task.cancel()  # perhaps before it ever ran: the drop is recorded by a task of its own
            self._track(oldest, self._record(oldest, _Attempt("dropped", error="the queue was full")))
        self._track(delivery, self._deliver(delivery))

    def _track(self, delivery: _Delivery, work: Coroutine[Any, Any, None]) -> None:
        """Keeps the task (the loop holds tasks weakly) and counts it until it ends."""
        key = delivery.id + (_RECORDING if delivery.ending else "")
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work, name=f"webhook {key}")
        self._deliveries[key] = (delivery, task)
        self._idle.clear()
        task.add_done_callback(lambda _: self._forget(key))

    def _forget(self, key: str) -> None:
        self._deliveries.pop(key, None)
        if not self._deliveries:
            self._idle.set()

    async def _deliver(self, delivery: _Delivery) -> None:
        while True:
            async with self._slots:
                result = await self._attempt(delivery)
            if result.status != "retrying":
                delivery.ending = result.status
            await self._record(delivery, result)
            if delivery.ending is not None:
                return
            delay = backoff_s(self._config, delivery.attempts, self._jitter())
            if result.retry_after_s is not None:
                delay = max(delay, min(result.retry_after_s, self._config.backoff_max_s))
            await asyncio.sleep(delay)

    async def _attempt(self, delivery: _Delivery) -> _Attempt:
        client = self._client
        if client is None:
            return _Attempt("failed", error="the server stopped")
        delivery.attempts += 1
        last = delivery.attempts >= self._config.max_attempts
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self._config.secret, int(self._clock()), delivery.body),
            DELIVERY_HEADER: delivery.id,
            ATTEMPT_HEADER: str(delivery.attempts),
        }
        try:
            async with asyncio.timeout(self._config.timeout_s):
                # Streamed and never read: the receiver's answer is its status line, whatever body it sends.
                async with client.stream("POST", self._config.url, content=delivery.body, headers=headers) as answer:
                    status = answer.status_code
                    retry_after = _seconds(answer.headers.get("Retry-After"))
        except TimeoutError:
            return _Attempt("failed" if last else "retrying", error=f"no answer within {self._config.timeout_s:g} s")
        except httpx2.HTTPError as exc:
            return _Attempt("failed" if last else "retrying", error=self._describe(exc))
        if 200 <= status < 300:
            return _Attempt("delivered", http_status=status)
        if retryable(status):
            return _Attempt("failed" if last else "retrying", http_status=status, retry_after_s=retry_after)
        error = "redirect not followed" if 300 <= status < 400 else "refused by the receiver (not retried)"
        return _Attempt("failed", http_status=status, error=error)

    def _describe(self, exc: Exception) -> str:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return text.replace(self._config.url, self._origin)[:MAX_ERROR_CHARS]

    async def _record(self, delivery: _Delivery, result: _Attempt) -> None:
        notice = delivery.notice
        detail: dict[str, Any] = {
            "deliveryId": delivery.id,
            "requestId": notice.request_id,
            "stepId": notice.step_id,
            "gate": notice.gate,
            "reviewer": notice.reviewer,
            "status": result.status,
            "attempt": delivery.attempts,
            "maxAttempts": self._config.max_attempts,
        }
        if result.http_status is not None:
            detail["httpStatus"] = result.http_status
        if result.error is not None:
            detail["error"] = result.error
        outcome = f"HTTP {result.http_status}" if result.http_status is not None else result.error
        level = logging.INFO if result.status == "delivered" else logging.WARNING
        logger.log(
            level,
            "webhook delivery %s (run %s, reviewer %s) to %s, attempt %d/%d: %s (%s)",
            delivery.id,
            notice.run_id,
            notice.reviewer,
            self._origin,
            delivery.attempts,
            self._config.max_attempts,
            result.status,
            outcome,
        )
        record = GovernanceRecord(RECORD_KIND, RECORD_PRINCIPAL, RECORD_TOOL, detail)
        try:
            await asyncio.shield(self._sink.record_governance(notice.tenant_id, notice.run_id, record))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a record that cannot be written must not end the delivery
            logger.warning("webhook delivery %s: attempt not recorded: %s", delivery.id, exc)
        self._recorded += 1
        async with self._progress:
            self._progress.notify_all()


def origin(url: str) -> str:
    """scheme://host[:port]: what logs and records may name (the path and user info may hold secrets)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _seconds(value: str | None) -> float | None:
    """A Retry-After given in seconds (the HTTP-date form is ignored: the backoff applies)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def notifier_from(config: WebhookConfig | None, sink: GovernanceSink) -> ReviewNotifier:
    """The app's notifier: the webhook when one is configured, else nobody (`review-link` mints links)."""
    return NoNotifier() if config is None else WebhookNotifier(config, sink)


@asynccontextmanager
async def serving(notifier: ReviewNotifier) -> AsyncIterator[ReviewNotifier]:
    """Starts and stops a notifier with the app's lifespan (inside the store's: stop records abandonments)."""
    if not isinstance(notifier, WebhookNotifier):
        yield notifier
        return
    await notifier.start()
    try:
        yield notifier
    finally:
        await notifier.stop()
