"""Offline verification of a bundle against its attestation: each check named, the first failure wins.

Checks, in order: `envelope` (a DSSE envelope holding an in-toto Statement of our predicate type),
`signature` (PAE signature by a published key), `subject_digest` (the bundle's recomputed integrity
hash is the signed subject), `bundle` (the bundle's own schema, structure and integrity),
`event_count`, `chain_head` (the chain recomputed from the bundle's trace is the signed head),
`decisions` (each signed decision is the `human_gate_resolved` event at its seq, and every such event
has one), `checkpoints` (each is signed by a published key, names this run, and its head is the
chain recomputed at its seq), `governance` (the governance rows never leave the server, so only their
signed head is checked: the predicate's governance head and count are the ones the latest checkpoint
covering governance signed, each checkpoint's count never goes down, and the denials and approvals
listed are no more than the rows counted; attestations from before governance was chained skip it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from workbench_mcp.errors import WorkbenchError
from workbench_mcp.ledger import chain
from workbench_mcp.ledger.attestation import PREDICATE_TYPE, STATEMENT_TYPE
from workbench_mcp.ledger.checkpoints import CHECKPOINT_PAYLOAD_TYPE, read_payload
from workbench_mcp.ledger.dsse import IN_TOTO_PAYLOAD_TYPE, EnvelopeError, open_envelope, verify_envelope
from workbench_mcp.protocol.bundle import compute_integrity, integrity_matches, normalize_bundle, validate_bundle

CHECKS = (
    "envelope",
    "signature",
    "subject_digest",
    "bundle",
    "event_count",
    "chain_head",
    "decisions",
    "checkpoints",
    "governance",
)


class CheckFailed(Exception):
    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check
        self.message = message


@dataclass(frozen=True, slots=True)
class Verified:
    run_id: str
    key_id: str
    event_count: int
    chain_head: str


def verify_attestation(bundle: Any, envelope: Any, keys: Mapping[str, Ed25519PublicKey]) -> Verified:
    """Every check holds, or CheckFailed naming the first that does not."""
    try:
        payload_type, _, _ = open_envelope(envelope)
    except EnvelopeError as exc:
        raise CheckFailed("envelope", str(exc)) from None
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise CheckFailed("envelope", f"payloadType is {payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE!r}")
    try:
        payload, key_id = verify_envelope(envelope, keys)
    except EnvelopeError as exc:
        raise CheckFailed("signature", str(exc)) from None
    predicate, subject_digest = _read_statement(payload)

    try:
        digest = compute_integrity(normalize_bundle(bundle))
    except WorkbenchError as exc:
        raise CheckFailed("subject_digest", f"the bundle cannot be hashed: {exc.message}") from None
    if digest != subject_digest:
        raise CheckFailed("subject_digest", f"the bundle hashes to {digest}, the attestation names {subject_digest}")
    try:
        checked = validate_bundle(bundle)
    except WorkbenchError as exc:
        raise CheckFailed("bundle", exc.message) from None
    if not integrity_matches(checked):
        raise CheckFailed("bundle", "the bundle's integrity.sha256 does not match its canonical JSON")
    trace = checked["trace"]

    if predicate.get("eventCount") != len(trace) or predicate.get("runId") != checked["run"]["id"]:
        raise CheckFailed(
            "event_count", f"the bundle has {len(trace)} events, the attestation says {predicate.get('eventCount')}"
        )
    link_list = chain.links(trace)
    head = link_list[-1] if link_list else chain.GENESIS
    signed_chain = predicate.get("chain")
    signed_head = signed_chain.get("head") if isinstance(signed_chain, dict) else None
    if head != signed_head:
        raise CheckFailed("chain_head", f"the trace chains to {head}, the attestation signed {signed_head}")
    _check_decisions(predicate, trace)
    governance_heads = _check_checkpoints(predicate, checked["run"]["id"], link_list, keys)
    _check_governance(predicate, governance_heads)
    return Verified(checked["run"]["id"], key_id, len(trace), head)


def _read_statement(payload: bytes) -> tuple[dict[str, Any], str]:
    try:
        value = json.loads(payload)
        if value.get("_type") != STATEMENT_TYPE or value.get("predicateType") != PREDICATE_TYPE:
            raise ValueError("not an in-toto Statement v1 with the workbench-mcp run predicate")
        digest = value["subject"][0]["digest"]["sha256"]
        predicate = value["predicate"]
        if not isinstance(digest, str) or not isinstance(predicate, dict):
            raise ValueError("subject digest or predicate missing")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise CheckFailed("envelope", f"payload is not our attestation statement: {exc}") from None
    return predicate, digest


def _check_decisions(predicate: Mapping[str, Any], trace: list[dict[str, Any]]) -> None:
    decisions = predicate.get("decisions")
    if not isinstance(decisions, list):
        raise CheckFailed("decisions", "the predicate has no decisions list")
    resolved = [seq for seq, e in enumerate(trace, start=1) if e.get("type") == "human_gate_resolved"]
    if [d.get("seq") if isinstance(d, dict) else None for d in decisions] != resolved:
        raise CheckFailed(
            "decisions",
            f"signed decisions at seqs {[d.get('seq') for d in decisions if isinstance(d, dict)]}, "
            f"the trace resolves gates at {resolved}",
        )
    for decision in decisions:
        event = trace[decision["seq"] - 1]
        for member, field in (("eventId", "id"), ("stepId", "stepId"), ("gate", "gate"), ("decision", "decision")):
            if decision.get(member) != event.get(field):
                raise CheckFailed(
                    "decisions",
                    f"decision at seq {decision['seq']}: {member} {decision.get(member)!r}, "
                    f"the event has {event.get(field)!r}",
                )


def _check_checkpoints(
    predicate: Mapping[str, Any], run_id: str, link_list: list[str], keys: Mapping[str, Ed25519PublicKey]
) -> list[tuple[int, Any, Any]]:
    """Checks the checkpoints; returns (number, governanceSeq, governanceHead) of those that sign one."""
    governance: list[tuple[int, Any, Any]] = []
    checkpoints = predicate.get("checkpoints")
    if not isinstance(checkpoints, list):
        raise CheckFailed("checkpoints", "the predicate has no checkpoints list")
    for number, envelope in enumerate(checkpoints, start=1):
        try:
            body, _ = verify_envelope(envelope, keys, payload_type=CHECKPOINT_PAYLOAD_TYPE)
            payload = read_payload(body)
        except (EnvelopeError, ValueError) as exc:
            raise CheckFailed("checkpoints", f"checkpoint {number}: {exc}") from None
        seq = payload.get("seq")
        if payload.get("runId") != run_id or not isinstance(seq, int) or not 0 <= seq <= len(link_list):
            raise CheckFailed("checkpoints", f"checkpoint {number} is for run {payload.get('runId')} at seq {seq}")
        expected = link_list[seq - 1] if seq else chain.GENESIS
        if payload.get("chainHead") != expected:
            raise CheckFailed(
                "checkpoints",
                f"checkpoint {number} signed head {payload.get('chainHead')} at seq {seq}, "
                f"the trace chains to {expected}",
            )
        if "governanceSeq" in payload:
            governance.append((number, payload.get("governanceSeq"), payload.get("governanceHead")))
    return governance


def _check_governance(predicate: Mapping[str, Any], signed: list[tuple[int, Any, Any]]) -> None:
    signed_chain = predicate.get("chain")
    if not isinstance(signed_chain, dict) or "governanceHead" not in signed_chain:
        return  # an attestation from before governance rows were chained
    count, head = signed_chain.get("governanceSeq"), signed_chain.get("governanceHead")
    if not isinstance(count, int) or count < 0 or not isinstance(head, str):
        raise CheckFailed("governance", "the predicate's governance chain has no count or head")
    if not signed:
        raise CheckFailed("governance", "no signed checkpoint covers the governance chain")
    previous = 0
    for number, seq, _ in signed:
        if not isinstance(seq, int) or seq < previous:
            raise CheckFailed("governance", f"checkpoint {number} signs {seq} governance rows, after {previous}")
        previous = seq
    number, seq, last_head = signed[-1]
    if (seq, last_head) != (count, head):
        raise CheckFailed(
            "governance",
            f"the predicate's governance chain ({count} rows, head {head}) is not the one checkpoint {number} "
            f"signed ({seq} rows, head {last_head})",
        )
    listed = [*(predicate.get("denials") or []), *(predicate.get("approvals") or [])]
    if len(listed) > count:
        raise CheckFailed("governance", f"{len(listed)} denials and approvals listed, {count} governance rows signed")
