"""An even spread of connections over `serve --workers N`: the least-loaded worker accepts first.

The workers share one listening socket, and a new connection wakes every one of them. The event loop's
accept, though, takes every pending connection in one go, so whichever worker woke first took a whole
burst: 8 clients connecting at once landed 8/0, 7/1 or 6/2 as often as 4/4 (measured with `ss` on
`serve --workers 2`), and since clients keep their connections, one worker served most of the load while
the other idled (start_run at c=8: 635 calls/s on 8/0 against 1,063 on 4/4).

Here a worker takes one connection per wake-up, after a delay of `ACCEPT_STEP_S` per connection it
already holds (at most `ACCEPT_MAX_DELAY_S`). Among responsive workers the one holding fewest connections
tries first and gets it; a worker busy with a request lets an idle one take it. A worker that holds none
accepts at once, so a single worker (or a quiet server) adds no latency.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("workbench_mcp")

ACCEPT_STEP_S = 0.0002
ACCEPT_MAX_DELAY_S = 0.002
ACCEPT_ERROR_PAUSE_S = 0.1
"""After an accept error other than "someone else took it" (EMFILE, ENOBUFS): a pause instead of a spin."""

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class BalancedAcceptor:
    """Accepts on `sock` for `loop`, one connection per wake-up, later the more connections it holds.

    Stands in for the `asyncio.Server` uvicorn keeps: `close`, `wait_closed` and `sockets`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol_factory: ProtocolFactory, sock: socket.socket):
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        self._open = 0
        """Connections accepted here and not lost yet, counted at `accept` (the protocol comes a loop turn later)."""
        self._pending: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._on_readable)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._loop.remove_reader(self._sock.fileno())

    async def wait_closed(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _on_readable(self) -> None:
        delay = min(max(self._open, 0) * ACCEPT_STEP_S, ACCEPT_MAX_DELAY_S)
        if delay == 0:
            self._accept_one()
            return
        self._loop.remove_reader(self._sock.fileno())  # level-triggered: else woken again at once
        self._timer = self._loop.call_later(delay, self._accept_after_delay)

    def _accept_after_delay(self) -> None:
        self._timer = None
        if self._closed:
            return
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        self._accept_one()

    def _accept_one(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError as exc:
            logger.warning("accept failed (%s); pausing new connections for %.1f s", exc, ACCEPT_ERROR_PAUSE_S)
            self._loop.remove_reader(self._sock.fileno())
            self._timer = self._loop.call_later(ACCEPT_ERROR_PAUSE_S, self._accept_after_delay)
            return
        self._open += 1
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the loop's own accept does
        task = self._loop.create_task(self._loop.connect_accepted_socket(self._counted, conn))
        self._pending.add(task)
        task.add_done_callback(self._connected)

    def _counted(self) -> asyncio.BaseProtocol:
        protocol = self._factory()
        lost = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            self._open -= 1
            lost(exc)

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        return protocol

    def _connected(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        failure = None if task.cancelled() else task.exception()
        if task.cancelled() or failure is not None:  # connection_lost will never come for it
            self._open -= 1
        if failure is not None:
            logger.warning("could not set up an accepted connection: %s", failure)


def _balanced(base: type[asyncio.AbstractEventLoop]) -> type[asyncio.AbstractEventLoop]:
    class BalancedLoop(base):  # type: ignore[valid-type,misc]
        """`create_server(sock=...)` (how uvicorn serves a socket it was handed) accepts the balanced way."""

        async def create_server(self, protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
            sock = kwargs.get("sock")
            if args or sock is None or kwargs.get("ssl") is not None:
                return await super().create_server(protocol_factory, *args, **kwargs)
            return BalancedAcceptor(self, protocol_factory, sock)

    return BalancedLoop


def _loop_class() -> type[asyncio.AbstractEventLoop]:
    """uvloop when installed (as uvicorn's "auto" picks), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return _balanced(asyncio.SelectorEventLoop)
    return _balanced(uvloop.Loop)


def new_balanced_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's `loop=` hook (`Config(loop="module:callable")`): a callable that makes the loop."""
    return _LOOP_CLASS()


_LOOP_CLASS = _loop_class()
