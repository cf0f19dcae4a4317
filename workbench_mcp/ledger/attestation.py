"""The attestation: an in-toto Statement v1 about one RunBundle, in a DSSE envelope.

subject = the bundle (digest = its integrity SHA-256); predicate = what happened in the run, as the
server recorded it: status, event count, the event chain's head, every gate decision with who made
it, through which channel and when (from the audit rows, which never leave the server otherwise),
the refused calls (governance `denied` rows) and partial quorum approvals, budget usage (limit and
used, for a run with a budget; computed by the caller, since the ledger knows no policy) and the
run's signed checkpoints.
"""

from __future__ import annotations

import json
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


def _detail(row: Mapping[str, Any]) -> dict[str, Any]:
    text = row.get("detail_json")
    value = json.loads(text) if isinstance(text, str) else {}
    return value if isinstance(value, dict) else {}


def denials(governance: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every refused call (a `denied` governance row): who, through which tool, the error code, when."""
    out: list[dict[str, Any]] = []
    for row in governance:
        if row.get("kind") != "denied":
            continue
        detail = _detail(row)
        entry = {
            "principal": row.get("principal"),
            "tool": row.get("tool"),
            "code": detail.get("code"),
            "time": row.get("at"),
            "refused": detail.get("refused"),
            "correlationId": row.get("correlation_id"),
        }
        out.append({k: v for k, v in entry.items() if v not in (None, {})})
    return out


def approvals(governance: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every quorum approval (an `approval` governance row): who approved which gate, when, the count so far.
    The decision that opened the gate is also a `human_gate_resolved` event, under `decisions`."""
    out: list[dict[str, Any]] = []
    for row in governance:
        if row.get("kind") != "approval":
            continue
        detail = _detail(row)
        entry = {
            "principal": row.get("principal"),
            "channel": row.get("tool"),
            "stepId": detail.get("stepId"),
            "gate": detail.get("gate"),
            "approvals": detail.get("approvals"),
            "quorum": detail.get("quorum"),
            "time": row.get("at"),
        }
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


def statement(
    bundle: Mapping[str, Any],
    audit: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Mapping[str, Any]],
    *,
    heads: Heads,
    governance: Sequence[Mapping[str, Any]] = (),
    budget: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The statement; `heads` are the run's last links as the store linked them (its trace's chain);
    `governance` the run's governance rows (columns by name, in id order, `link` included); `budget`
    its usage report (`limit`, `used`, ...), None for a run without a budget."""
    trace = bundle["trace"]
    run = bundle["run"]
    by_seq = {int(record["seq"]): record for record in audit}
    governance_head = str(governance[-1].get("link") or chain.GENESIS) if governance else chain.GENESIS
    predicate: dict[str, Any] = {
        "runId": run["id"],
        "workflowId": run["workflowId"],
        "status": run["status"],
        "eventCount": len(trace),
        "chain": {
            "algorithm": chain.ALGORITHM,
            "head": heads.event_head,
            "auditHead": heads.audit_head,
            "governanceSeq": len(governance),
            "governanceHead": governance_head,
        },
        "decisions": gate_decisions(trace, by_seq),
        "denials": denials(governance),
        "approvals": approvals(governance),
        "checkpoints": list(checkpoints),
    }
    if budget is not None:
        predicate["budget"] = {k: budget[k] for k in ("limit", "used", "exceeded", "currency") if k in budget}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f"{run['id']}.bundle.json", "digest": {"sha256": bundle["integrity"]["sha256"]}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def attest(
    bundle: Mapping[str, Any],
    audit: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Mapping[str, Any]],
    key: SigningKey,
    *,
    heads: Heads,
    governance: Sequence[Mapping[str, Any]] = (),
    budget: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body = statement(bundle, audit, checkpoints, heads=heads, governance=governance, budget=budget)
    return sign_envelope(IN_TOTO_PAYLOAD_TYPE, canonical_json(body).encode("utf-8"), key)
