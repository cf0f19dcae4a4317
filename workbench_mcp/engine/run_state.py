"""RunState: everything the engine needs to decide an operation, except the (append-only) trace.

It is immutable: an operation builds a new RunState, so a refused operation changes nothing by
construction. The trace is left out on purpose, so that deciding an operation costs the same
at trace length 10 and 10,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from workbench_mcp.protocol.artifacts import ArtifactVersion
from workbench_mcp.protocol.engine_state import GateSlots, StepStatus
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.run import RunInstance

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class IdempotencyEntry:
    artifact_key: str
    version: int
    payload_digest: str | None = None
    """SHA-256 of what the keyed write carried; None for records imported from the reference (D12)."""


@dataclass(frozen=True, slots=True)
class OpenSpan:
    span_id: str
    started_ms: float
    step_id: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunState:
    revision: int
    run: RunInstance
    step_status: Mapping[str, StepStatus]
    gate_state: Mapping[str, GateSlots]
    artifacts: Mapping[str, ArtifactVersion] = field(default_factory=dict)
    rule_sets: Mapping[str, RuleSet] = field(default_factory=dict)
    idempotency: Mapping[str, IdempotencyEntry] = field(default_factory=dict)
    open_spans: Mapping[str, OpenSpan] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.run.id

    def evolve(self, **changes: Any) -> RunState:
        return replace(self, **changes)


def with_entry(mapping: Mapping[K, V], key: K, value: V) -> dict[K, V]:
    """A copy of `mapping` with one entry set; an existing key keeps its position (JS Map semantics)."""
    updated = dict(mapping)
    updated[key] = value
    return updated


def without_entry(mapping: Mapping[K, V], key: K) -> dict[K, V]:
    updated = dict(mapping)
    updated.pop(key, None)
    return updated
