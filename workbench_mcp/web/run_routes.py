"""The REST run repository (docs/protocol.md 8.1) that the reference `HttpRunRepository` talks to.

Each route is a thin adapter: check the URL, read the body, make ONE RunService call, render.
Deliberate differences from the reference deployment (all compatible with its client):

- every error body is `{"error", "code"}`, including the 404 of a missing run (the client treats any
  404 as "no such run" and never reads that body);
- PUT bodies are fully schema-checked (D17), bytes are counted while the body streams in (D22);
- GET sends the run's revision as a strong `ETag`; PUT and DELETE honour `If-Match` (412), so
  clients that want to can stop losing updates (D2);
- the list takes an opaque `cursor`, and says where the next page is in a `Link: rel="next"` header,
  so the body stays the bare `SavedRunMeta[]` array the client requires;
- on a `--read-only` server PUT and DELETE answer 403 `READ_ONLY` (like the MCP write tools there).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench_mcp.auth import current_principal
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.canonical_json import parse_json
from workbench_mcp.protocol.js import to_number
from workbench_mcp.scopes import READ, REST_SCOPES, missing_scope
from workbench_mcp.service import RunService
from workbench_mcp.web.error_responses import error_response, status_for, workbench_error_response

logger = logging.getLogger(__name__)

RUNS_PATH = "/api/runs"
RUN_PATH = "/api/runs/{run_id}"
OPENAPI_PATH = "/api/openapi.json"
DESCRIBED_BY = f'<{OPENAPI_PATH}>; rel="describedby"'

RUN_ID_PATTERN = r"^run_[-a-zA-Z0-9_]+$"
MAX_RUN_ID_LENGTH = 128
_RUN_ID = re.compile(RUN_ID_PATTERN)

Handler = Callable[[Request], Awaitable[Response]]


class JsonBody(Response):
    """Compact JSON. UTF-8 as usual; a string holding a lone surrogate (valid in JSON and JavaScript, not
    encodable as UTF-8) switches that one response to `\\u` escapes instead of failing with a 500."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")


class DescribedByMiddleware:
    """Adds `Link: </api/openapi.json>; rel="describedby"` to every response of the wrapped app,
    401s and 413s included, as a header line of its own (a route's `rel="next"` line stays intact)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_link(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("Link", DESCRIBED_BY)
            await send(message)

        await self.app(scope, receive, send_with_link)


class PreconditionFailed(Exception):
    """If-Match named no current representation (412)."""


# --- request parsing ---------------------------------------------------------------------------------


def list_limit(raw: str | None) -> int | None:
    """The deployment's rule: absent or empty means the default (None); NaN or infinite too; else floor.
    The service then clamps to 1..500, so `?limit=abc` lists 100 runs instead of none (D8)."""
    if raw is None or raw == "":
        return None
    number = to_number(raw)
    if not math.isfinite(number):
        return None
    return math.floor(number)


def run_id_of(request: Request) -> str:
    run_id: str = request.path_params["run_id"]
    if len(run_id) > MAX_RUN_ID_LENGTH or not _RUN_ID.fullmatch(run_id):
        raise WorkbenchError(ErrorCode.INVALID_INPUT, "Invalid run id")
    return run_id


def etag(revision: int) -> str:
    return f'"{revision}"'


def _entity_tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


async def expected_revision(request: Request, service: RunService, run_id: str) -> int | None:
    """If-Match -> the revision the write must find (the store checks it atomically), or None without one.

    `*` and lists of tags need the current revision first; weak or malformed tags never match
    (RFC 9110 13.1.1 compares strongly)."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    tags = _entity_tags(header)
    wanted = {int(t[1:-1]) for t in tags if re.fullmatch(r'"\d{1,16}"', t)}
    if len(tags) == 1 and len(wanted) == 1:
        return wanted.pop()
    try:
        current = await service.reads.run_revision(current_principal(), run_id)
    except WorkbenchError as exc:
        if exc.code is ErrorCode.UNKNOWN_RUN:
            raise PreconditionFailed(f"If-Match: run {run_id} does not exist") from None
        raise
    if "*" in tags or current in wanted:
        return current
    raise PreconditionFailed(f"If-Match: run {run_id} is at revision {current}")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with LIMIT_EXCEEDED as soon as it is known to exceed `limit` bytes: from
    Content-Length before reading anything, else while it streams in, so nothing larger is buffered."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> WorkbenchError:
    return WorkbenchError(ErrorCode.LIMIT_EXCEEDED, f"Body exceeds {limit} byte limit")


# --- endpoints -----------------------------------------------------------------------------------


