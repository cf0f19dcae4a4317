"""The discovery documents, generated from the live tool registry, the error table, the limits and the models.

Pure functions of the server's configuration: every URL comes from `config.base_url` (the configured
public URL), never from a request's Host or X-Forwarded-* headers, so a crafted header cannot make
these documents point elsewhere (D23). Nothing here is hand-maintained tool or error documentation:
the tool lists are the registry's, the error table is `HTTP_STATUS`, the event reference is the
pydantic models' (D10). `python -m workbench_mcp.web.discovery_docs` writes the repository's published
copies (`well-known/mcp.json`, `llms.txt`, `agents.md`); a test fails when they drift from the server.
"""

from __future__ import annotations

import json
import typing
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp_types.version import SUPPORTED_PROTOCOL_VERSIONS
from pydantic import BaseModel

from workbench_mcp import __version__
from workbench_mcp.config import ServerConfig, Toolset
from workbench_mcp.errors import ErrorCode
from workbench_mcp.ledger.keys import KEYS_PATH
from workbench_mcp.mcp_server.server import COMMON_CODES, GATE_RULES, RUN_CHANGES, SERVER_NAME
from workbench_mcp.mcp_server.tool_spec import ToolSpec
from workbench_mcp.mcp_server.toolsets import (
    all_tools,
    enabled_tools,
    offered_description,
    toolsets_flag,
)
from workbench_mcp.protocol.bundle import PROTOCOL_VERSION
from workbench_mcp.protocol.trace_events import TRACE_EVENT_TYPES, TraceEvent
from workbench_mcp.settings import Limits
from workbench_mcp.web.error_responses import status_for
from workbench_mcp.web.pages import render

MCP_PATH = "/api/mcp"
SERVER_CARD_PATH = MCP_PATH + "/server-card"
"""SEP-2127 reserves `<streamable-http-url>/server-card` for a server's card."""
SERVER_CARD_MEDIA_TYPE = "application/mcp-server-card+json"
SERVER_CARD_SCHEMA = "https://static.modelcontextprotocol.io/schemas/v2/server-card.schema.json"
REGISTRY_NAME = "io.github.workbench-mcp/workbench-mcp"
"""Reverse-DNS name shared by the server card and the repository's registry `server.json`."""
TITLE = "LLM Workbench (workbench-mcp)"
SUMMARY = "LLM Workbench runs over MCP: gated steps, versioned artifacts, tamper-evident bundles."
DESCRIPTION = (
    "Drive LLM Workbench runs over MCP: start workflows, resolve human gates, step through work, write and "
    "patch versioned artifacts, log model I/O, and export tamper-evident RunBundles (protocol 1.0.0)."
)
PUBLISHED = {
    "well-known/mcp.json": "/.well-known/mcp.json",
    "llms.txt": "/llms.txt",
    "agents.md": "/agents.md",
}
"""Repository copy -> the path the live server serves it at (for the default configuration)."""

PUBLIC_PAGES = (
    "/runs/demo",
    "/llms.txt",
    "/llms-full.txt",
    "/agents.md",
    "/api/openapi.json",
    "/.well-known/mcp.json",
    "/.well-known/mcp/catalog.json",
)


def live_tools(config: ServerConfig) -> list[ToolSpec]:
    """Exactly the tools `tools/list` returns on a server with this configuration."""
    return enabled_tools(all_tools(), config.toolsets, config.read_only)


def live_description(spec: ToolSpec, config: ServerConfig) -> str:
    """The description `tools/list` gives this tool on a server with this configuration."""
    offered = [s.name for s in live_tools(config)]
    return offered_description(spec, offered, config.toolsets, config.read_only)


# --- JSON descriptors ------------------------------------------------------------------------------------


