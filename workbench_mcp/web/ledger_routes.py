"""HTTP routes of the signed ledger: the public JWKS and `GET /api/runs/{run_id}/attestation`."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from workbench_mcp.auth import current_principal
from workbench_mcp.ledger.keys import KEYS_PATH, jwks
from workbench_mcp.service import RunService
from workbench_mcp.web.run_routes import (
    RUN_PATH,
    DescribedByMiddleware,
    JsonBody,
    _by_method,
    _guarded,
    run_id_of,
    scoped,
)

ATTESTATION_PATH = RUN_PATH + "/attestation"


def keys_route(service: RunService) -> Route:
    """Every public key the ledger ever signed with (retired ones included), public and CORS-open."""
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=60"}

    async def endpoint(request: Request) -> Response:
        keys = [] if service.ledger is None else await service.ledger.published_keys()
        return JsonBody(jwks(keys), headers=headers, media_type="application/jwk-set+json")

    return Route(KEYS_PATH, _guarded(endpoint), methods=["GET"])


def attestation_routes(service: RunService, authenticate: Callable[[ASGIApp], ASGIApp]) -> list[BaseRoute]:
    """`{"bundle": RunBundle, "attestation": DSSE envelope}`; the bundle is export_bundle's, unchanged."""

    async def attestation(request: Request) -> Response:
        bundle, envelope = await service.bundles.export_attestation(current_principal(), run_id_of(request))
        return JsonBody({"bundle": bundle, "attestation": envelope})

    handler = _guarded(_by_method({"GET": scoped(service, attestation)}))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)

    return [Route(ATTESTATION_PATH, DescribedByMiddleware(authenticate(app)))]
