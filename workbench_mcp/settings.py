"""Limits, with documented defaults; the quotas are configurable (`WORKBENCH_MAX_*`, README "Configuration")."""

from __future__ import annotations

from dataclasses import dataclass

from workbench_mcp.protocol.bundle import MAX_BUNDLE_BYTES
from workbench_mcp.store.run_store import StoreLimits


@dataclass(frozen=True, slots=True)
class Limits(StoreLimits):
    """The store's quotas (it knows the counts, so it enforces them) plus what the service and REST bound."""

    max_bundle_bytes: int = MAX_BUNDLE_BYTES
    """25 MiB, the reference's ceiling for bundles handed to verify/validate and REST bodies."""
    list_limit_default: int = 100
    list_limit_max: int = 500
    """Page sizes of list_runs / GET /api/runs: the reference's, so clients page the same way (not configurable)."""


def clamp_limit(limit: int | None, limits: Limits) -> int:
    if limit is None:
        return limits.list_limit_default
    return max(1, min(limits.list_limit_max, limit))
