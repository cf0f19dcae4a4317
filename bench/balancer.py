"""A round-robin TCP balancer for the benchmark: each new client connection goes to the next replica in turn.

`python -m bench compare` puts it in front of two `serve` processes (the `ours-pg-2` column), so the unchanged
driver, which takes one URL, spreads its clients (one keep-alive connection each) over both replicas, as a load
balancer in front of N stateless replicas would. It runs on a thread of its own, in the comparing process; its
own CPU is not counted as the servers'. Bytes are copied as they come; nothing is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from dataclasses import dataclass, field

from bench.servers import free_port

CHUNK = 256 * 1024


@dataclass
class RoundRobinBalancer:
    """Listens on 127.0.0.1:`port` (free by default) and forwards connections to `backends` ((host, port)) in turn."""

    backends: list[tuple[str, int]]
    port: int = 0
    connections: int = 0
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _stopped: asyncio.Event | None = field(default=None, init=False, repr=False)

    def url(self, path: str = "/api/mcp") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> RoundRobinBalancer:
        if not self.port:
            self.port = free_port()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="bench-balancer", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the balancer did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        turns = itertools.cycle(self.backends)

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            host, port = next(turns)
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

        server = await asyncio.start_server(accept, "127.0.0.1", self.port)
        async with server:
            ready.set()
            await self._stopped.wait()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()
