"""Limits and knobs, with documented defaults (see README "Configuration")."""

from __future__ import annotations

from dataclasses import dataclass

from workbench_mcp.protocol.bundle import MAX_BUNDLE_BYTES
from workbench_mcp.store.run_store import StoreLimits


@dataclass(frozen=True, slots=True)
class Limits:
    max_artifact_payload_bytes: int = 1_048_576
    """Compact JSON bytes of one artifact's data (or one patch). Larger writes: LIMIT_EXCEEDED."""
    max_trace_events_per_run: int = 100_000
    max_runs_per_tenant: int = 100_000
    max_bundle_bytes: int = MAX_BUNDLE_BYTES
    """25 MiB, the reference's ceiling for bundles handed to verify/validate and REST bodies."""
    list_limit_default: int = 100
    list_limit_max: int = 500

    def for_store(self) -> StoreLimits:
        """The quotas the store itself enforces (it knows the counts)."""
        return StoreLimits(
            max_trace_events_per_run=self.max_trace_events_per_run,
            max_runs_per_tenant=self.max_runs_per_tenant,
            max_artifact_payload_bytes=self.max_artifact_payload_bytes,
        )


def clamp_limit(limit: int | None, limits: Limits) -> int:
    if limit is None:
        return limits.list_limit_default
    return max(1, min(limits.list_limit_max, limit))
