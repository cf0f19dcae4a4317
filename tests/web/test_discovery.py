"""Discovery documents: generated from the live registry, models and error table; URLs from the configured
public URL only (D23); the repository's published copies equal what the server serves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from tests.servers import mcp_client, running_server, server_config, token
from workbench_mcp import __version__
from workbench_mcp.config import DEFAULT_TOOLSETS, RateLimitConfig, ServerConfig
from workbench_mcp.errors import ErrorCode
from workbench_mcp.protocol.run import SavedRunMeta
from workbench_mcp.protocol.serialized_run import SerializedRun
from workbench_mcp.protocol.trace_events import TRACE_EVENT_TYPES
from workbench_mcp.web.discovery_docs import PUBLISHED, REGISTRY_NAME, server_card
from workbench_mcp.web.openapi import component_schemas

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://workbench.example.org"
PUBLIC_DOCUMENTS = [
    "/.well-known/mcp.json",
    "/.well-known/mcp/catalog.json",
    "/.well-known/mcp/server-card.json",
    "/api/mcp/server-card",
    "/mcp/server-card",
    "/api/openapi.json",
    "/llms.txt",
    "/llms-full.txt",
    "/agents.md",
    "/robots.txt",
    "/sitemap.xml",
    "/runs/demo",
    "/healthz",
]


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return server_config(tmp_path, public_url=PUBLIC_URL)


async def get(base_url: str, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url) as client:
        return await client.get(path, headers=headers)


async def test_every_discovery_document_is_public(base_url: str) -> None:
    for path in PUBLIC_DOCUMENTS:
        response = await get(base_url, path)
        assert response.status_code == 200, path
        assert response.content, path


async def _decline(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="decline")


async def test_mcp_json_lists_exactly_the_live_tools_with_their_real_descriptions(base_url: str) -> None:
    descriptor = (await get(base_url, "/.well-known/mcp.json")).json()
    # A client that can be asked (elicitation) is offered every tool, ask_user_to_review included.
    async with mcp_client(base_url + "/api/mcp", token("alice"), elicitation_callback=_decline) as client:
        tools = (await client.list_tools()).tools
    assert descriptor["tools"] == [{"name": t.name, "description": t.description} for t in tools]
    assert {"verify_run_integrity", "validate_run_bundle", "begin_step", "log_model_io"} <= {t.name for t in tools}
    assert descriptor["auth"] == {"type": "bearer", "documentation": PUBLIC_URL + "/agents.md#authentication"}
    assert (descriptor["name"], descriptor["version"], descriptor["transport"]) == (
        "llm-workbench",
        "1.0.0",
        "streamable-http",
    )


async def test_forged_host_headers_never_reach_a_document(base_url: str) -> None:
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "gopher"}
    for path in PUBLIC_DOCUMENTS:
        text = (await get(base_url, path, **forged)).text
        assert "evil.example" not in text, path
    descriptor = (await get(base_url, "/.well-known/mcp.json", **forged)).json()
    assert descriptor["endpoint"] == PUBLIC_URL + "/api/mcp"
    assert (await get(base_url, "/api/openapi.json", **forged)).json()["servers"] == [{"url": PUBLIC_URL}]


async def test_mcp_json_headers_match_the_reference(base_url: str) -> None:
    response = await get(base_url, "/.well-known/mcp.json")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.text.startswith('{\n  "name": "llm-workbench",')  # two-space pretty JSON


async def test_server_card_and_catalog(base_url: str) -> None:
    card_response = await get(base_url, "/api/mcp/server-card")
    assert card_response.headers["content-type"] == "application/mcp-server-card+json"
    assert card_response.headers["access-control-allow-origin"] == "*"
    card = card_response.json()
    assert card["name"] == REGISTRY_NAME
    assert card["version"] == __version__
    assert card["remotes"][0]["type"] == "streamable-http"
    assert card["remotes"][0]["url"] == PUBLIC_URL + "/api/mcp"
    assert "2025-11-25" in card["remotes"][0]["supportedProtocolVersions"]
    assert len(card["description"]) <= 100
    catalog = (await get(base_url, "/.well-known/mcp/catalog.json")).json()
    assert catalog["specVersion"] == "draft"
    [entry] = catalog["entries"]
    assert entry["identifier"] == "urn:air:workbench.example.org:workbench-mcp"
    assert entry["type"] == "application/mcp-server-card+json"
    assert entry["url"] == PUBLIC_URL + "/api/mcp/server-card"
    assert (await get(base_url, "/.well-known/mcp/server-card.json")).json() == card


def test_registry_server_json_agrees_with_the_server_card() -> None:
    registry = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
    card = server_card(ServerConfig())
    for member in ("name", "title", "description", "version"):
        assert registry[member] == card[member], member
    [package] = registry["packages"]
    assert (package["registryType"], package["identifier"], package["version"]) == (
        "pypi",
        "workbench-mcp",
        __version__,
    )
    assert registry["remotes"][0]["url"].endswith("/api/mcp")


async def test_robots_and_sitemap(base_url: str) -> None:
    robots = (await get(base_url, "/robots.txt")).text.splitlines()
    assert robots[0] == "User-agent: *"
    assert {"Allow: /runs/demo", "Allow: /llms.txt", "Allow: /.well-known/"} <= set(robots)
    assert {"Disallow: /api/runs", "Disallow: /api/runs/", "Disallow: /api/mcp", "Disallow: /mcp"} <= set(robots)
    assert robots[-1] == f"Sitemap: {PUBLIC_URL}/sitemap.xml"
    sitemap = (await get(base_url, "/sitemap.xml")).text
    assert f"<loc>{PUBLIC_URL}/runs/demo</loc>" in sitemap
    assert "/api/runs<" not in sitemap


async def test_llms_full_holds_the_readme_every_event_type_and_both_apis(base_url: str) -> None:
    response = await get(base_url, "/llms-full.txt")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    text = response.text
    assert (ROOT / "README.md").read_text(encoding="utf-8").strip() in text
    for event_type in TRACE_EVENT_TYPES:
        assert f"- `{event_type}`" in text, event_type
    assert "- `artifact_written`: id, runId, ts, artifact; optional: stepId, correlationId, idempotencyKey" in text
    assert "PUT /api/runs/{runId}" in text
    assert f"{PUBLIC_URL}/api/mcp" in text


async def test_agents_md_documents_every_error_code_and_the_auth_anchor(base_url: str) -> None:
    response = await get(base_url, "/agents.md")
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    text = response.text
    assert "\n## Authentication\n" in text  # the anchor mcp.json's auth.documentation points at
    for code in ErrorCode:
        assert f"| `{code.value}` |" in text, code
    assert "| `UNKNOWN_RUN` | 404 |" in text
    assert "| `RATE_LIMITED` | 429 |" in text


async def test_openapi_is_generated_from_the_models(base_url: str) -> None:
    document = (await get(base_url, "/api/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == "1.0.0"
    assert document["components"]["schemas"] == component_schemas()
    schemas = document["components"]["schemas"]
    assert schemas["SavedRunMeta"]["required"] == ["id", "workflowId", "startedAt", "status"]
    wire_names = {field.alias or name for name, field in SerializedRun.model_fields.items()}
    assert set(schemas["SerializedRun"]["properties"]) == wire_names
    assert SavedRunMeta.model_json_schema()["properties"].keys() == schemas["SavedRunMeta"]["properties"].keys()
    assert '"ge"' not in json.dumps(schemas)  # pydantic's leftover constraint names are translated
    statuses = {
        f"{method.upper()} {path}": set(operation["responses"])
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert statuses == {
        "GET /api/runs": {"200", "400", "401", "403", "429"},
        "GET /api/runs/{runId}": {"200", "400", "401", "403", "404", "429"},
        "PUT /api/runs/{runId}": {"204", "400", "401", "403", "409", "412", "413", "429"},
        "DELETE /api/runs/{runId}": {"204", "400", "401", "403", "409", "412", "429"},
        "GET /api/runs/{runId}/attestation": {"200", "400", "401", "403", "404", "409", "429"},
    }
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_published_copies_equal_what_the_server_serves(tmp_path: Path) -> None:
    """`workbench-mcp serve` defaults: public URL http://127.0.0.1:8765, core toolset. The server below listens
    elsewhere on purpose: the documents must follow the configured URL, not the socket."""
    defaults = {"toolsets": DEFAULT_TOOLSETS, "rate_limit": RateLimitConfig()}
    config = server_config(tmp_path, public_url="http://127.0.0.1:8765", **defaults)
    async with running_server(config) as url:
        served = {copy: (await get(url, path)).text for copy, path in PUBLISHED.items()}
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        for copy, text in served.items():
            (ROOT / copy).parent.mkdir(parents=True, exist_ok=True)
            (ROOT / copy).write_text(text, encoding="utf-8")
    for copy, text in served.items():
        published = (ROOT / copy).read_text(encoding="utf-8")
        assert published == text, (
            f"{copy} drifted: run `python -m workbench_mcp.web.discovery_docs` (or UPDATE_SNAPSHOTS=1)"
        )
