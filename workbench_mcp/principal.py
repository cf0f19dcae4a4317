"""Who is calling: the tenant every query is scoped to, and the subject recorded for audit."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench_mcp.scopes import ALL_SCOPES

USER_TENANT_PREFIX = "user:"
"""Personal tenants are `user:<sub>`; no organization id may start with this (README "Security")."""


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    subject: str
    scopes: frozenset[str] = field(default=ALL_SCOPES)
    """What the principal may do (governance/scopes.py). The default, every scope, is an operator's:
    stdio, --single-tenant, in-process embedders; a bearer token's come from its claims."""


def in_user_namespace(tenant_id: str) -> bool:
    """True for ids shaped like a personal tenant: an organization claim like this is refused, so org
    tenants and user tenants can never share an id (`org_id: "user:alice"` would otherwise be alice)."""
    return tenant_id.startswith(USER_TENANT_PREFIX)


def tenant_for(subject: str, org_id: str | None) -> str:
    """The reference's formula: tenantId = orgId ?? "user:" + userId (org ids in the user namespace are
    refused before this point, by the token verifier and by `workbench-mcp token`)."""
    return org_id if org_id else f"{USER_TENANT_PREFIX}{subject}"
