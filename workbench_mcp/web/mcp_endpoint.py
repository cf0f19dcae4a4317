"""The MCP endpoint: the SDK's Streamable HTTP handler, with plain requests of both eras answered in one step.

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

A 2026-07-28 POST goes through the SDK's own single-exchange code (`_streamable_http_modern`, the same
checks in the same order: security, Accept, JSON, envelope, duplicated routing headers, the classifier's
version/`Mcp-Method`/`Mcp-Name` ladder, `Mcp-Param-*` headers, then `serve_one`) minus three costs measured
with `python -m bench call_cost`: the manager's routing and tracing wrappers, the walk of the called tool's
whole input schema on every call to find `x-mcp-header` annotations (done once per schema here: a schema
without any validates nothing, by the SDK's own definition), and a second serialisation of the result
through the reply model (the reply is the same `json.dumps` text). `subscriptions/listen` (a stream, never
JSON), notifications and everything unusual go to the SDK unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import pydantic_core
from mcp.server import _streamable_http_modern as modern
from mcp.server.connection import Connection
from mcp.server.lowlevel.server import Server
from mcp.server.runner import serve_one
from mcp.server.streamable_http import CONTENT_TYPE_JSON, check_accept_headers
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecurityMiddleware
from mcp.shared.dispatcher import CallOptions, DispatchContext
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.inbound import (
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    InboundModernRoute,
    classify_inbound_request,
    find_duplicated_routing_header,
    find_invalid_x_mcp_header,
    validate_mcp_param_headers,
    x_mcp_header_map,
)
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    DEFAULT_NEGOTIATED_VERSION,
    HEADER_MISMATCH,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
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


def _protocol_version(scope: Scope) -> str | None:
    """The request's one `MCP-Protocol-Version` value (the handshake-era default when absent), None when the
    header is repeated."""
    values = [value for name, value in scope["headers"] if name == _VERSION_HEADER]
    if not values:
        return DEFAULT_NEGOTIATED_VERSION
    return values[0].decode("latin-1") if len(values) == 1 else None


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
        self._param_headers = _ParamHeaderCheck(manager.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET":
            # The spec's answer for "no SSE stream here". The SDK would open one per GET, and on a stateless
            # server nothing can ever be sent on it: each held memory and a socket until the client left.
            message = "this server is stateless: no server-to-client stream; POST JSON-RPC requests instead"
            await http_error(405, METHOD_NOT_ALLOWED, message, {"Allow": "POST, DELETE"})(scope, receive, send)
            return
        version = _protocol_version(scope) if scope["method"] == "POST" else None
        answer: ASGIApp
        if version in HANDSHAKE_PROTOCOL_VERSIONS:
            answer = partial(self._answer, version)
        elif version in MODERN_PROTOCOL_VERSIONS:
            answer = self._answer_modern
        else:
            await self._sdk(scope, receive, send)
            return
        # The SDK's own body limit, in front of the direct path as in front of its own.
        await RequestBodyLimitMiddleware(answer, self._manager.max_request_body_size)(scope, receive, send)

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

    async def _answer_modern(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`handle_modern_request` in JSON mode, step for step; anything it would not answer with a plain
        JSON reply of `serve_one` (a refusal, a notification, a listen stream) is the SDK's to write."""
        request = Request(scope, receive)
        if not self._passes_sdk_checks(request) or await self._security.validate_request(request, is_post=True):
            await self._sdk(scope, receive, send)
            return
        body = await request.body()
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError):
            decoded = None
        if not isinstance(decoded, dict) or "id" not in decoded or decoded.get("method") == "subscriptions/listen":
            await self._sdk(scope, _replaying(body, receive), send)
            return
        try:
            message = JSONRPCRequest.model_validate(decoded)
        except ValidationError:
            await self._sdk(scope, _replaying(body, receive), send)
            return
        route = self._modern_route(request, message, decoded)
        if isinstance(route, InboundLadderRejection):
            await modern._write_rejection(route, message.id, scope, receive, send)
            return
        reply = await self._dispatch_modern(message, request, route)
        if isinstance(reply, JSONRPCError):
            await modern._write(reply, scope, receive, send)
            return
        # `_write`'s own text for a result: the reply model adds nothing to a dict result (exclude_none
        # does not reach into it), so the same `json.dumps` over the same members gives the same bytes.
        text = json.dumps({"jsonrpc": "2.0", "id": message.id, "result": reply.result}, separators=(",", ":"))
        await Response(text, media_type="application/json")(scope, receive, send)

    def _modern_route(
        self, request: Request, message: JSONRPCRequest, decoded: dict[str, Any]
    ) -> InboundModernRoute | InboundLadderRejection:
        duplicated = find_duplicated_routing_header(request.headers.items())
        if duplicated is not None:
            return InboundLadderRejection(code=HEADER_MISMATCH, message=f"{duplicated} header appears more than once")
        verdict = classify_inbound_request(decoded, headers=dict(request.headers))
        if isinstance(verdict, InboundLadderRejection):
            return verdict
        return self._param_headers.rejection(message, request) or verdict

    async def _dispatch_modern(
        self, message: JSONRPCRequest, request: Request, route: InboundModernRoute
    ) -> JSONRPCResponse | JSONRPCError:
        connection = Connection.from_envelope(route.protocol_version, route.client_info, route.client_capabilities)
        context = modern._SingleExchangeDispatchContext(
            transport=TransportContext(kind="streamable-http", can_send_request=False, headers=request.headers),
            request_id=message.id,
            message_metadata=ServerMessageMetadata(request_context=request),
            progress_token=progress_token_from_params(message.params),
        )
        return await self._serve(message, context, connection)

    async def _serve(
        self, message: JSONRPCRequest, context: DispatchContext[TransportContext], connection: Connection
    ) -> JSONRPCResponse | JSONRPCError:
        """The SDK's kernel for one request, with the SDK's mapping of exceptions to the wire (anything
        unmapped is logged and becomes a generic internal error)."""
        coro = serve_one(
            self._manager.app,
            context,
            message.method,
            message.params,
            connection=connection,
            # Entered once by the manager's run(); it keeps it on a private attribute (mcp pinned).
            lifespan_state=self._manager._lifespan_state,
        )
        return await modern._to_jsonrpc_response(message.id, coro)

    @staticmethod
    def _passes_sdk_checks(request: Request) -> bool:
        has_json, _ = check_accept_headers(request)
        content_type = request.headers.get("content-type", "").split(";")[0]
        return has_json and CONTENT_TYPE_JSON in (part.strip() for part in content_type.split(","))

    async def _dispatch(
        self, message: JSONRPCRequest, request: Request, version: str
    ) -> JSONRPCResponse | JSONRPCError:
        context = _OneRequest(message.id, ServerMessageMetadata(request_context=request))
        return await self._serve(message, context, Connection.from_envelope(version, None, None))


