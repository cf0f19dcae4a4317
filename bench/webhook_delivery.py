"""`python -m bench webhook`: what a review notice costs the caller, and how fast the webhook delivers it.

In one process, on a temporary SQLite file: a local Starlette/uvicorn receiver that verifies each signature,
and a WebhookNotifier recording every attempt on a real run. Prints the time one `notify` call takes (it only
enqueues), and, for N notices notified at once, the time until the receiver held all of them and until every
attempt was recorded (delivery + one governance record each).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import statistics
import tempfile
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.servers import free_port
from workbench_mcp.config import ServerConfig, WebhookConfig
from workbench_mcp.principal import Principal
from workbench_mcp.review.notice import ReviewNotice
from workbench_mcp.review.webhook import WebhookNotifier
from workbench_mcp.wiring import build_service

SECRET = "bench-webhook-secret-0123456789abcdefghijklmnop"
WHO = Principal("org_bench", subject="bench")


async def _run(count: int) -> None:
    received = 0
    all_received = asyncio.Event()

    async def endpoint(request: Request) -> Response:
        nonlocal received
        body = await request.body()
        fields = dict(part.split("=", 1) for part in request.headers["workbench-signature"].split(","))
        mac = hmac.new(SECRET.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, fields["v1"]):
            return Response(status_code=400)
        received += 1
        if received == count:
            all_received.set()
        return Response(status_code=204)

    port = free_port()
    app = Starlette(routes=[Route("/hook", endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # the receiver did not start: raise its error
        await asyncio.sleep(0.01)
    with tempfile.TemporaryDirectory() as folder:
        service, store = build_service(ServerConfig(db_path=Path(folder) / "bench.db"))
        await store.open()
        try:
            run_id = str((await service.start_run(WHO, "jobSearchWorkflow"))["runId"])
            config = WebhookConfig(f"http://127.0.0.1:{port}/hook", SECRET, queue_size=count)
            notifier = WebhookNotifier(config, store)
            await notifier.start()
            notices = [
                ReviewNotice(
                    f"rr_{i}",
                    WHO.tenant_id,
                    run_id,
                    "jobSearchWorkflow",
                    "parser1",
                    "PAUSE_BEFORE",
                    None,
                    f"reviewer-{i}",
                    "http://127.0.0.1/review/x",
                    "2026-12-04T00:00:00.000Z",
                )
                for i in range(count)
            ]
            costs = []
            started = time.perf_counter()
            for notice in notices:
                before = time.perf_counter()
                await notifier.notify(notice)
                costs.append(time.perf_counter() - before)
            await all_received.wait()
            delivered = time.perf_counter() - started
            await notifier.wait_idle()
            recorded = time.perf_counter() - started
            await notifier.stop()
        finally:
            service.offload.close()
            await store.close()
    server.should_exit = True
    await serving
    costs.sort()
    p50, p99 = statistics.median(costs), costs[int(len(costs) * 0.99) - 1]
    print(f"notify (enqueue only), {count} calls: p50 {p50 * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us")
    print(
        f"{count} notices: all received (signature verified) after {delivered:.2f} s, "
        f"all attempts recorded after {recorded:.2f} s ({count / recorded:.0f} deliveries/s, concurrency 4)"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench webhook")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args(argv)
    asyncio.run(_run(args.count))
    return 0
