"""A real webhook receiver for tests: Starlette on uvicorn on a free loopback port, answering from a script."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.servers import free_port


@dataclass(frozen=True, slots=True)
class Received:
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes
    path: str


@dataclass
class Receiver:
    url: str
    answers: list[Response] = field(default_factory=list)
    """Answered in order, one per request; then 204."""
    hang_s: float = 0.0
    """Seconds to sit on each request before answering (timeouts)."""
    received: list[Received] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        self.received.append(Received(dict(request.headers), await request.body(), request.url.path))
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        return self.answers.pop(0) if self.answers else Response(status_code=204)


@asynccontextmanager
async def running_receiver(*answers: Response, hang_s: float = 0.0) -> AsyncIterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hooks/workbench", list(answers), hang_s)
    app = Starlette(routes=[Route("/{path:path}", receiver.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield receiver
    finally:
        server.should_exit = True
        await task
