"""Token scopes and the one table saying which scope each tool and REST route needs (README "Governance")."""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from workbench_mcp.errors import ErrorCode, WorkbenchError

READ = "runs:read"
WRITE = "runs:write"
APPROVE = "gates:approve"
ADMIN = "runs:admin"
ALL_SCOPES: frozenset[str] = frozenset((READ, WRITE, APPROVE, ADMIN))
"""What an operator's principal holds: stdio, --single-tenant, the dev token `serve` prints."""

DEFAULT_SCOPES: tuple[str, ...] = (READ, WRITE, APPROVE, ADMIN)
"""WORKBENCH_DEFAULT_SCOPES for a token without a `scope`/`scp` claim: all four, so tokens and reference
clients that predate scopes keep working (HttpRunRepository saves with PUT, which is runs:admin). Agents get
narrower tokens (`workbench-mcp token --scope "runs:read runs:write"`), or operators narrow this default."""

_WRITE_TOOLS = (
    "start_run",
    "begin_step",
    "complete_step",
    "fail_step",
    "complete_run",
    "cancel_run",
    "fail_run",
    "write_artifact",
    "patch_artifact",
    "request_gate",
    "request_review",
    "annotate",
    "log_model_io",
    "log_tool_call",
    "replace_rule_set",
)
_APPROVE_TOOLS = ("resolve_gate", "resolve_checkpoint", "raise_budget", "ask_user_to_review")

TOOL_SCOPES: MappingProxyType[str, str] = MappingProxyType(
    dict.fromkeys(_WRITE_TOOLS, WRITE) | dict.fromkeys(_APPROVE_TOOLS, APPROVE)
)
"""Tool name -> the scope it needs; every tool not listed only reads (runs:read)."""

REST_SCOPES: MappingProxyType[str, str] = MappingProxyType({"GET": READ, "PUT": ADMIN, "DELETE": ADMIN})
"""REST method -> scope: a PUT imports a whole state, which can set any gate, so it is an admin act."""


def tool_scope(tool: str) -> str:
    return TOOL_SCOPES.get(tool, READ)


def parse_scopes(text: str, what: str) -> tuple[str, ...]:
    """A space- (or comma-) separated scope list of known scopes; ValueError naming `what` otherwise."""
    scopes = tuple(dict.fromkeys(text.replace(",", " ").split()))
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown:
        raise ValueError(f"{what}: unknown scope {unknown[0]!r} (known: {' '.join(sorted(ALL_SCOPES))})")
    return scopes


def missing_scope(held: Iterable[str], needed: str) -> WorkbenchError | None:
    """None if `needed` is held, else the refusal (INSUFFICIENT_SCOPE naming the scope; details.scope)."""
    if needed in set(held):
        return None
    return WorkbenchError(
        ErrorCode.INSUFFICIENT_SCOPE, f"this token lacks the scope {needed} this call needs", scope=needed
    )
