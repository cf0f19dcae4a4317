"""How long slow and idle clients keep a socket: real sockets against `workbench-mcp serve` at its defaults.

    python -m bench slow

Concurrently: a connection that never sends a byte; a request head sent one line a second (slowloris);
a body sent one byte a second; a keep-alive connection left idle after one request. Prints, for each,
the seconds until the server closed it and what it answered. Then, with `--max-connections 100`, 110
idle sockets and a /healthz on top (the fd-exhaustion probe). About 35 s.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from bench.servers import OurServer

GIVE_UP_S = 120.0


async def _until_closed(port: int, first: bytes, then: bytes = b"", every_s: float = 1.0) -> tuple[float, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    began = time.monotonic()

    async def drip() -> None:
        writer.write(first)
        while then:
            await asyncio.sleep(every_s)
            writer.write(then)
            await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        answer = await asyncio.wait_for(reader.read(), GIVE_UP_S)
    except TimeoutError:
        return GIVE_UP_S, "still open (gave up)"
    finally:
        dripping.cancel()
        writer.close()
    status = answer.split(b"\r\n", 1)[0].decode() if answer else "closed silently"
    if b'"code"' in answer:
        status += " " + answer.rsplit(b'"code":', 1)[1].strip(b' "}').decode()
    return time.monotonic() - began, status


async def timeouts(port: int) -> list[tuple[str, float, str]]:
    body_head = (
        b"POST /api/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\nContent-Length: 100000\r\n\r\n"
    )
    cases = {
        "silent connection": _until_closed(port, b""),
        "head at 1 line/s": _until_closed(port, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: 1\r\n"),
        "body at 1 byte/s": _until_closed(port, body_head, b" "),
        "idle keep-alive after a request": _until_closed(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    }
    results = await asyncio.gather(*cases.values())
    return [(name, seconds, status) for name, (seconds, status) in zip(cases, results, strict=True)]


async def exhaustion(server: OurServer, idle: int) -> list[str]:
    sockets = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(idle)]
    lines = []
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        busy = await http.get("/healthz")
        lines.append(f"/healthz with {idle} idle sockets open: {busy.status_code} {busy.text}")
        for _ in range(int(GIVE_UP_S * 2)):
            if (again := await http.get("/healthz")).status_code == 200:
                break
            await asyncio.sleep(0.5)
        lines.append(f"/healthz {again.status_code} again after {time.monotonic() - began:.1f} s (idle ones timed out)")
    for _, writer in sockets:
        writer.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        # Single-tenant: the slow body reaches a route that reads it, not a 401 that answers before the body.
        server = OurServer(Path(tmp) / "slow.db", extra_args=["--log-level", "WARNING", "--single-tenant", "bench"])
        server.start()
        try:
            rows = asyncio.run(timeouts(server.port))
        finally:
            server.stop()
        capped = OurServer(Path(tmp) / "capped.db", extra_args=["--log-level", "WARNING", "--max-connections", "100"])
        capped.start()
        try:
            lines = asyncio.run(exhaustion(capped, 110))
        finally:
            capped.stop()
    print("defaults: header timeout 10 s, body timeout 30 s, keep-alive 5 s")
    for name, seconds, status in rows:
        print(f"{seconds:6.1f} s  {name}: {status}")
    print("\n".join(lines))

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