def mcp_descriptor(config: ServerConfig) -> dict[str, Any]:
    """`/.well-known/mcp.json` in the reference deployment's shape, but true (D10) and origin-safe (D23)."""
    base = config.base_url
    return {
        "name": SERVER_NAME,
        "version": PROTOCOL_VERSION,
        "description": DESCRIPTION,
        "transport": "streamable-http",
        "endpoint": base + MCP_PATH,
        "auth": {"type": "bearer", "documentation": base + "/agents.md#authentication"},
        "signingKeys": base + KEYS_PATH,  # the ledger's JWKS: verifies run attestations offline
        "tools": [{"name": spec.name, "description": live_description(spec, config)} for spec in live_tools(config)],
    }


def server_card(config: ServerConfig) -> dict[str, Any]:
    """SEP-2127 server card (draft schema v2): identity and how to connect; tools stay with tools/list."""
    return {
        "$schema": SERVER_CARD_SCHEMA,
        "name": REGISTRY_NAME,
        "version": __version__,
        "title": TITLE,
        "description": SUMMARY,
        "websiteUrl": config.base_url + "/agents.md",
        "remotes": [
            {
                "type": "streamable-http",
                "url": config.base_url + MCP_PATH,
                "supportedProtocolVersions": list(SUPPORTED_PROTOCOL_VERSIONS),
                "headers": [
                    {
                        "name": "Authorization",
                        "description": "Bearer <JWT>; see " + config.base_url + "/agents.md#authentication",
                        "isRequired": True,
                        "isSecret": True,
                    }
                ],
            }
        ],
        "_meta": {
            "io.github.workbench-mcp/protocol": {"llmWorkbench": PROTOCOL_VERSION},
            "io.github.workbench-mcp/ledger": {"signingKeys": config.base_url + KEYS_PATH},
        },
    }


def mcp_catalog(config: ServerConfig) -> dict[str, Any]:
    """`/.well-known/mcp/catalog.json`: the domain's MCP servers (this one) and where their cards are."""
    host = urlsplit(config.base_url).hostname or "localhost"
    return {
        "specVersion": "draft",
        "entries": [
            {
                "identifier": f"urn:air:{host}:{REGISTRY_NAME.split('/')[1]}",
                "displayName": TITLE,
                "type": SERVER_CARD_MEDIA_TYPE,
                "url": config.base_url + SERVER_CARD_PATH,
            }
        ],
    }


def document_text(document: Any) -> str:
    """A served discovery document: Python's indented JSON, non-ASCII as is, newline-terminated.
    (Wire data, which must match JavaScript byte for byte, goes through canonical_json.pretty_json.)"""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- shared text pieces ------------------------------------------------------------------------------------


def _hints(spec: ToolSpec) -> str:
    if spec.read_only:
        return "read-only"
    return ("destructive" if spec.destructive else "additive") + (", idempotent" if spec.idempotent else "")


def _tool_table(config: ServerConfig) -> str:
    rows = ["| tool | hints | what it does |", "|---|---|---|"]
    for spec in live_tools(config):
        description = live_description(spec, config).replace("|", "\\|")
        rows.append(f"| `{spec.name}` | {_hints(spec)} | {description} |")
    return "\n".join(rows)


def _other_toolsets(config: ServerConfig) -> str:
    """What this server leaves out, and the flag that would offer it."""
    lines = []
    for toolset in Toolset:
        tools = [s for s in all_tools() if s.toolset is toolset and (s.read_only or not config.read_only)]
        if toolset in config.toolsets or not tools:
            continue
        names = ", ".join(f"`{s.name}`" for s in tools)
        flag = toolsets_flag([*config.toolsets, toolset])
        lines.append(f"- `{toolset.value}`: {names} (start the server with `--toolsets {flag}`)")
    if config.read_only:
        writes = ", ".join(f"`{s.name}`" for s in all_tools() if not s.read_only)
        lines.append(f"- tools that change runs: {writes} (start the server without `--read-only`)")
    if not lines:
        return "Every toolset is enabled on this server."
    return "Not offered by this server:\n\n" + "\n".join(lines)


