"""Signed checkpoints: `{tenant, runId, seq, chainHead, auditSeq, auditHead, governanceSeq,
governanceHead, time, keyId, reason}` in a DSSE envelope (checkpoints signed before governance rows
were chained lack the two governance members). One is written on every gate decision, run
completion/failure/cancel, attestation export, whole-run import and migration of a run stored
before the ledger existed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from workbench_mcp.ledger.dsse import sign_envelope
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.protocol.canonical_json import canonical_json

CHECKPOINT_PAYLOAD_TYPE = "application/vnd.workbench-mcp.checkpoint+json"
CHECKPOINT_TYPE = "https://github.com/workbench-mcp/workbench-mcp/ledger/checkpoint/v1"

Reason = Literal["gate_decision", "run_completed", "run_failed", "run_cancelled", "export", "import", "migration"]

TERMINAL_REASONS: dict[str, Reason] = {
    "completed": "run_completed",
    "failed": "run_failed",
    "cancelled": "run_cancelled",
}


@dataclass(frozen=True, slots=True)
class Heads:
    event_seq: int
    event_head: str
    audit_seq: int
    audit_head: str


def reason_for(event: dict[str, Any]) -> Reason | None:
    """The checkpoint an appended event calls for, if any."""
    kind = event.get("type")
    if kind == "human_gate_resolved":
        return "gate_decision"
    if kind == "run_status_changed":
        return TERMINAL_REASONS.get(str(event.get("status")))
    return None


def checkpoint_payload(
    tenant: str,
    run_id: str,
    heads: Heads,
    at: str,
    kid: str,
    reason: str,
    governance: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """`governance`: (how many governance rows, the last one's link), None: not covered."""
    payload = {
        "_type": CHECKPOINT_TYPE,
        "tenant": tenant,
        "runId": run_id,
        "seq": heads.event_seq,
        "chainHead": heads.event_head,
        "auditSeq": heads.audit_seq,
        "auditHead": heads.audit_head,
        "time": at,
        "keyId": kid,
        "reason": reason,
    }
    if governance is not None:
        payload["governanceSeq"], payload["governanceHead"] = governance
    return payload


def sign_checkpoint(
    key: SigningKey,
    tenant: str,
    run_id: str,
    heads: Heads,
    at: str,
    reason: str,
    governance: tuple[int, str] | None = None,
) -> dict[str, Any]:
    payload = checkpoint_payload(tenant, run_id, heads, at, key.kid, reason, governance)
    return sign_envelope(CHECKPOINT_PAYLOAD_TYPE, canonical_json(payload).encode("utf-8"), key)


def read_payload(body: bytes) -> dict[str, Any]:
    """A checkpoint envelope's payload as JSON (ValueError when it is not a checkpoint)."""
    value = json.loads(body)
    if not isinstance(value, dict) or value.get("_type") != CHECKPOINT_TYPE:
        raise ValueError("not a workbench-mcp checkpoint")
    return value
