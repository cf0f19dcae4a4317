"""ASGI middleware in front of every route: the Host/Origin check (DNS rebinding) and the request-body deadline.

Both answer with the usual `{"error", "code"}` body. Their codes are HTTP-layer codes (`HTTP_CODES`): they
never reach a tool result, so they are not part of the protocol's error enum.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench_mcp.config import ServerConfig, is_loopback_host, split_host_port

MISDIRECTED_REQUEST = "MISDIRECTED_REQUEST"
FORBIDDEN_ORIGIN = "FORBIDDEN_ORIGIN"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
SERVER_BUSY = "SERVER_BUSY"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
HTTP_CODES = (MISDIRECTED_REQUEST, FORBIDDEN_ORIGIN, REQUEST_TIMEOUT, SERVER_BUSY, METHOD_NOT_ALLOWED)
"""Codes only the HTTP layer answers (421, 403, 408, 503, 405)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


def http_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)


@dataclass(frozen=True, slots=True)
class _Allowed:
    name: str
    port: int | None
    """None: any port (and a Host header without one)."""
    scheme: str | None = None
    """For an Origin: the one scheme allowed (the public URL's); None: http or https."""


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which `Host` and `Origin` values this server answers: any loopback name on any port, the public
    URL's origin, and the configured allowed hosts. Values are parsed, never prefix-matched, so
    `127.0.0.1:evil.com` is refused and `localhost` without a port (port 80, reverse proxies) is accepted."""

    allowed: tuple[_Allowed, ...]

    @classmethod
    def from_config(cls, config: ServerConfig) -> HostPolicy:
        allowed: list[_Allowed] = []
        if config.public_url:
            parts = urlsplit(config.public_url)
            scheme = parts.scheme.lower()
            port = parts.port or _DEFAULT_PORTS.get(scheme)
            allowed.append(_Allowed((parts.hostname or "").lower().removesuffix("."), port, scheme))
        for entry in config.allowed_hosts:
            name, port = split_host_port(entry)
            allowed.append(_Allowed(name, port))
        return cls(tuple(allowed))

    def host_ok(self, value: str | None) -> bool:
        if not value:
            return False
        try:
            name, port = split_host_port(value.strip())
        except ValueError:
            return False
        if is_loopback_host(name):
            return True
        # A Host without a port means the scheme's default one; we cannot see the scheme behind a proxy.
        return any(a.name == name and (a.port is None or port in (None, a.port)) for a in self.allowed)

    def origin_ok(self, value: str) -> bool:
        try:
            parts = urlsplit(value.strip())
            scheme, name, port = parts.scheme.lower(), (parts.hostname or ""), parts.port
        except ValueError:
            return False
        if scheme not in _DEFAULT_PORTS or not name or parts.path or parts.query or parts.fragment:
            return False  # also `null` (sandboxed frames, file: pages): never one of ours
        if is_loopback_host(name):
            return True
        effective = port or _DEFAULT_PORTS[scheme]
        return any(
            a.name == name.lower().removesuffix(".")
            and (a.scheme is None or a.scheme == scheme)
            and (a.port is None or a.port == effective)
            for a in self.allowed
        )


HOST_VERDICTS = 64
"""Distinct Host values whose verdict HostOriginMiddleware keeps (then it starts over)."""


class HostOriginMiddleware:
    """DNS-rebinding protection for every route except `public_paths`.

    A page on a foreign origin whose name is rebound to 127.0.0.1 sends its own name as `Host`; a page
    served by us never sends a foreign `Origin`. Either way the request is refused before any route or
    authentication runs, so single-tenant mode (no token) exposes nothing to a browser on another site.
    """

    def __init__(self, app: ASGIApp, policy: HostPolicy, public_paths: Iterable[str]) -> None:
        self.app = app
        self.policy = policy
        self.public_paths = frozenset(public_paths)
        # The verdict per Host value: a client sends the same one on every request, and parsing it (an
        # ipaddress parse among others) cost more than the rest of this check. Bounded: values are the
        # client's to choose.
        self._hosts: dict[str | None, bool] = {}

    def _host_ok(self, host: str | None) -> bool:
        verdict = self._hosts.get(host)
        if verdict is None:
            if len(self._hosts) >= HOST_VERDICTS:
                self._hosts.clear()
            verdict = self._hosts[host] = self.policy.host_ok(host)
        return verdict

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self._host_ok(headers.get("host")):
            # The value is not echoed: nothing a request forges comes back in a response.
            message = "the Host header is not a name this server answers to (loopback, the public URL, --allowed-hosts)"
            await http_error(421, MISDIRECTED_REQUEST, message)(scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and not self.policy.origin_ok(origin):
            message = "the Origin header may not call this server (loopback, the public URL, --allowed-hosts)"
            await http_error(403, FORBIDDEN_ORIGIN, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyDeadlineMiddleware:
    """A request body must arrive in full within `timeout_s` of its head (1 byte/s is not a client).

    When the deadline passes first, the route is cancelled while it still waits for the body - it has
    done nothing yet, every route reads the whole body before acting - and the client gets 408
    `REQUEST_TIMEOUT` with `Connection: close`.
    """

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        expired = False
        started = False
        cancel = anyio.CancelScope()

        def expire() -> None:
            nonlocal expired
            expired = True
            cancel.cancel()

        timer = asyncio.get_running_loop().call_later(self.timeout_s, expire)

        async def timed_receive() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                timer.cancel()  # the body is complete (or the client left): no deadline from here on
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                timer.cancel()
                started = True
            await send(message)

        try:
            with cancel:
                await self.app(scope, timed_receive, tracking_send)
        finally:
            timer.cancel()
        if expired and not started:
            message = f"the request body did not arrive within {self.timeout_s:g} s"
            await http_error(408, REQUEST_TIMEOUT, message, {"Connection": "close"})(scope, receive, send)


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False
