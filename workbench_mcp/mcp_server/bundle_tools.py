"""Bundle tools: export a run as a tamper-evident RunBundle; verify and validate bundles offline."""

from typing import Annotated

from mcp.types import CallToolResult, TextContent
from pydantic import Field

from workbench_mcp import results as o
from workbench_mcp.auth import current_principal
from workbench_mcp.engine.export import Profile
from workbench_mcp.ledger.export import ATTESTATION_META
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.tool_spec import ToolFn, read_tool
from workbench_mcp.protocol.canonical_json import pretty_json
from workbench_mcp.service import RunService

WithAudit = Annotated[bool, Field(description="Add audit: audit_log's result, outside the integrity hash")]


def _export_bundle(service: RunService) -> ToolFn:
    async def export_bundle(
        runId: a.RunId, profile: a.Profile = "full", attestation: a.Attestation = False, audit: WithAudit = False
    ) -> Annotated[CallToolResult, o.Bundle]:
        who = current_principal()
        if attestation:
            return await _attested(service, runId, profile)
        log = await service.reads.audit_log(who, runId) if audit else None
        bundle, text = await service.bundles.export_bundle_text(who, runId, profile=profile, audit=log)
        return tool_result(bundle, text=text)

    return export_bundle


async def _attested(service: RunService, run_id: str, profile: Profile) -> CallToolResult:
    """The unchanged bundle as structured content and first text item; the DSSE envelope as a second
    text item and in `_meta`, so the output schema stays the bundle's."""
    bundle, envelope = await service.bundles.export_attestation(current_principal(), run_id, profile=profile)
    result = tool_result(bundle, text=pretty_json(bundle))
    result.content.append(TextContent(type="text", text=pretty_json(envelope)))
    result.meta = {ATTESTATION_META: envelope}
    return result


def _verify_run_integrity(service: RunService) -> ToolFn:
    async def verify_run_integrity(bundle: a.BundleArg) -> Annotated[CallToolResult, o.IntegrityVerdict]:
        current_principal()
        return tool_result(await service.bundles.verify_bundle(bundle))

    return verify_run_integrity


def _validate_run_bundle(service: RunService) -> ToolFn:
    async def validate_run_bundle(bundle: a.BundleArg) -> Annotated[CallToolResult, o.ValidationVerdict]:
        current_principal()
        return tool_result(await service.bundles.validate_bundle(bundle))

    return validate_run_bundle


TOOLS = [
    read_tool(
        "export_bundle",
        "Export a run bundle",
        "The run as a tamper-evident RunBundle (protocolVersion, run, trace, artifacts, ruleSets, engine, "
        "integrity.sha256). attestation=true adds a signed DSSE/in-toto envelope (second text item and _meta; "
        "verify offline with `workbench-mcp verify`).",
        _export_bundle,
    ),
    read_tool(
        "verify_run_integrity",
        "Verify a bundle's hash",
        "Check a RunBundle's integrity.sha256 against its canonical JSON. Returns {ok, sha256?}. "
        "Errors: INVALID_RUN_BUNDLE, UNSUPPORTED_PROTOCOL_VERSION (unparseable bundle), LIMIT_EXCEEDED (size).",
        _verify_run_integrity,
    ),
    read_tool(
        "validate_run_bundle",
        "Validate a bundle",
        "Run the RunBundle schema and structural checks (workflow graph, trace run ids and step ids, duplicate "
        "versions) on any JSON. Returns {ok: true} or {ok: false, error, code}.",
        _validate_run_bundle,
    ),
]
