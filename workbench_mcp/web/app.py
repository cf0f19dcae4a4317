"""create_app(config): the Starlette app serving MCP (Streamable HTTP) at /api/mcp and /mcp, plus public routes.

Routes are data: `_public_routes` (health, RFC 9728 discovery) never require a token; `_mcp_routes` are
behind BearerAuthMiddleware, as are the REST routes (`run_routes`); the discovery documents and the demo page
(`discovery_routes`) are public.
MCP runs stateless with JSON responses: any replica can answer any request, and every request is
answered on its own, so overlapping requests never share a transport (D21 fixed); `McpEndpoint`
answers handshake-era requests without the SDK's per-request transport (web/mcp_endpoint.py).
In front of every route: the Host/Origin check and the request-body deadline (web/network_guard.py);
the header timeout and the connection cap live in the HTTP protocol (web/http_protocol.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from workbench_mcp import __version__
from workbench_mcp.auth import JwtVerifier
from workbench_mcp.config import ServerConfig
from workbench_mcp.errors import ErrorCode
from workbench_mcp.mcp_server.server import WorkbenchMCP, build_mcp_server
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.bundle import PROTOCOL_VERSION
from workbench_mcp.review.notice import ReviewNotifier
from workbench_mcp.review.webhook import notifier_from, serving
from workbench_mcp.service import RunService
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.web.bearer_auth import BearerAuthMiddleware
from workbench_mcp.web.demo_page import DemoRun
from workbench_mcp.web.discovery_routes import DEMO_PATH, discovery_routes
from workbench_mcp.web.fairness import FairnessMiddleware, FairScheduler
from workbench_mcp.web.ledger_routes import attestation_routes, keys_route
from workbench_mcp.web.mcp_endpoint import McpEndpoint
from workbench_mcp.web.network_guard import BodyDeadlineMiddleware, HostOriginMiddleware, HostPolicy
from workbench_mcp.web.rate_limit import RateLimitMiddleware, TenantRateLimiter
from workbench_mcp.web.review_page import form_key
from workbench_mcp.web.review_routes import review_routes
from workbench_mcp.web.run_routes import run_routes
from workbench_mcp.wiring import (
    ConfiguredStore,
    build_review,
    build_service,
    open_demo_service,
    request_state_key,
    review_link_key,
)

MCP_PATHS = ("/api/mcp", "/mcp")
"""/api/mcp is the reference deployment's path; /mcp is the SDK's conventional one."""
PROTECTED_RESOURCE = "/.well-known/oauth-protected-resource"


def transport_security(config: ServerConfig) -> TransportSecuritySettings:
    """The SDK's own Host/Origin check is off: HostOriginMiddleware runs it for every route, in front of
    authentication, with parsed (not prefix-matched) hosts. The SDK still checks Content-Type."""
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def protected_resource_metadata(config: ServerConfig, path: str) -> dict[str, Any]:
    """RFC 9728 document for the resource at `path` ("" = the whole server)."""
    document: dict[str, Any] = {
        "resource": config.base_url + path,
        "bearer_methods_supported": ["header"],
        "resource_name": "workbench-mcp",
        "scopes_supported": [],
    }
    if config.jwt.issuer:
        document["authorization_servers"] = [config.jwt.issuer]
    return document


def _public_routes(config: ServerConfig, store: ConfiguredStore) -> list[BaseRoute]:
    async def healthz(request: Request) -> JSONResponse:
        problem = store.file_problem()  # one os.stat: the database file is still the one being written
        if problem is None and isinstance(store, PostgresRunStore):
            problem = await store.reachability_problem()  # one round trip: the database answers
        if problem is not None:
            return JSONResponse({"ok": False, "error": problem, "code": ErrorCode.STORAGE_UNAVAILABLE.value}, 503)
        return JSONResponse({"ok": True, "version": __version__, "protocolVersion": PROTOCOL_VERSION})

    def metadata_route(path: str) -> Route:
        document = protected_resource_metadata(config, path)

        async def endpoint(request: Request) -> JSONResponse:
            return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})

        return Route(PROTECTED_RESOURCE + path, endpoint, methods=["GET"])

    return [
        Route("/healthz", healthz, methods=["GET"]),
        metadata_route(""),
        *(metadata_route(path) for path in MCP_PATHS),
    ]


def _admission(
    app: ASGIApp, limiter: TenantRateLimiter, scheduler: FairScheduler | None, *, streams: tuple[str, ...] = ()
) -> ASGIApp:
    """Behind the bearer check, keyed on the verified tenant: the rate limit, then a fair slot for the work.
    `streams`: methods whose response is a long-lived stream, which must never hold a slot."""
    fair = FairnessMiddleware(app, scheduler=scheduler, unscheduled_methods=streams)
    return RateLimitMiddleware(fair, limiter=limiter)


@dataclass(frozen=True, slots=True)
class _Callers:
    """How every protected route learns its caller: ONE verifier (one token cache, one JWKS cache)
    for MCP and REST alike, or the loopback single-tenant principal."""

    verifier: JwtVerifier | None
    single: Principal | None

    @classmethod
    def from_config(cls, config: ServerConfig) -> _Callers:
        if config.single_tenant is not None:
            return cls(verifier=None, single=Principal(config.single_tenant, subject="local"))
        return cls(verifier=JwtVerifier(config.jwt), single=None)


def _mcp_routes(
    config: ServerConfig,
    server: WorkbenchMCP,
    callers: _Callers,
    limiter: TenantRateLimiter,
    scheduler: FairScheduler | None,
) -> list[BaseRoute]:
    # streamable_http_app() creates the session manager; we route its ASGI handler ourselves, at two paths.
    server.streamable_http_app(
        streamable_http_path=MCP_PATHS[0],
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(config),
    )
    endpoint = McpEndpoint(server.session_manager)
    return [
        Route(
            path,
            BearerAuthMiddleware(
                _admission(endpoint, limiter, scheduler, streams=("GET",)),
                verifier=callers.verifier,
                resource_metadata_url=config.base_url + PROTECTED_RESOURCE + path,
                single_tenant=callers.single,
            ),
            methods=["GET", "POST", "DELETE"],
        )
        for path in MCP_PATHS
    ]


def _rest_routes(
    config: ServerConfig,
    service: RunService,
    callers: _Callers,
    limiter: TenantRateLimiter,
    scheduler: FairScheduler | None,
) -> list[BaseRoute]:
    """/api/runs: the same bearer authentication, rate limit and fair admission as MCP, in front of each route."""

    def authenticate(app: ASGIApp) -> ASGIApp:
        return BearerAuthMiddleware(
            _admission(app, limiter, scheduler),
            verifier=callers.verifier,
            resource_metadata_url=config.base_url + PROTECTED_RESOURCE,
            single_tenant=callers.single,
        )

    return [*run_routes(service, authenticate, read_only=config.read_only), *attestation_routes(service, authenticate)]


def create_app(config: ServerConfig, *, notifier: ReviewNotifier | None = None) -> Starlette:
    """The whole HTTP surface. With neither a JWT key nor single-tenant mode configured, startup is refused.
    `notifier` delivers review requests (README "Human review"); None: nobody is notified."""
    if config.single_tenant is None and not config.jwt.has_key:
        raise ValueError("no JWT secret, public key or JWKS URL configured (and not in single-tenant mode)")
    service, store = build_service(config)
    if notifier is None:
        notifier = notifier_from(config.webhook, store)  # review notices (README "Human review")
    review = build_review(config, service, notifier)
    server = build_mcp_server(service, config.toolsets, config.read_only, review, request_state_key(config))
    demo = DemoRun()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Starlette never runs a mounted app's lifespan: the session manager must be started here.
        await store.open()
        try:
            # The notifier stops before the store closes: deliveries still held are recorded as abandoned.
            async with serving(notifier), server.session_manager.run(), open_demo_service() as demo_service:
                demo.attach(demo_service)
                try:
                    yield
                finally:
                    demo.attach(None)
        finally:
            service.offload.close()
            await store.close()

    limiter = TenantRateLimiter(config.rate_limit)  # one set of buckets and slots for MCP and REST alike
    slots = config.rate_limit.fair_slots
    scheduler = FairScheduler(slots) if slots > 0 else None
    callers = _Callers.from_config(config)
    public = [*_public_routes(config, store), *discovery_routes(config, demo), keys_route(service)]
    routes = [
        # MCP first: the router tries routes in order (a regex each), and nearly every request is an MCP call.
        # Every path here is distinct, so the order decides nothing else.
        *_mcp_routes(config, server, callers, limiter, scheduler),
        *public,
        *_rest_routes(config, service, callers, limiter, scheduler),
        # The review link authenticates these (no bearer token); the Host/Origin check and the limiter apply.
        *review_routes(
            review,
            limiter,
            csrf_key=form_key(review_link_key(config)[0]),
            secure_cookies=config.base_url.startswith("https://"),
        ),
    ]
    # Public: health and the discovery documents, which are CORS-open by design (any page may read them
    # anyway), hold no tenant data and are rendered from the configuration, never from the request. The
    # demo page, REST, MCP and every unknown path get the Host/Origin check.
    public_paths = [route.path for route in public if isinstance(route, Route) and route.path != DEMO_PATH]
    middleware = [
        Middleware(HostOriginMiddleware, policy=HostPolicy.from_config(config), public_paths=public_paths),
        Middleware(BodyDeadlineMiddleware, timeout_s=config.connections.body_timeout_s),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.service = service
    app.state.mcp_server = server
    app.state.review = review
    app.state.config = config
    app.state.notifier = notifier
    app.state.rate_limiter = limiter
    app.state.fair_scheduler = scheduler
    return app
