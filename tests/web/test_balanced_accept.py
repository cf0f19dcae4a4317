"""Accepting on a socket shared by several workers: a connection goes to the worker that holds fewest."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from workbench_mcp.web import balanced_accept
from workbench_mcp.web.accept_board import AcceptBoard, accept_board
from workbench_mcp.web.balanced_accept import MAX_WAIT_S, BalancedAcceptor


class Held(asyncio.Protocol):
    def __init__(self, made: asyncio.Queue[Held]) -> None:
        self._made = made
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._made.put_nowait(self)


class Worker:
    """One worker's acceptor on its own descriptor of the shared listening socket, as after a fork."""

    def __init__(self, listener: socket.socket, board: AcceptBoard | None) -> None:
        self.made: asyncio.Queue[Held] = asyncio.Queue()
        shared = listener.dup()
        self.acceptor = BalancedAcceptor(asyncio.get_running_loop(), lambda: Held(self.made), shared, board)

    async def connections(self, count: int) -> list[Held]:
        return [await asyncio.wait_for(self.made.get(), 10) for _ in range(count)]

    def close(self) -> None:
        self.acceptor.close()
        self.acceptor.sockets[0].close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


@pytest.fixture
def board_path() -> Iterator[Path]:
    with accept_board(workers=2) as path:
        assert path is not None
        yield path


@asynccontextmanager
async def clients(listener: socket.socket, count: int) -> AsyncIterator[None]:
    """`count` clients that connect at once and keep their connection."""
    port = listener.getsockname()[1]
    opened = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(count)))
    try:
        yield
    finally:
        for _, writer in opened:
            writer.close()


async def test_a_burst_of_connections_is_split_evenly(listener: socket.socket, board_path: Path) -> None:
    workers = [Worker(listener, AcceptBoard.at(board_path, slot)) for slot in range(2)]
    try:
        async with clients(listener, 8):
            await asyncio.gather(*(worker.connections(4) for worker in workers))
            await asyncio.sleep(0.05)
            assert [worker.made.qsize() for worker in workers] == [0, 0]  # 4 each, none over
    finally:
        for worker in workers:
            worker.close()


async def test_a_less_loaded_worker_slow_to_wake_still_gets_the_connection(
    listener: socket.socket, board_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CI failure of the fixed-delay version: the idle worker was not scheduled within a millisecond or two,
    so the loaded one took the connection (8 clients split 6/2). Here the idle one wakes 50 ms late; the limit
    is raised so that a stalled test process cannot make the loaded worker give up waiting."""
    monkeypatch.setattr(balanced_accept, "MAX_WAIT_S", 5.0)
    loaded = Worker(listener, AcceptBoard.at(board_path, 0))
    late_board: AcceptBoard | None = None
    late: Worker | None = None
    try:
        async with clients(listener, 2):
            await loaded.connections(2)
            late_board = AcceptBoard.at(board_path, 1)  # on the board, holding none, its loop not back to accept
            async with clients(listener, 1):
                await asyncio.sleep(0.05)
                late = Worker(listener, late_board)
                await late.connections(1)
                assert loaded.made.empty()
    finally:
        loaded.close()
        if late is not None:
            late.close()
        elif late_board is not None:
            late_board.leave()


async def test_a_worker_takes_the_connection_a_less_loaded_one_leaves_waiting(
    listener: socket.socket, board_path: Path
) -> None:
    """The other worker holds none yet never accepts (busy): the connection waits `MAX_WAIT_S`, not forever."""
    busy = AcceptBoard.at(board_path, 1)
    worker = Worker(listener, AcceptBoard.at(board_path, 0))
    loop = asyncio.get_running_loop()
    try:
        async with clients(listener, 1):
            await worker.connections(1)  # holds 0, as few as the busy one: at once
            asked = loop.time()
            async with clients(listener, 1):
                await worker.connections(1)
                assert loop.time() - asked >= MAX_WAIT_S
    finally:
        worker.close()
        busy.leave()


async def test_without_a_board_every_connection_is_accepted(listener: socket.socket) -> None:
    worker = Worker(listener, board=None)
    try:
        async with clients(listener, 5):
            await worker.connections(5)
    finally:
        worker.close()


async def test_the_board_counts_connections_until_they_close(listener: socket.socket, board_path: Path) -> None:
    worker = Worker(listener, AcceptBoard.at(board_path, 0))
    watcher = AcceptBoard.at(board_path, 1)
    try:
        async with clients(listener, 3):
            held = await worker.connections(3)
            assert watcher.fewest_elsewhere() == 3
            for protocol in held:
                assert protocol.transport is not None
                protocol.transport.close()
            await asyncio.sleep(0.05)
            assert watcher.fewest_elsewhere() == 0
        worker.close()
        assert watcher.fewest_elsewhere() is None  # a closed worker takes no more: nobody waits for it
    finally:
        worker.close()
        watcher.leave()
