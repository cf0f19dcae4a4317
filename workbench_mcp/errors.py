"""The one error type that crosses layers, and its closed set of codes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # Protocol 1.0.0 codes (docs/protocol.md section 7.1).
    INVALID_JSON = "INVALID_JSON"
    INVALID_RUN_BUNDLE = "INVALID_RUN_BUNDLE"
    INVALID_RUN_STATE = "INVALID_RUN_STATE"
    INVALID_TRACE_EVENT = "INVALID_TRACE_EVENT"
    INTEGRITY_MISMATCH = "INTEGRITY_MISMATCH"
    MISSING_INTEGRITY = "MISSING_INTEGRITY"
    UNKNOWN_RUN = "UNKNOWN_RUN"
    UNKNOWN_STEP = "UNKNOWN_STEP"
    UNKNOWN_ARTIFACT = "UNKNOWN_ARTIFACT"
    UNKNOWN_RULESET = "UNKNOWN_RULESET"
    INVALID_WORKFLOW = "INVALID_WORKFLOW"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_STATE_TRANSITION = "INVALID_STATE_TRANSITION"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    PATCH_FAILED = "PATCH_FAILED"
    RUN_ID_COLLISION = "RUN_ID_COLLISION"
    UNSUPPORTED_PROTOCOL_VERSION = "UNSUPPORTED_PROTOCOL_VERSION"
    # workbench-mcp's own codes: stricter than the reference, never contradicting it.
    UNSAFE_NUMBER = "UNSAFE_NUMBER"  # integer beyond 2^53-1 or a non-finite number
    UNKNOWN_SPAN = "UNKNOWN_SPAN"
    GATE_NOT_APPLICABLE = "GATE_NOT_APPLICABLE"  # the step has no such gate, or it is not under review now
    UNKNOWN_CHECKPOINT = "UNKNOWN_CHECKPOINT"  # no named checkpoint with that id waits on the step
    UNKNOWN_WORKFLOW = "UNKNOWN_WORKFLOW"
    REVISION_CONFLICT = "REVISION_CONFLICT"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    RATE_LIMITED = "RATE_LIMITED"
    UNAUTHORIZED = "UNAUTHORIZED"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    TOOL_NOT_ENABLED = "TOOL_NOT_ENABLED"  # a real tool whose toolset this server does not enable
    READ_ONLY = "READ_ONLY"  # a write on a server started with --read-only
    LEDGER_MISMATCH = "LEDGER_MISMATCH"  # stored rows no longer match their hash chain (workbench_mcp/ledger)
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"  # the token lacks the scope the call needs (README "Governance")
    NOT_AUTHORIZED = "NOT_AUTHORIZED"  # the run's approval policy does not let this principal decide
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"  # the run spent its budget; raise_budget resumes it
    REVIEW_LINK_INVALID = "REVIEW_LINK_INVALID"  # not a review link this server signed (malformed or tampered)
    REVIEW_LINK_EXPIRED = "REVIEW_LINK_EXPIRED"  # a genuine review link past its expiry
    REVIEW_LINK_USED = "REVIEW_LINK_USED"  # a genuine review link that already recorded its decision
    ELICITATION_UNAVAILABLE = "ELICITATION_UNAVAILABLE"  # the client cannot be asked mid-call (README "Human review")
    INTERNAL_ERROR = "INTERNAL_ERROR"


class WorkbenchError(Exception):
    """A failure a caller can act on: a stable code plus a human-readable message."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        """The wire error body shared by REST and MCP: {"error": message, "code": CODE}."""
        return {"error": self.message, "code": self.code.value}

    def __repr__(self) -> str:
        return f"WorkbenchError({self.code.value}, {self.message!r})"
