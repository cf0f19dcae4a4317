"""The attestation: an in-toto Statement v1 about one RunBundle, in a DSSE envelope.

subject = the bundle (digest = its integrity SHA-256); predicate = what happened in the run, as the
server recorded it: status, event count, the event chain's head, every gate decision with who made
it, through which channel and when (from the audit rows, which never leave the server otherwise),
denials, budget usage (both belong to governance: empty and absent until it lands) and the run's
signed checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench_mcp.ledger import chain
from workbench_mcp.ledger.checkpoints import Heads
from workbench_mcp.ledger.dsse import IN_TOTO_PAYLOAD_TYPE, sign_envelope
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.protocol.canonical_json import canonical_json

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://github.com/workbench-mcp/workbench-mcp/ledger/run-attestation/v1"


def gate_decisions(trace: Sequence[Mapping[str, Any]], audit: Mapping[int, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every `human_gate_resolved` event (seq = 1-based trace position) with its audit record."""
    decisions: list[dict[str, Any]] = []
    for seq, event in enumerate(trace, start=1):
        if event.get("type") != "human_gate_resolved":
            continue
        record = audit.get(seq, {})
        decision: dict[str, Any] = {
            "seq": seq,
            "eventId": event.get("id"),
            "stepId": event.get("stepId"),
            "gate": event.get("gate"),
            "decision": event.get("decision"),
            "principal": record.get("principal"),
            "channel": record.get("tool"),
            "time": record.get("at"),
        }
        if record.get("correlation_id") is not None:
            decision["correlationId"] = record["correlation_id"]
        decisions.append({k: v for k, v in decision.items() if v is not None})
    return decisions


def statement(
    bundle: Mapping[str, Any],
    audit: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Mapping[str, Any]],
    *,
    heads: Heads,
) -> dict[str, Any]:
    """The statement; `heads` are the run's last links as the store linked them (its trace's chain)."""
    trace = bundle["trace"]
    run = bundle["run"]
    by_seq = {int(record["seq"]): record for record in audit}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f"{run['id']}.bundle.json", "digest": {"sha256": bundle["integrity"]["sha256"]}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "runId": run["id"],
            "workflowId": run["workflowId"],
            "status": run["status"],
            "eventCount": len(trace),
            "chain": {"algorithm": chain.ALGORITHM, "head": heads.event_head, "auditHead": heads.audit_head},
            "decisions": gate_decisions(trace, by_seq),
            "denials": [],
            "checkpoints": list(checkpoints),
        },
    }


def attest(
    bundle: Mapping[str, Any],
    audit: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Mapping[str, Any]],
    key: SigningKey,
    *,
    heads: Heads,
) -> dict[str, Any]:
    body = statement(bundle, audit, checkpoints, heads=heads)
    return sign_envelope(IN_TOTO_PAYLOAD_TYPE, canonical_json(body).encode("utf-8"), key)
