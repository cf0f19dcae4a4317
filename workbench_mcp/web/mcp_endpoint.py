"""The MCP endpoint: the SDK's Streamable HTTP handler, with handshake-era requests answered in one step.

Our server is stateless with JSON responses. For a 2026-07-28 request the SDK already answers in
the request's own task. For a handshake-era request (`MCP-Protocol-Version` 2025-11-25 or older,
or none) it builds a transport, two memory-stream pairs, a JSON-RPC dispatcher and a server task
per POST, and the request crosses them twice: measured ~1.3 ms of server CPU per call on top of
the same kernel work, more than our own code costs. Most clients in the field (the reference's
agents, the TypeScript SDK, the shared load driver) speak that era.

`McpEndpoint` answers such a POST the way the stateless SDK path does, minus the plumbing: the
same born-ready `Connection` at the header's version, the same `ServerRunner` kernel via
`serve_one`, the same JSON-RPC reply models serialised the same way, HTTP 200. It takes only the
plain case - a POST that passes the SDK's own DNS-rebinding, Accept and Content-Type checks, whose
body is one JSON-RPC request other than `initialize` - and hands everything else (GET, DELETE,
notifications, batches, bad JSON, `initialize`, modern versions) to the SDK unchanged, with the
body replayed when it was already read. tests/web/test_mcp_endpoint.py checks byte equality of the
replies of both paths.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import pydantic_core
from mcp.server.connection import Connection
from mcp.server.runner import modern_error_data, serve_one
from mcp.server.streamable_http import CONTENT_TYPE_JSON, check_accept_headers
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecurityMiddleware
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import DEFAULT_NEGOTIATED_VERSION, JSONRPCError, JSONRPCRequest, JSONRPCResponse, RequestId
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench_mcp.web.network_guard import METHOD_NOT_ALLOWED, http_error

_VERSION_HEADER = MCP_PROTOCOL_VERSION_HEADER.lower().encode("latin-1")
_TRANSPORT = TransportContext(kind="streamable-http", can_send_request=False)
"""What the SDK's stateless path gives a request: no back channel (no session for a reply to reach)."""


@dataclass
class _OneRequest:
    """The `DispatchContext` of one stateless JSON request: no back channel, notifications have no wire.

    In JSON-response mode the SDK's own path drops a request's notifications and progress too,
    and refuses server-to-client requests with `NoBackChannelError`.
    """

    request_id: RequestId
    message_metadata: ServerMessageMetadata
    transport: TransportContext = _TRANSPORT
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        return None

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None


def _handshake_version(scope: Scope) -> str | None:
    """The request's handshake-era protocol version (the default when absent), None for any other value."""
    values = [value for name, value in scope["headers"] if name == _VERSION_HEADER]
    if not values:
        return DEFAULT_NEGOTIATED_VERSION
    version = values[0].decode("latin-1")
    return version if len(values) == 1 and version in HANDSHAKE_PROTOCOL_VERSIONS else None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` for a handler that must read the body we already read; later calls go to the server."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class McpEndpoint:
    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        if not (manager.stateless and manager.json_response):
            raise ValueError("the direct path serves the stateless JSON-response configuration only")
        self._manager = manager
        self._sdk: ASGIApp = StreamableHTTPASGIApp(manager)
        self._security = TransportSecurityMiddleware(manager.security_settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET":
            # The spec's answer for "no SSE stream here". The SDK would open one per GET, and on a stateless
            # server nothing can ever be sent on it: each held memory and a socket until the client left.
            message = "this server is stateless: no server-to-client stream; POST JSON-RPC requests instead"
            await http_error(405, METHOD_NOT_ALLOWED, message, {"Allow": "POST, DELETE"})(scope, receive, send)
            return
        version = _handshake_version(scope) if scope["method"] == "POST" else None
        if version is None:
            await self._sdk(scope, receive, send)
            return
        # The SDK's own body limit, in front of the direct path as in front of its own.
        direct = RequestBodyLimitMiddleware(partial(self._answer, version), self._manager.max_request_body_size)
        await direct(scope, receive, send)

    async def _answer(self, version: str, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if not self._passes_sdk_checks(request) or await self._security.validate_request(request, is_post=True):
            await self._sdk(scope, receive, send)  # the SDK writes its own refusal
            return
        body = await request.body()
        message = _plain_request(body)
        if message is None:
            await self._sdk(scope, _replaying(body, receive), send)
            return
        reply = await self._dispatch(message, request, version)
        await Response(_reply_text(reply), headers={"Content-Type": CONTENT_TYPE_JSON})(scope, receive, send)

    @staticmethod
    def _passes_sdk_checks(request: Request) -> bool:
        has_json, _ = check_accept_headers(request)
        content_type = request.headers.get("content-type", "").split(";")[0]
        return has_json and CONTENT_TYPE_JSON in (part.strip() for part in content_type.split(","))

    async def _dispatch(
        self, message: JSONRPCRequest, request: Request, version: str
    ) -> JSONRPCResponse | JSONRPCError:
        context = _OneRequest(message.id, ServerMessageMetadata(request_context=request))
        connection = Connection.from_envelope(version, None, None)
        try:
            result = await serve_one(
                self._manager.app,
                context,
                message.method,
                message.params,
                connection=connection,
                # Entered once by the manager's run(); it keeps it on a private attribute (mcp pinned).
                lifespan_state=self._manager._lifespan_state,
            )
        except Exception as exc:  # the SDK's mapping; anything unmapped is logged and never reaches the wire
            return JSONRPCError(jsonrpc="2.0", id=message.id, error=modern_error_data(exc))
        return JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result)


def _reply_text(reply: JSONRPCResponse | JSONRPCError) -> str:
    """The SDK transport's own rendering of a JSON reply, or `\\u` escapes where that cannot encode.

    A lone surrogate is a valid JSON string (docs/protocol.md 5.5) that runs store as given, but it has no
    UTF-8 form and pydantic refuses to write it; the reply then escapes it the way the SDK's
    2026-07-28 path (`json.dumps`) and JavaScript's `JSON.stringify` do.
    """
    try:
        return reply.model_dump_json(by_alias=True, exclude_unset=True)
    except pydantic_core.PydanticSerializationError:
        return json.dumps(reply.model_dump(mode="json", by_alias=True, exclude_unset=True), separators=(",", ":"))


def _decode(body: bytes) -> object:
    """The body as JSON, or None. pydantic's parser refuses `\\ud800` escapes (valid JSON, accepted
    on the 2026-07-28 path); the standard library's parser, which that path uses, takes them."""
    try:
        return pydantic_core.from_json(body)
    except ValueError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _plain_request(body: bytes) -> JSONRPCRequest | None:
    """The body as one JSON-RPC request the direct path answers, or None for the SDK to handle."""
    decoded = _decode(body)
    if not isinstance(decoded, dict) or "id" not in decoded or decoded.get("method") == "initialize":
        return None
    try:
        return JSONRPCRequest.model_validate(decoded, by_name=False)
    except ValidationError:
        return None