def _error_table() -> str:
    rows = ["| code | HTTP status (REST) |", "|---|---|"]
    rows += [f"| `{code.value}` | {status_for(code)} |" for code in ErrorCode]
    return "\n".join(rows)


def _limits_list(limits: Limits) -> str:
    return "\n".join(
        [
            f"- REST request bodies: at most {limits.max_bundle_bytes} bytes (25 MiB), counted in bytes while they"
            " arrive; larger ones get 413 `LIMIT_EXCEEDED` before anything is parsed.",
            f"- One artifact version's data (or one patch): at most {limits.max_artifact_payload_bytes} bytes of"
            " compact JSON.",
            f"- Trace events per run: {limits.max_trace_events_per_run}; runs per tenant:"
            f" {limits.max_runs_per_tenant}.",
            f"- Listing: `limit` 1..{limits.list_limit_max}, default {limits.list_limit_default}; follow the"
            ' `Link: rel="next"` header (REST) or `nextCursor` (MCP) for more.',
            "- Integers must be JavaScript-safe (|n| <= 2^53-1): larger ones are refused (`UNSAFE_NUMBER`), never"
            " rounded.",
        ]
    )


def _rate_limits(config: ServerConfig) -> str:
    limit = config.rate_limit
    if not limit.enabled:
        return "This server does not limit request rates."
    return (
        f"Authenticated requests (MCP and REST together) are limited per tenant: {limit.per_second:g} tokens per"
        f" second sustained, bursts of up to {limit.burst}; a request costs one token per started 256 KiB of"
        " request and response body (at least one), so big bundles and exports cost more; the discovery documents"
        " are not limited."
    )


def _model_fields(model: type[BaseModel]) -> str:
    required: list[str] = []
    optional: list[str] = []
    for name, field in model.model_fields.items():
        if name == "type":
            continue
        alias = field.serialization_alias or field.alias or name
        (required if field.is_required() else optional).append(alias)
    text = ", ".join(required)
    if optional:
        text += "; optional: " + ", ".join(optional)
    return text


def trace_event_reference() -> str:
    """One line per event type, generated from the pydantic models (in the protocol's order)."""
    union = typing.get_args(TraceEvent)[0]
    models: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        models[model.model_fields["type"].default] = model
    lines = []
    for event_type in TRACE_EVENT_TYPES:
        model = models[event_type]
        doc = (model.__doc__ or "").strip().splitlines()
        note = f" ({doc[0].rstrip('.')})" if doc and not doc[0].startswith(model.__name__ + "(") else ""
        lines.append(f"- `{event_type}`{note}: {_model_fields(model)}")
    return "\n".join(lines)


def readme_text() -> str:
    """The project README: from the source tree when running from a checkout (always current), else the
    copy packaged as the distribution's long description."""
    source = Path(__file__).resolve().parents[2] / "README.md"
    if source.is_file():
        return source.read_text(encoding="utf-8")
    try:
        return metadata.metadata("workbench-mcp").get_payload() or ""  # type: ignore[attr-defined]
    except metadata.PackageNotFoundError:
        return ""