class _ParamHeaderCheck:
    """The SDK's `Mcp-Param-*` check for a `tools/call`, with each tool schema's annotations found once.

    `validate_mcp_param_headers` finds them by walking the whole input schema on every call; a schema
    with none (or with an invalid one, which the SDK ignores) can never reject, so the walk is skipped."""

    def __init__(self, app: Server[Any]) -> None:
        self._lookup = app.get_tool_input_schema
        self._annotated: dict[int, tuple[Any, bool]] = {}

    def rejection(self, message: JSONRPCRequest, request: Request) -> InboundLadderRejection | None:
        params = message.params or {}
        name, arguments = params.get("name"), params.get("arguments")
        if message.method != "tools/call" or self._lookup is None or not isinstance(name, str):
            return None
        if arguments is not None and not isinstance(arguments, Mapping):
            return None
        try:
            schema = self._lookup(name)
        except Exception:  # the SDK's fail-open rule: header validation never breaks a working call path
            return None
        if schema is None or not self._has_annotations(schema):
            return None
        return validate_mcp_param_headers(schema, arguments or {}, request.headers)

    def _has_annotations(self, schema: Any) -> bool:
        known = self._annotated.get(id(schema))
        if known is None or known[0] is not schema:  # ids are reused only after the schema is gone
            known = (schema, find_invalid_x_mcp_header(schema) is None and bool(x_mcp_header_map(schema)))
            self._annotated[id(schema)] = known
        return known[1]


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