def _guarded(handler: Handler) -> Handler:
    """WorkbenchError -> its `{"error", "code"}` response; anything else -> a logged 500 that leaks nothing."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except PreconditionFailed as exc:
            return error_response(ErrorCode.REVISION_CONFLICT, str(exc), 412)
        except WorkbenchError as exc:
            if exc.code is ErrorCode.REVISION_CONFLICT and "if-match" in request.headers:
                return error_response(exc.code, exc.message, 412)
            return workbench_error_response(exc)
        except Exception:
            logger.exception("%s %s failed", request.method, request.url.path)
            return error_response(ErrorCode.INTERNAL_ERROR, "Internal server error", 500)

    return endpoint


def _by_method(handlers: Mapping[str, Handler]) -> Handler:
    allowed = ", ".join(handlers)

    async def endpoint(request: Request) -> Response:
        handler = handlers.get(request.method)
        if handler is None:
            message = f"Method {request.method} not allowed (allowed: {allowed})"
            return error_response(ErrorCode.INVALID_INPUT, message, 405, {"Allow": allowed})
        return await handler(request)

    return endpoint


async def refuse_read_only(request: Request) -> Response:
    """A write on a `--read-only` server: refused before the body is read, nothing changes."""
    message = (
        f"This server is read-only (--read-only / WORKBENCH_READ_ONLY): {request.method} is not accepted;"
        " a server started without --read-only accepts it"
    )
    return error_response(ErrorCode.READ_ONLY, message, status_for(ErrorCode.READ_ONLY))


def scoped(service: RunService, handler: Handler) -> Handler:
    """Refuse a caller whose token lacks the method's scope (REST_SCOPES) before anything is read: 403
    INSUFFICIENT_SCOPE with the MCP authorization spec's challenge, and an audit record on the run."""

    async def endpoint(request: Request) -> Response:
        who = current_principal()
        needed = REST_SCOPES.get(request.method, READ)
        refusal = missing_scope(who.scopes, needed)
        if refusal is None:
            return await handler(request)
        run_id = request.path_params.get("run_id")
        tool = f"{request.method} {RUNS_PATH}" + ("/{runId}" if run_id is not None else "")
        await service.record_denial(who, tool, {"runId": run_id} if run_id else {}, refusal)
        challenge = f'Bearer error="insufficient_scope", scope="{needed}", error_description="{refusal.message}"'
        return error_response(refusal.code, refusal.message, 403, {"WWW-Authenticate": challenge})

    return endpoint


def run_endpoints(service: RunService, *, read_only: bool = False) -> tuple[Handler, Handler]:
    """(collection endpoint, item endpoint): request handlers that expect the principal to be set."""

    async def list_runs(request: Request) -> Response:
        limit = list_limit(request.query_params.get("limit"))
        cursor = request.query_params.get("cursor") or None
        page = await service.reads.list_runs(current_principal(), limit=limit, cursor=cursor)
        headers = {}
        if page.next_cursor:
            query = ({} if limit is None else {"limit": str(limit)}) | {"cursor": page.next_cursor}
            headers["Link"] = f'<{RUNS_PATH}?{urlencode(query)}>; rel="next"'
        return JsonBody(page.items, headers=headers)

    async def get_run(request: Request) -> Response:
        state = await service.reads.get_run(current_principal(), run_id_of(request))
        return JsonBody(state, headers={"ETag": etag(state["revision"])})

    async def put_run(request: Request) -> Response:
        run_id = run_id_of(request)
        expected = await expected_revision(request, service, run_id)
        body = parse_json(await read_body(request, service.limits.max_bundle_bytes))
        revision = await service.save_serialized(current_principal(), run_id, body, expected_revision=expected)
        return Response(status_code=204, headers={"ETag": etag(revision)})

    async def delete_run(request: Request) -> Response:
        run_id = run_id_of(request)
        expected = await expected_revision(request, service, run_id)
        await service.delete_run(current_principal(), run_id, expected_revision=expected)
        return Response(status_code=204)

    writes: dict[str, Handler] = {"PUT": put_run, "DELETE": delete_run}
    if read_only:
        writes = dict.fromkeys(writes, refuse_read_only)
    collection = _guarded(_by_method({"GET": scoped(service, list_runs)}))
    item = _guarded(_by_method({"GET": scoped(service, get_run)} | {m: scoped(service, h) for m, h in writes.items()}))
    return collection, item


def run_routes(
    service: RunService, authenticate: Callable[[ASGIApp], ASGIApp], *, read_only: bool = False
) -> list[BaseRoute]:
    """`/api/runs` and `/api/runs/{run_id}`: Link header outermost, then authentication, then the handler."""
    collection, item = run_endpoints(service, read_only=read_only)

    def wrap(handler: Handler) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            response = await handler(Request(scope, receive))
            await response(scope, receive, send)

        return DescribedByMiddleware(authenticate(app))

    # An ASGI app as endpoint gets every method; _by_method answers the ones we do not serve.
    return [Route(RUNS_PATH, wrap(collection)), Route(RUN_PATH, wrap(item))]
