"""Bundle tools: export a run as a tamper-evident RunBundle; verify and validate bundles offline."""

from collections import OrderedDict
from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp.auth import current_principal
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server import outputs as o
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.toolsets import ToolFn, read_tool
from workbench_mcp.protocol.canonical_json import pretty_json
from workbench_mcp.service import RunService


class _PrettyTexts:
    """The text item of recently exported bundles. The service hands back the very same (read-only)
    bundle object for an unchanged run (workbench_mcp/bundle_cache.py), so identity is the key; an
    entry holds its bundle, so the id cannot be reused while the entry lives.

    Bounded in characters, not only entries: each entry pins a bundle and its text, and a bundle the
    service does not cache (a big run's) is a new object every time, so 32 entries of those kept
    32 x (bundle + text) alive for nothing - 53 MB per export of an 18 MB run (bench/memory_probe.py).
    """

    def __init__(self, capacity: int = 32, max_chars: int = 16_000_000) -> None:
        self._capacity = capacity
        self._max_chars = max_chars
        self._chars = 0
        self._entries: OrderedDict[int, tuple[Any, str]] = OrderedDict()

    @property
    def chars(self) -> int:
        return self._chars

    def of(self, bundle: Any) -> str:
        entry = self._entries.get(id(bundle))
        if entry is not None and entry[0] is bundle:
            self._entries.move_to_end(id(bundle))
            return entry[1]
        text = pretty_json(bundle)
        if len(text) > self._max_chars // 4:
            return text  # too big to keep: it would evict everything else for a rare repeat
        old = self._entries.pop(id(bundle), None)
        if old is not None:
            self._chars -= len(old[1])
        self._entries[id(bundle)] = (bundle, text)
        self._chars += len(text)
        while len(self._entries) > self._capacity or self._chars > self._max_chars:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._chars -= len(evicted)
        return text


WithAudit = Annotated[bool, Field(description="Add audit: audit_log's result, outside the integrity hash")]


def _export_bundle(service: RunService) -> ToolFn:
    texts = _PrettyTexts()

    async def export_bundle(
        runId: a.RunId, profile: a.Profile = "full", audit: WithAudit = False
    ) -> Annotated[CallToolResult, o.Bundle]:
        who = current_principal()
        bundle = await service.export_bundle(who, runId, profile=profile)
        if audit:
            # Outside the hashed members: verifiers drop unknown members before hashing (protocol 5.4).
            bundle = {**bundle, "audit": await service.audit_log(who, runId)}
        # The text item is JSON.stringify(bundle, null, 2), as the reference's; a long run's off the loop.
        heavy = len(bundle["trace"]) >= service.heavy_export_events
        text = await service.offload.in_thread(texts.of, bundle) if heavy else texts.of(bundle)
        return tool_result(bundle, text=text)

    return export_bundle


def _verify_run_integrity(service: RunService) -> ToolFn:
    async def verify_run_integrity(bundle: a.BundleArg) -> Annotated[CallToolResult, o.IntegrityVerdict]:
        current_principal()
        return tool_result(await service.verify_bundle(bundle))

    return verify_run_integrity


def _validate_run_bundle(service: RunService) -> ToolFn:
    async def validate_run_bundle(bundle: a.BundleArg) -> Annotated[CallToolResult, o.ValidationVerdict]:
        current_principal()
        return tool_result(await service.validate_bundle(bundle))

    return validate_run_bundle


TOOLS = [
    read_tool(
        "export_bundle",
        "Export a run bundle",
        "The run as a tamper-evident RunBundle (protocolVersion, run, trace, artifacts, ruleSets, engine, "
        "integrity.sha256).",
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
