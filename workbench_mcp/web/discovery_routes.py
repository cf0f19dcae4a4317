"""Public routes (no token): discovery documents, the OpenAPI document and the demo run page.

Every document except the demo page is rendered once, when the app is built: it depends only on the
configuration and the code. CORS is open on the machine-readable documents (MCP discovery requires it
for the catalog and server card, and none of them holds anything private).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from workbench_mcp.config import ServerConfig
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.web import discovery_docs as docs
from workbench_mcp.web.demo_page import CSP, DemoRun
from workbench_mcp.web.error_responses import error_response, workbench_error_response
from workbench_mcp.web.openapi import openapi_document
from workbench_mcp.web.run_routes import OPENAPI_PATH

logger = logging.getLogger(__name__)

JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET", "X-Content-Type-Options": "nosniff"}
DEMO_PATH = "/runs/demo"
MINUTE, HOUR = "public, max-age=60", "public, max-age=3600"


def _document(path: str, text: str, media_type: str, cache: str, *, cors: bool = True) -> Route:
    body = text.encode("utf-8")
    headers = {"Cache-Control": cache, **(CORS if cors else {"X-Content-Type-Options": "nosniff"})}

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=headers)

    return Route(path, endpoint, methods=["GET"])


def _demo_route(demo: DemoRun) -> Route:
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",  # the integrity badge is recomputed on every request
    }

    async def endpoint(request: Request) -> Response:
        try:
            return HTMLResponse(await demo.page(), headers=headers)
        except WorkbenchError as exc:
            return workbench_error_response(exc)
        except Exception:
            logger.exception("rendering /runs/demo failed")
            return error_response(ErrorCode.INTERNAL_ERROR, "Internal server error", 500)

    return Route(DEMO_PATH, endpoint, methods=["GET"])


def _prefers_html(accept: str) -> bool:
    """True when the Accept header ranks text/html above application/json (browsers); ties go to JSON."""

    def quality(media_type: str) -> float:
        best = 0.0
        main = media_type.split("/")[0]
        for part in accept.split(","):
            kind, *params = (p.strip() for p in part.split(";"))
            if kind.lower() not in (media_type, f"{main}/*", "*/*"):
                continue
            q = 1.0
            for param in params:
                name, _, value = param.partition("=")
                if name.strip().lower() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
            best = max(best, q)
        return best

    return quality("text/html") > quality("application/json")


def _home_route(config: ServerConfig) -> Route:
    """`GET /`: where everything is, as a page for browsers and JSON for everything else."""
    page = docs.home_html(config).encode("utf-8")
    document = docs.document_text(docs.home_json(config)).encode("utf-8")
    headers = {"Cache-Control": HOUR, "Vary": "Accept", "X-Content-Type-Options": "nosniff"}

    async def endpoint(request: Request) -> Response:
        if _prefers_html(request.headers.get("accept", "")):
            return Response(
                page, media_type="text/html; charset=utf-8", headers={**headers, "Content-Security-Policy": CSP}
            )
        return Response(document, media_type=JSON, headers={**headers, "Access-Control-Allow-Origin": "*"})

    return Route("/", endpoint, methods=["GET"])


def discovery_routes(config: ServerConfig, demo: DemoRun) -> list[BaseRoute]:
    card = docs.document_text(docs.server_card(config))
    # The SEP-2127 location under each MCP endpoint, plus the well-known path of its predecessor SEP-1649.
    card_paths = [docs.SERVER_CARD_PATH, "/mcp/server-card", "/.well-known/mcp/server-card.json"]
    return [
        _home_route(config),
        _document("/.well-known/mcp.json", docs.document_text(docs.mcp_descriptor(config)), JSON, MINUTE),
        *(_document(path, card, docs.SERVER_CARD_MEDIA_TYPE, HOUR) for path in card_paths),
        _document("/.well-known/mcp/catalog.json", docs.document_text(docs.mcp_catalog(config)), JSON, HOUR),
        _document(
            OPENAPI_PATH,
            docs.document_text(openapi_document(config.base_url, config.limits, read_only=config.read_only)),
            JSON,
            MINUTE,
        ),
        _document("/llms.txt", docs.llms_txt(config), TEXT, HOUR, cors=False),
        _document("/llms-full.txt", docs.llms_full_txt(config), TEXT, HOUR, cors=False),
        _document("/agents.md", docs.agents_md(config), "text/markdown; charset=utf-8", HOUR, cors=False),
        _document("/robots.txt", docs.robots_txt(config), TEXT, HOUR, cors=False),
        _document("/sitemap.xml", docs.sitemap_xml(config), "application/xml; charset=utf-8", HOUR, cors=False),
        _demo_route(demo),
    ]
