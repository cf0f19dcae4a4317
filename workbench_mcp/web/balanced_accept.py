"""An even spread of connections over `serve --workers N`: the least-loaded worker accepts.

The workers share one listening socket, and a new connection wakes every one of them. The event loop's
accept, though, takes every pending connection in one go, so whichever worker woke first took a whole
burst: 8 clients connecting at once landed 8/0, 7/1 or 6/2 as often as 4/4 (measured with `ss` on
`serve --workers 2`), and since clients keep their connections, one worker served most of the load while
the other idled (start_run at c=8: 635 calls/s on 8/0 against 1,063 on 4/4).

Here a worker takes one connection per wake-up, and only when no other living worker holds fewer
connections (the `AcceptBoard` every worker publishes its count on). Otherwise it looks again every
`RECHECK_S`, leaving the connection to the less-loaded worker; if that one has not taken it within
`MAX_WAIT_S` (busy with a long request), this one does. A balanced server therefore accepts at once,
and a single worker, or one started without a board, never waits.

An earlier version waited a fixed time per connection held instead of asking the others. It depended on
the other worker being scheduled within about a millisecond, which a loaded CI machine did not always do
(a 6/2 split of 8 clients).
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench_mcp.web.accept_board import ACCEPT_BOARD_ENV, AcceptBoard

logger = logging.getLogger("workbench_mcp")

RECHECK_S = 0.0005
MAX_WAIT_S = 0.02
"""How long a connection may wait for a less-loaded worker: it bounds the latency a busy worker can add."""
ACCEPT_ERROR_PAUSE_S = 0.1
"""After an accept error other than "someone else took it" (EMFILE, ENOBUFS): a pause instead of a spin."""

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class BalancedAcceptor:
    """Accepts on `sock` for `loop`, one connection per wake-up, leaving it to a worker that holds fewer.

    Stands in for the `asyncio.Server` uvicorn keeps: `close`, `wait_closed` and `sockets`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol_factory: ProtocolFactory,
        sock: socket.socket,
        board: AcceptBoard | None,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        self._board = board
        self._open = 0
        """Connections accepted here and not lost yet, counted at `accept` (the protocol comes a loop turn later)."""
        self._pending: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._waiting_since: float | None = None
        """When this worker began leaving a pending connection to a less-loaded one."""
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)
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
        if self._timer is None:
            self._loop.remove_reader(self._sock.fileno())
        else:
            self._timer.cancel()
        if self._board is not None:
            self._board.leave()

    async def wait_closed(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _on_readable(self) -> None:
        if self._leave_to_another():
            self._loop.remove_reader(self._sock.fileno())  # level-triggered: else woken again at once
            self._timer = self._loop.call_later(RECHECK_S, self._recheck)
            return
        self._accept_one()

    def _leave_to_another(self) -> bool:
        """Whether another worker holding fewer connections should take the pending one (and still may)."""
        fewest = None if self._board is None else self._board.fewest_elsewhere()
        if fewest is None or self._open <= fewest:
            self._waiting_since = None
            return False
        now = self._loop.time()
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since < MAX_WAIT_S

    def _recheck(self) -> None:
        """A pending connection was left to another worker: take it if still there and still ours to take."""
        self._timer = None
        if self._closed:
            return
        if not self._poll.poll(0):  # another worker took it
            self._waiting_since = None
            self._loop.add_reader(self._sock.fileno(), self._on_readable)
            return
        if self._leave_to_another():
            self._timer = self._loop.call_later(RECHECK_S, self._recheck)
            return
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        self._accept_one()

    def _resume(self) -> None:
        self._timer = None
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._on_readable)

    def _accept_one(self) -> None:
        self._waiting_since = None  # the wait was for this connection; the next one waits afresh
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError as exc:
            logger.warning("accept failed (%s); pausing new connections for %.1f s", exc, ACCEPT_ERROR_PAUSE_S)
            self._loop.remove_reader(self._sock.fileno())
            self._timer = self._loop.call_later(ACCEPT_ERROR_PAUSE_S, self._resume)
            return
        self._held(+1)
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the loop's own accept does
        task = self._loop.create_task(self._loop.connect_accepted_socket(self._counted, conn))
        self._pending.add(task)
        task.add_done_callback(self._connected)

    def _held(self, change: int) -> None:
        self._open += change
        if self._board is not None and not self._closed:
            self._board.hold(self._open)

    def _counted(self) -> asyncio.BaseProtocol:
        protocol = self._factory()
        lost = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            self._held(-1)
            lost(exc)

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        return protocol

    def _connected(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        failure = None if task.cancelled() else task.exception()
        if task.cancelled() or failure is not None:  # connection_lost will never come for it
            self._held(-1)
        if failure is not None:
            logger.warning("could not set up an accepted connection: %s", failure)


def _balanced(base: type[asyncio.AbstractEventLoop]) -> type[asyncio.AbstractEventLoop]:
    class BalancedLoop(base):  # type: ignore[valid-type,misc]
        """`create_server(sock=...)` (how uvicorn serves a socket it was handed) accepts the balanced way."""

        async def create_server(self, protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
            sock = kwargs.get("sock")
            if args or sock is None or kwargs.get("ssl") is not None:
                return await super().create_server(protocol_factory, *args, **kwargs)
            return BalancedAcceptor(self, protocol_factory, sock, _join_board())

    return BalancedLoop


def _join_board() -> AcceptBoard | None:
    """This worker's slot on the board its supervisor named; None (accept without asking) when there is none."""
    path = os.environ.get(ACCEPT_BOARD_ENV)
    if not path:
        return None
    board = AcceptBoard.join(Path(path))
    if board is None:
        logger.warning("every slot of the accept board %s is taken; this worker accepts without balancing", path)
    return board


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
