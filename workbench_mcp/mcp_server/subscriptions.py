"""`subscriptions/listen` (2026-07-28) for `runs://{runId}`: a listener hears `notifications/resources/updated`
whenever one of its runs changes, whoever changed it (this process, another `--workers` process, REST, stdio).

The SDK's own `ListenHandler` fans events out over a `SubscriptionBus` that carries bare URIs: it knows no
tenant, and run ids are only unique per tenant. So this handler serves the method itself and feeds each
stream from the service's change watcher (run_watch.py), keyed by (tenant, run) like wait_for_decision:

- the caller needs runs:read, and every `runs://` URI must name a run of the caller's tenant; another tenant's
  run is refused exactly like a missing one (-32602, data.code UNKNOWN_RUN, as resources/read does);
- a stream sleeps on one asyncio event for all its runs; a wake-up (this process wrote the run, or the
  watcher's poll saw the database's data_version move) reads each run's revision (a cached tag check) and
  announces only the runs whose revision moved. An idle stream costs nothing but the watcher's poll
  (POLL_SECONDS, one per process however many streams and waiters);
- bounded: MAX_RUNS_PER_STREAM URIs per stream, MAX_STREAMS_PER_TENANT and MAX_STREAMS open streams per
  process (LIMIT_EXCEEDED), and a stream ends gracefully after STREAM_MAX_SECONDS (the client re-listens and
  refetches: listen has no replay; the SDK pings the stream every 15 s meanwhile). A disconnect cancels the
  handler, which unregisters everything it holds.

URIs other than `runs://` are not honored (the ack leaves them out): nothing else here changes. The list-changed
flags are honored and never fire (the tool, prompt and resource-template lists are fixed per process).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import ExitStack
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY, ResourceUpdated, event_to_notification
from mcp_types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    SubscriptionFilter,
    SubscriptionsAcknowledgedNotification,
    SubscriptionsAcknowledgedNotificationParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
)

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.mcp_server.resources import as_lookup_id, reader, resource_error
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService

RUN_SCHEME = "runs://"
MAX_RUNS_PER_STREAM = 32
MAX_STREAMS_PER_TENANT = 64
MAX_STREAMS = 1024
STREAM_MAX_SECONDS = 55.0
"""A stream's lifetime, then it ends gracefully: bounds what an abandoned stream holds and how long a server
shutdown waits for it (uvicorn drains open responses first), as WAIT_MAX_SECONDS does for wait_for_decision."""


def _limit(message: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message, data={"code": ErrorCode.LIMIT_EXCEEDED.value})


class RunListenHandler:
    def __init__(
        self,
        service: RunService,
        *,
        max_runs: int = MAX_RUNS_PER_STREAM,
        max_per_tenant: int = MAX_STREAMS_PER_TENANT,
        max_streams: int = MAX_STREAMS,
        lifetime_seconds: float = STREAM_MAX_SECONDS,
    ) -> None:
        self._service = service
        self._max_runs = max_runs
        self._max_per_tenant = max_per_tenant
        self._max_streams = max_streams
        self._lifetime = lifetime_seconds
        self.open_streams: Counter[str] = Counter()
        """Open streams per tenant (what the caps count; tests read it to see a disconnect release its slot)."""

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(INVALID_REQUEST, "subscriptions/listen requires a request id")
        who = reader()
        wanted = params.notifications
        uris = list(dict.fromkeys(wanted.resource_subscriptions or ()))
        runs = {uri: as_lookup_id(uri.removeprefix(RUN_SCHEME)) for uri in uris if uri.startswith(RUN_SCHEME)}
        if len(runs) > self._max_runs:
            raise _limit(f"a listen stream may watch at most {self._max_runs} runs; this one names {len(runs)}")
        if self.open_streams[who.tenant_id] >= self._max_per_tenant:
            raise _limit(f"this tenant already has {self._max_per_tenant} open listen streams; close one first")
        if self.open_streams.total() >= self._max_streams:
            raise _limit("this server has too many open listen streams; retry shortly")
        self.open_streams[who.tenant_id] += 1
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}
        changed = asyncio.Event()
        try:
            with ExitStack() as watches:
                # Watch before the first read: a change between the two then still sets the event.
                for run_id in runs.values():
                    watches.enter_context(self._service.reads.watching_run(who, run_id, changed))
                seen: dict[str, int | None] = {
                    uri: await self._revision(who, uri, run_id) for uri, run_id in runs.items()
                }
                honored = SubscriptionFilter(
                    tools_list_changed=wanted.tools_list_changed or None,
                    prompts_list_changed=wanted.prompts_list_changed or None,
                    resources_list_changed=wanted.resources_list_changed or None,
                    resource_subscriptions=list(runs) or None,
                )
                ack = SubscriptionsAcknowledgedNotificationParams(notifications=honored, _meta=meta)
                await ctx.session.send_notification(
                    SubscriptionsAcknowledgedNotification(params=ack), related_request_id=subscription_id
                )
                loop = asyncio.get_running_loop()
                ends = loop.time() + self._lifetime
                while runs:
                    try:
                        await asyncio.wait_for(changed.wait(), max(0.0, ends - loop.time()))
                    except TimeoutError:
                        break
                    changed.clear()  # before the reads: a change during them wakes the loop again
                    for uri, run_id in runs.items():
                        revision: int | None
                        try:
                            revision = await self._service.reads.run_revision(who, run_id)
                        except WorkbenchError as exc:
                            if exc.code is not ErrorCode.UNKNOWN_RUN:
                                continue  # the store failed this read; the next change retries
                            revision = None  # deleted (REST DELETE): announced once, the re-read says UNKNOWN_RUN
                        if revision != seen[uri]:
                            seen[uri] = revision
                            notification = event_to_notification(ResourceUpdated(uri=uri), meta)
                            await ctx.session.send_notification(notification, related_request_id=subscription_id)
                else:
                    await asyncio.sleep(max(0.0, ends - loop.time()))  # only list-changed flags: nothing fires
        finally:
            self.open_streams[who.tenant_id] -= 1
            if not self.open_streams[who.tenant_id]:
                del self.open_streams[who.tenant_id]
        return SubscriptionsListenResult(_meta=meta)

    async def _revision(self, who: Principal, uri: str, run_id: str) -> int:
        """The run's revision, or the refusal resources/read gives for the same URI (UNKNOWN_RUN, not the
        caller's tenant alike)."""
        try:
            return await self._service.reads.run_revision(who, run_id)
        except WorkbenchError as exc:
            if exc.code is ErrorCode.UNKNOWN_RUN:
                exc = WorkbenchError(ErrorCode.UNKNOWN_RUN, f"No run named {run_id}")
            raise resource_error(exc, uri) from None