def _rest_body(base: str, read_only: bool = False) -> str:
    rows = [
        "| method and path | success | body |",
        "|---|---|---|",
        "| `GET /api/runs?limit=N&cursor=C` | 200 | `SavedRunMeta[]` newest first; next page in"
        ' `Link: <...>; rel="next"` |',
        "| `GET /api/runs/{runId}` | 200 + `ETag` | the serialized run state (`SerializedRunStoreState`) |",
    ]
    if read_only:
        writes = (
            "\nThis server is read-only (`--read-only`): it accepts no write (PUT and DELETE answer 403 `READ_ONLY`)."
        )
    else:
        rows += [
            "| `PUT /api/runs/{runId}` | 204 + `ETag` | request body: the serialized run state;"
            ' `If-Match: "<revision>"` optional |',
            "| `DELETE /api/runs/{runId}` | 204 | also 204 when nothing existed; `If-Match` optional |",
        ]
        writes = (
            "A PUT is schema-checked in full and\nmust keep `run.id` equal to the URL's run id. The `ETag` is the run's"
            " revision: send it back in `If-Match` and a\nconcurrent change makes your write fail with 412 instead of"
            " silently overwriting it."
        )
    table = "\n".join(rows)
    return f"""Compatible with `HttpRunRepository` of `@llm-workbench/runtime`: `baseUrl: "{base}/api"`, the token
via `getHeaders`.

{table}

The serialized state carries `revision`, `run`, `trace` and five maps (`artifactsByKey`, `ruleSetsById`,
`stepStatus`, `gateState`, `idempotency`) as arrays of `[key, value]` pairs. {writes} Run ids match
`^run_[-a-zA-Z0-9_]+$` (at most 128 characters). Every REST response carries
`Link: </api/openapi.json>; rel="describedby"`."""


# --- text documents ------------------------------------------------------------------------------------------


def llms_txt(config: ServerConfig) -> str:
    base = config.base_url
    return f"""# workbench-mcp

> {DESCRIPTION} Wire-compatible with the TypeScript LLM Workbench
> (@llm-workbench/runtime 0.3.3).

Key concepts:

- **Run**: one execution of a workflow (a DAG of steps with gate policies), with a status and an append-only trace.
- **Trace event**: one of {len(TRACE_EVENT_TYPES)} typed events (step_started, artifact_written, ...).
- **Artifact**: a typed JSON document of a run; every write or JSON Patch makes a new version.
- **Gate**: a human decision point (PAUSE_BEFORE, PAUSE_AFTER, CHECKPOINT) that blocks a step or its successors.
- **Run bundle**: the whole run as one JSON document with an integrity SHA-256 over its canonical JSON.
- **Telemetry**: model I/O, tool calls and spans recorded on the trace.

## Links

- [agents.md]({base}/agents.md): the contract for agents (affordances, auth, errors, limits, etiquette)
- [llms-full.txt]({base}/llms-full.txt): README, protocol overview, REST and MCP usage, trace event reference
- [MCP descriptor]({base}/.well-known/mcp.json): tools of this server, endpoint, auth
- [MCP server card]({base}{SERVER_CARD_PATH}) and [MCP catalog]({base}/.well-known/mcp/catalog.json)
- [OpenAPI]({base}/api/openapi.json): the REST run repository (`/api/runs`)
- [Demo run]({base}/runs/demo): a public, read-only run with its workflow, gates, timeline and artifacts
- [robots.txt]({base}/robots.txt) and [sitemap.xml]({base}/sitemap.xml)

License: MIT. Contact: the operator of {base}; issues about the software go to its source repository.
"""


