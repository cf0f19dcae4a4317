"""Resources: `runs://{runId}` (a run's bundle) and `workflows://{workflowId}`; listing is per tenant, paginated.

Reads go through the same service calls as the tools. A run of another tenant is answered exactly
like a missing one (JSON-RPC -32602 with data.code UNKNOWN_RUN).
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.apps import APP_MIME_TYPE
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, Resource

from workbench_mcp.auth import current_principal
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.mcp_server.run_view import RUN_VIEW_URI
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.canonical_json import pretty_json
from workbench_mcp.scopes import READ, missing_scope
from workbench_mcp.service import RunService

RUN_TEMPLATE = "runs://{runId}"
WORKFLOW_TEMPLATE = "workflows://{workflowId}"
RESOURCE_PAGE_SIZE = 100
JSON = "application/json"


def resource_error(exc: WorkbenchError, uri: str) -> MCPError:
    """Resource failures are JSON-RPC errors (docs/protocol.md 7.2); the protocol code rides in `data`."""
    return MCPError(code=INVALID_PARAMS, message=exc.message, data={"code": exc.code.value, "uri": uri})


def as_lookup_id(value: object) -> str:
    """A URI parameter as an id to look up. Typed `str`, pydantic would refuse a lone surrogate (valid in
    the JSON of the request) before our code runs, and the SDK would answer that as an internal error;
    no stored id holds one, so such an id names nothing (UNKNOWN_RUN / UNKNOWN_WORKFLOW)."""
    text = str(value)
    return text.encode("utf-8", "replace").decode("utf-8")


def reader(uri: str | None = None) -> Principal:
    """The caller, who must hold runs:read to read any resource (INSUFFICIENT_SCOPE in data.code otherwise)."""
    who = current_principal()
    refusal = missing_scope(who.scopes, READ)
    if refusal is not None:
        data = {"code": refusal.code.value} | ({"uri": uri} if uri else {})
        raise MCPError(code=INVALID_PARAMS, message=refusal.message, data=data)
    return who


def register_resources(server: MCPServer[Any], service: RunService) -> None:
    @server.resource(
        RUN_TEMPLATE,
        name="runs",
        title="Run bundle",
        description="Tamper-evident RunBundle JSON for an individual saved run (full profile, with engine snapshot).",
        mime_type=JSON,
    )
    async def run_bundle(runId: object) -> str:  # object: see as_lookup_id
        run_id = as_lookup_id(runId)
        uri = f"runs://{run_id}"
        try:
            _, text = await service.bundles.export_bundle_text(reader(uri), run_id)
        except WorkbenchError as exc:
            if exc.code is ErrorCode.UNKNOWN_RUN:
                exc = WorkbenchError(ErrorCode.UNKNOWN_RUN, f"No run named {run_id}")
            raise resource_error(exc, uri) from None
        return text

    @server.resource(
        WORKFLOW_TEMPLATE,
        name="workflows",
        title="Workflow",
        description="A workflow start_run accepts: its WorkflowSpec plus the rule sets a new run starts with.",
        mime_type=JSON,
    )
    async def workflow(workflowId: object) -> str:  # object: see as_lookup_id
        reader(f"workflows://{workflowId}")
        try:
            entry = service.catalog.get(as_lookup_id(workflowId))
        except WorkbenchError as exc:
            raise resource_error(exc, f"workflows://{workflowId}") from None
        return pretty_json(
            {
                "workflow": entry.workflow.model_dump(),
                "ruleSets": [rs.model_dump() for rs in entry.rule_sets],
            }
        )


async def list_resource_page(service: RunService, cursor: str | None) -> tuple[list[Resource], str | None]:
    """The caller's runs, newest first, one page at a time; the workflows and the run view come first on page one."""
    who = reader()
    try:
        page = await service.reads.list_runs(who, limit=RESOURCE_PAGE_SIZE, cursor=cursor)
    except WorkbenchError as exc:
        raise MCPError(code=INVALID_PARAMS, message=exc.message, data={"code": exc.code.value}) from None
    items: list[Resource] = []
    if cursor is None:
        items.extend(
            Resource(
                uri=f"workflows://{workflow_id}",
                name=workflow_id,
                description=f"Workflow {workflow_id}",
                mime_type=JSON,
            )
            for workflow_id in sorted(service.catalog.entries)
        )
        items.append(
            Resource(
                uri=RUN_VIEW_URI, name="run-view", description="Run view for MCP Apps hosts", mime_type=APP_MIME_TYPE
            )
        )
    items.extend(
        Resource(
            uri=f"runs://{meta['id']}",
            name=str(meta["id"]),
            description=f"LLM Workbench run bundle for {meta['id']}",
            mime_type=JSON,
        )
        for meta in page.items
    )
    return items, page.next_cursor
