"""Mutations as frozen command objects, executed by `RunService.execute` (issue 10 §1, started).

A command holds its arguments once, typed, and knows its engine decision and the tool name its audit row
carries; the service supplies the clock, the transaction and the correlation id. So far: the telemetry
writes with no service-side checks (annotate) and the span pair, which no tool exposes (the demo run
records its span with them). The other mutations still have their own RunService methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from workbench_mcp.engine import telemetry
from workbench_mcp.engine.clock import Clock
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.run_state import RunState


class Command(Protocol):
    tool: ClassVar[str]
    """The tool name the audit row and the store's actor carry."""

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class Annotate:
    tool: ClassVar[str] = "annotate"
    text: str
    tags: list[str] | None = None

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return telemetry.annotate(state, clock, text=self.text, tags=self.tags, correlation_id=correlation_id)


@dataclass(frozen=True, slots=True)
class BeginSpan:
    """Its outcome's result carries the new spanId."""

    tool: ClassVar[str] = "begin_span"
    name: str
    parent_span_id: str | None = None
    kind: str | None = None
    attributes: Any = None
    step_id: str | None = None

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return telemetry.begin_span(
            state,
            clock,
            name=self.name,
            parent_span_id=self.parent_span_id,
            kind=self.kind,
            attributes=self.attributes,
            step_id=self.step_id,
            correlation_id=correlation_id,
        )


@dataclass(frozen=True, slots=True)
class EndSpan:
    """An ended span carries its start's correlation id, so this one takes none."""

    tool: ClassVar[str] = "end_span"
    span_id: str
    status: str | None = None
    attributes: Any = None
    error: Any = None

    def decide(self, state: RunState, clock: Clock, correlation_id: str | None) -> Outcome:
        return telemetry.end_span(
            state, clock, span_id=self.span_id, status=self.status, attributes=self.attributes, error=self.error
        )
