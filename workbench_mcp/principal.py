"""Who is calling: the tenant every query is scoped to, and the subject recorded for audit."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)


def tenant_for(subject: str, org_id: str | None) -> str:
    """The reference's formula: tenantId = orgId ?? "user:" + userId."""
    return org_id if org_id else f"user:{subject}"
