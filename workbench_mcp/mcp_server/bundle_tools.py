"""Bundle tools: export a run as a tamper-evident RunBundle; verify and validate bundles offline."""

from collections import OrderedDict
from typing import Annotated, Any

from mcp.types import CallToolResult, TextContent

from workbench_mcp.auth import current_principal
from workbench_mcp.engine.export import Profile
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.ledger.export import ATTESTATION_META
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server import outputs as o
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.toolsets import ToolFn, read_tool
from workbench_mcp.protocol.bundle import integrity_matches, normalize_bundle, validate_bundle
from workbench_mcp.protocol.canonical_json import compact_json, pretty_json
from workbench_mcp.service import RunService


class _PrettyTexts:
    """The text item of recently exported bundles. The service hands back the very same (read-only)
    bundle object for an unchanged run (workbench_mcp/bundle_cache.py), so identity is the key; an
    entry holds its bundle, so the id cannot be reused while the entry lives."""

    def __init__(self, capacity: int = 32) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[int, tuple[Any, str]] = OrderedDict()

    def of(self, bundle: Any) -> str:
        entry = self._entries.get(id(bundle))
        if entry is not None and entry[0] is bundle:
            return entry[1]
        text = pretty_json(bundle)
        self._entries[id(bundle)] = (bundle, text)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return text


def _export_bundle(service: RunService) -> ToolFn:
    texts = _PrettyTexts()

    async def export_bundle(
        runId: a.RunId, profile: a.Profile = "full", attestation: a.Attestation = False
    ) -> Annotated[CallToolResult, o.Bundle]:
        if attestation:
            return await _attested(service, runId, profile)
        bundle = await service.export_bundle(current_principal(), runId, profile=profile)
        # The text item is JSON.stringify(bundle, null, 2), as the reference's.
        return tool_result(bundle, text=texts.of(bundle))

    return export_bundle


async def _attested(service: RunService, run_id: str, profile: Profile) -> CallToolResult:
    """The unchanged bundle as structured content and first text item; the DSSE envelope as a second
    text item and in `_meta`, so the output schema stays the bundle's."""
    bundle, envelope = await service.export_attestation(current_principal(), run_id, profile=profile)
    result = tool_result(bundle, text=pretty_json(bundle))
    result.content.append(TextContent(type="text", text=pretty_json(envelope)))
    result.meta = {ATTESTATION_META: envelope}
    return result


def _check_size(bundle: Any, limit: int) -> None:
    # The reference re-serializes and refuses bundles over 25 MiB before parsing them.
    size = len(compact_json(bundle).encode("utf-8", "surrogatepass"))
    if size > limit:
        raise WorkbenchError(ErrorCode.LIMIT_EXCEEDED, f"bundle exceeds maximum size ({limit} bytes serialized)")


def _verify_run_integrity(service: RunService) -> ToolFn:
    async def verify_run_integrity(bundle: a.BundleArg) -> Annotated[CallToolResult, o.IntegrityVerdict]:
        current_principal()
        _check_size(bundle, service.limits.max_bundle_bytes)
        normalized = normalize_bundle(bundle)
        body: dict[str, Any] = {"ok": integrity_matches(normalized)}
        claimed = (normalized.get("integrity") or {}).get("sha256")
        if claimed:
            body["sha256"] = claimed
        return tool_result(body)

    return verify_run_integrity


def _validate_run_bundle(service: RunService) -> ToolFn:
    async def validate_run_bundle(bundle: a.BundleArg) -> Annotated[CallToolResult, o.ValidationVerdict]:
        current_principal()
        try:
            _check_size(bundle, service.limits.max_bundle_bytes)
            validate_bundle(bundle)
        except WorkbenchError as exc:
            # Like the reference, an invalid bundle is a verdict, not a failed call.
            return tool_result({"ok": False, "error": exc.message, "code": exc.code.value})
        return tool_result({"ok": True})

    return validate_run_bundle


TOOLS = [
    read_tool(
        "export_bundle",
        "Export a run bundle",
        "Return the run as a tamper-evident RunBundle (protocolVersion, run, trace, artifacts, ruleSets, engine, "
        "integrity.sha256). profile=user redacts personal data and omits the engine snapshot. attestation=true adds a "
        "signed DSSE/in-toto attestation of the bundle (second text item and _meta; verify offline with "
        "`workbench-mcp verify`). Errors: UNKNOWN_RUN.",
        _export_bundle,
    ),
    read_tool(
        "verify_run_integrity",
        "Verify a bundle's hash",
        "Check a RunBundle's integrity.sha256 against its canonical JSON. Returns {ok, sha256?}. "
        "Errors: INVALID_RUN_BUNDLE, UNSUPPORTED_PROTOCOL_VERSION (unparseable bundle), LIMIT_EXCEEDED.",
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