def agents_md(config: ServerConfig) -> str:
    base = config.base_url
    limits = config.limits
    toolsets = ", ".join(t.value for t in Toolset if t in config.toolsets)
    if config.read_only:
        heading = "API affordances (this server is read-only)"
        start = "Read runs with `list_runs`, `get_run`, `next_actions` and `export_bundle`."
        read_only = " This server runs with `--read-only`: it offers read tools only."
        common = f"\n\n{COMMON_CODES}"
        concurrency = ""
    else:
        heading = "Write affordances"
        start = "Start with `list_workflows`, `start_run`, then `next_actions` to learn what to do."
        read_only = ""
        # The server instructions' shared rules: the tool descriptions above rely on them.
        common = f"\n\n{GATE_RULES} {RUN_CHANGES} {COMMON_CODES}"
        concurrency = (
            "\n- Use `If-Match` (REST) or `expectedRevision` (MCP) when you read, decide and write: the first"
            " writer wins."
        )
    return f"""# workbench-mcp: the contract for agents

This server keeps **LLM Workbench** runs (protocol {PROTOCOL_VERSION}): workflows of gated steps, versioned
artifacts, an append-only trace and tamper-evident run bundles. Origin: `{base}`.

## Read affordances (public, no token)

| URL | what |
|---|---|
| `{base}/llms.txt` | short summary and links |
| `{base}/llms-full.txt` | README, protocol overview, REST and MCP usage, every trace event type |
| `{base}/agents.md` | this document |
| `{base}/.well-known/mcp.json` | MCP descriptor: endpoint, auth, the tools this server offers |
| `{base}{SERVER_CARD_PATH}` | SEP-2127 server card (`{SERVER_CARD_MEDIA_TYPE}`) |
| `{base}/.well-known/mcp/catalog.json` | MCP catalog: the servers of this origin and their cards |
| `{base}/api/openapi.json` | OpenAPI 3.1 of the REST API, generated from the protocol models |
| `{base}/runs/demo` | a sample run rendered as HTML, integrity verified live |
| `{base}/healthz` | liveness: `{{"ok": true, ...}}` |

## {heading}

### REST run repository (`{base}/api/runs`, bearer token)

{_rest_body(base, config.read_only)}

### MCP (`{base}{MCP_PATH}`, Streamable HTTP, bearer token)

Stateless, JSON responses. {start}
Toolsets enabled here: {toolsets}.{read_only}

{_tool_table(config)}

{_other_toolsets(config)}

Resources: `runs://{{runId}}` (the run's bundle) and `workflows://{{workflowId}}`.{common}

## Authentication

Send `Authorization: Bearer <JWT>` on every REST and MCP request. The token's tenant is its organization claim
(`org_id`, or Clerk's `o.id`), else `user:<sub>` (an organization id may not start with `user:`: such a token
gets 401); every read, list, write and delete is confined to that tenant,
and another tenant's run is indistinguishable from a missing one (404 / `UNKNOWN_RUN`). A missing or invalid token
gets 401 `UNAUTHORIZED` with a `WWW-Authenticate` challenge naming the RFC 9728 metadata
(`{base}/.well-known/oauth-protected-resource{MCP_PATH}`). Operators mint tokens with
`workbench-mcp token --user U [--org O]`. Everything listed under "Read affordances" is public.

## Error model

Every error is JSON `{{"error": "<message>", "code": "<CODE>"}}` (REST bodies and MCP `isError` results alike).
Rely on the code, never on the message. A failed `If-Match` is 412 with code `REVISION_CONFLICT`.

{_error_table()}

## Limits

{_limits_list(limits)}

## Rate limits

{_rate_limits(config)} Excess requests get 429 `RATE_LIMITED` with `Retry-After`
(seconds): wait at least that long, and never retry faster than once per second.

## Crawler policy

`/robots.txt` allows the public documents and `/runs/demo`, and disallows `/api/runs` and the MCP endpoints:
they are private, per-tenant APIs.

## Etiquette

- Send a stable, descriptive `User-Agent`.
- Retry only 408, 425, 429 and 5xx, with exponential back-off starting at 1 s; never retry 4xx unchanged.{concurrency}
- Treat run bundles (`export_bundle`) as the source of truth and check `integrity.sha256` with
  `verify_run_integrity`.

## License

MIT.
"""


