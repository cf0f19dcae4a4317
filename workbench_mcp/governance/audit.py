"""The audit model (README "Governance"): a run's mutations (one per trace event, from the audit side table)
and its governance records (refusals, partial approvals, budget raises, the pinned policy), as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench_mcp.errors import WorkbenchError
from workbench_mcp.principal import Principal
from workbench_mcp.store.run_store import AuditRecord, GovernanceRecord, StoredGovernanceRecord

REFUSED_ARGUMENTS = ("stepId", "gate", "decision", "checkpointId", "workflowId", "artifactKey")
"""Which arguments a denial record keeps to say what was refused (never payloads)."""


def _text(value: Any, limit: int = 256) -> str | None:
    """Argument text safe to store: bounded, and a lone surrogate (valid JSON) replaced (SQLite needs UTF-8)."""
    if not isinstance(value, str):
        return None
    return value[:limit].encode("utf-8", "replace").decode("utf-8")


def run_id_of(arguments: Mapping[str, Any]) -> str | None:
    return _text(arguments.get("runId"), 128)


def denial(who: Principal, tool: str, arguments: Mapping[str, Any], refusal: WorkbenchError) -> GovernanceRecord:
    refused = {name: _text(arguments[name]) for name in REFUSED_ARGUMENTS if isinstance(arguments.get(name), str)}
    detail: dict[str, Any] = {"code": refusal.code.value, "reason": refusal.message, "refused": refused}
    detail.update({k: v for k, v in refusal.details.items() if isinstance(v, str | int | float | dict | list)})
    return GovernanceRecord("denied", who.subject, tool, detail, _text(arguments.get("correlationId")))


def audit_json(mutations: Sequence[AuditRecord], records: Sequence[StoredGovernanceRecord]) -> list[dict[str, Any]]:
    """Both kinds in the order they happened: a governance record follows the events up to its revision."""
    rows: list[tuple[int, int, int, dict[str, Any]]] = []
    for m in mutations:
        entry: dict[str, Any] = {
            "kind": "mutation",
            "at": m.at,
            "principal": m.principal,
            "tool": m.tool,
            "eventId": m.event_id,
        }
        if m.correlation_id is not None:
            entry["correlationId"] = m.correlation_id
        rows.append((m.seq, 0, 0, entry))
    for stored in records:
        r = stored.record
        entry = {
            "kind": r.kind,
            "at": stored.at,
            "principal": r.principal,
            "tool": r.tool,
            "detail": r.detail,
        }
        if r.correlation_id is not None:
            entry["correlationId"] = r.correlation_id
        rows.append((stored.revision, 1, stored.id, entry))
    rows.sort(key=lambda row: row[:3])
    return [row[3] for row in rows]
