"""Workflow specs (docs/protocol.md section 2) and their structural invariants."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import MISSING, Field

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.wire_model import NonEmptyStr, NonNegativeInt, Str, WireModel

GatePolicy = Literal["AUTO", "PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"]
GateKind = Literal["PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"]
POLICIES_WITH_AFTER_GATE: frozenset[str] = frozenset({"PAUSE_AFTER", "CHECKPOINT"})
START_GATE_OF_POLICY: dict[str, str] = {"PAUSE_BEFORE": "PAUSE_BEFORE", "CHECKPOINT": "CHECKPOINT"}
"""The name of the gate that holds a step before it starts: the policy's own name (D26)."""


class WorkflowStep(WireModel):
    id: NonEmptyStr
    title: Str | MISSING = MISSING
    description: Str | MISSING = MISSING
    gate_policy: GatePolicy = "AUTO"
    inputs: list[Str] = Field(default_factory=list)
    outputs: list[Str] = Field(default_factory=list)


class WorkflowEdge(WireModel):
    """`to` depends on `from`."""

    id: NonEmptyStr
    from_: NonEmptyStr = Field(alias="from")
    to: NonEmptyStr


class WorkflowSpec(WireModel):
    id: NonEmptyStr
    version: NonNegativeInt
    title: Str | MISSING = MISSING
    steps: list[WorkflowStep] = Field(min_length=1)
    edges: list[WorkflowEdge] = Field(default_factory=list)

    def step(self, step_id: str) -> WorkflowStep | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def step_ids(self) -> list[str]:
        return [s.id for s in self.steps]

    def predecessors(self, step_id: str) -> list[str]:
        """Edge sources into `step_id` in edge order; parallel edges repeat (as in the reference)."""
        return [e.from_ for e in self.edges if e.to == step_id]


def _invalid(message: str) -> WorkbenchError:
    return WorkbenchError(ErrorCode.INVALID_WORKFLOW, message)


def check_workflow_structure(spec: WorkflowSpec) -> None:
    """docs/protocol.md 2.2, in the reference's order and with its messages."""
    step_ids: set[str] = set()
    for step in spec.steps:
        if step.id in step_ids:
            raise _invalid(f"Duplicate workflow step id: {step.id}")
        step_ids.add(step.id)
    edge_ids: set[str] = set()
    for edge in spec.edges:
        if edge.from_ not in step_ids:
            raise _invalid(f'Edge "{edge.id}" references unknown "from" step: {edge.from_}')
        if edge.to not in step_ids:
            raise _invalid(f'Edge "{edge.id}" references unknown "to" step: {edge.to}')
        if edge.from_ == edge.to:
            raise _invalid(f'Edge "{edge.id}" cannot connect a step to itself ({edge.from_})')
        if edge.id in edge_ids:
            raise _invalid(f"Duplicate workflow edge id: {edge.id}")
        edge_ids.add(edge.id)
    _check_acyclic(spec.step_ids(), ((e.from_, e.to) for e in spec.edges))


def _check_acyclic(step_ids: list[str], edges: Iterable[tuple[str, str]]) -> None:
    in_degree = dict.fromkeys(step_ids, 0)
    successors: dict[str, list[str]] = {s: [] for s in step_ids}
    for source, target in edges:
        in_degree[target] += 1
        successors[source].append(target)
    ready = [s for s, count in in_degree.items() if count == 0]
    for current in ready:  # Kahn's algorithm; `ready` grows while we walk it
        for nxt in successors[current]:
            in_degree[nxt] -= 1
            if in_degree[nxt] == 0:
                ready.append(nxt)
    if len(ready) != len(in_degree):
        cyclic = sorted((s for s, count in in_degree.items() if count > 0), key=_utf16)
        raise _invalid(f"Workflow graph contains a cycle involving: {', '.join(cyclic)}")


def _utf16(value: str) -> bytes:
    # JavaScript's default sort compares UTF-16 code units.
    return value.encode("utf-16-be", "surrogatepass")