def llms_full_txt(config: ServerConfig) -> str:
    base = config.base_url
    return f"""# workbench-mcp — full reference for language models

Protocol: LLM Workbench {PROTOCOL_VERSION} · Server: workbench-mcp {__version__} · Site: {base} · License: MIT

## README

{readme_text().strip()}

## Protocol overview

A **workflow** is a DAG of steps; each step has a gate policy: `AUTO`, `PAUSE_BEFORE` (a human approves before
it starts), `PAUSE_AFTER` (a human approves its output before successors start) or `CHECKPOINT` (both: its gate
`CHECKPOINT` before it starts, `PAUSE_AFTER` after it completes). A **run**
executes one workflow snapshot; its state is the run record (status `running`, `completed`, `failed` or
`cancelled`), per-step status and gate slots, the latest version of every artifact, rule sets, idempotency
records, and the **trace**: an append-only list of typed events. The revision counts the events.
**Artifacts** are typed JSON documents; each write or RFC 6902 JSON Patch creates version n+1 and the trace
keeps every version. A **run bundle** is the exportable form of a run, with `integrity.sha256` over its canonical
JSON, so any holder can verify it.

## Programmatic access

### REST

{_rest_body(base, config.read_only)}

OpenAPI: {base}/api/openapi.json

### MCP

Endpoint {base}{MCP_PATH} (Streamable HTTP, stateless, JSON responses), bearer token. Tools on this server:

{_tool_table(config)}

{_other_toolsets(config)}

### Errors

{_error_table()}

### Limits

{_limits_list(config.limits)}

## Trace event reference

Every event has `id`, `runId`, `ts` and `type`; `stepId` and `correlationId` are optional unless listed.

{trace_event_reference()}
"""


def robots_txt(config: ServerConfig) -> str:
    allowed = ["/", *PUBLIC_PAGES, "/.well-known/", "/robots.txt", "/sitemap.xml"]
    disallowed = ["/api/runs", "/api/runs/", MCP_PATH, "/mcp", "/runs"]
    lines = ["User-agent: *"]
    lines += [f"Allow: {path}" for path in allowed]
    lines += [f"Disallow: {path}" for path in disallowed]
    lines += ["", f"Sitemap: {config.base_url}/sitemap.xml", ""]
    return "\n".join(lines)


def sitemap_xml(config: ServerConfig) -> str:
    from xml.sax.saxutils import escape

    urls = "".join(f"  <url><loc>{escape(config.base_url + path)}</loc></url>\n" for path in PUBLIC_PAGES)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
    )


HOME_LINKS = (
    ("mcp", MCP_PATH, "MCP endpoint (Streamable HTTP; Authorization: Bearer <JWT>)"),
    ("agents", "/agents.md", "the contract for agents: tools, authentication, errors, limits"),
    ("llms", "/llms.txt", "summary and links for language models"),
    ("demo", "/runs/demo", "a complete sample run, rendered"),
    ("serverCard", SERVER_CARD_PATH, "MCP server card"),
    ("catalog", "/.well-known/mcp/catalog.json", "MCP catalog"),
    ("openapi", "/api/openapi.json", "OpenAPI of the REST run repository (/api/runs)"),
    ("health", "/healthz", "liveness"),
)


def home_json(config: ServerConfig) -> dict[str, Any]:
    """`GET /` for programs: what this server is and where its entry points are."""
    return {
        "name": REGISTRY_NAME,
        "title": TITLE,
        "version": __version__,
        "protocolVersion": PROTOCOL_VERSION,
        "description": SUMMARY,
        "links": {key: config.base_url + path for key, path, _ in HOME_LINKS},
    }


def home_html(config: ServerConfig) -> str:
    """`GET /` for browsers: the same links as `home_json`, as a page with no scripts."""
    links = [{"href": config.base_url + path, "path": path, "what": what} for _, path, what in HOME_LINKS]
    return render("home.html", title=TITLE, version=__version__, description=DESCRIPTION, links=links)


def published_documents(config: ServerConfig) -> dict[str, str]:
    """Repository copy -> its text, exactly as the server serves it."""
    return {
        "well-known/mcp.json": document_text(mcp_descriptor(config)),
        "llms.txt": llms_txt(config),
        "agents.md": agents_md(config),
    }


def write_published(root: Path, config: ServerConfig | None = None) -> list[Path]:
    """Refresh the repository's published copies (default configuration: `workbench-mcp serve`)."""
    written = []
    for relative, text in published_documents(config or ServerConfig()).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_published(Path.cwd()):
        print(written_path)
