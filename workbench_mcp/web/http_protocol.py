"""uvicorn's httptools protocol with the two limits uvicorn lacks, and the uvicorn settings every server uses.

uvicorn bounds only the idle time *between* requests (`timeout_keep_alive`). A connection that never
sends a byte, or sends its request head one line a second, holds a socket and a file descriptor
forever; enough of them and `accept()` fails for everyone (EMFILE). So:

- the request head must be complete within `header_timeout_s` of the connection opening (or of the
  first byte after a keep-alive pause); a silent connection is closed, a partial head gets 408;
- at most `max_connections` connections per process are served; a request on any connection beyond
  that gets 503 `SERVER_BUSY` (JSON, `Connection: close`) instead of uvicorn's plain-text 503.

The body deadline is an ASGI middleware (web/network_guard.py), where the route can be cancelled.
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from workbench_mcp.config import ConnectionLimits
from workbench_mcp.web.network_guard import REQUEST_TIMEOUT, SERVER_BUSY, http_error


def _raw_response(status_line: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": message, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status_line}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _server_busy(scope: Any, receive: Any, send: Any) -> None:
    message = "the server has too many open connections; retry shortly"
    await http_error(503, SERVER_BUSY, message, {"Connection": "close", "Retry-After": "1"})(scope, receive, send)


class LimitedHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_timeout_s = limits.header_timeout_s
        self._max_connections = limits.max_connections
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            # Answer the request when its head arrives: closing now would reset the connection under a
            # client that is still sending, and it would never read why.
            self.app = _server_busy
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head():
            if self._head_timer is None:
                self._arm_head_timer()  # first bytes after a keep-alive pause
            self._head_bytes = True
        super().data_received(data)
        if self._head_timer is not None and not self._awaiting_head():
            self._head_timer.cancel()
            self._head_timer = None
            self._head_bytes = False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self._header_timeout_s, self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._awaiting_head():
            return
        draining = self.cycle is not None and self.cycle.more_body  # the rest of an answered request's body
        if self._head_bytes and not draining:
            message = f"the request head did not arrive within {self._header_timeout_s:g} s"
            self.transport.write(_raw_response("408 Request Timeout", REQUEST_TIMEOUT, message))
        self.transport.close()


def uvicorn_settings(limits: ConnectionLimits) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config` shared by `serve`, its workers and the test servers."""
    return {"http": partial(LimitedHttpProtocol, limits=limits), "timeout_keep_alive": limits.keep_alive_s}
