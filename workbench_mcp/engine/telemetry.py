"""Model I/O, tool calls, spans, annotations and fork notices (docs/protocol.md 6.8, 6.9)."""

from __future__ import annotations

from typing import Any

from pydantic import MISSING

from workbench_mcp.engine.clock import Clock, new_id
from workbench_mcp.engine.guards import require_optional_step, require_running
from workbench_mcp.engine.outcome import Outcome, absent_if_none, appended, make_event
from workbench_mcp.engine.run_state import OpenSpan, RunState, with_entry, without_entry
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.trace_events import (
    Annotation,
    ModelIO,
    RunForked,
    SpanEnded,
    SpanStarted,
    ToolCall,
)


def log_model_io(
    state: RunState,
    clock: Clock,
    *,
    direction: str,
    step_id: str | None = None,
    correlation_id: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    usage: Any = None,
    cost: Any = None,
    duration_ms: float | None = None,
    summary: str | None = None,
    payload: Any = MISSING,
    detail: str = "summary",
) -> Outcome:
    """The payload is kept only with detail="full"; otherwise it is silently dropped."""
    require_running(state, "log model I/O")
    require_optional_step(state, step_id)
    event = make_event(
        ModelIO,
        clock,
        state,
        step_id=absent_if_none(step_id),
        correlation_id=absent_if_none(correlation_id),
        direction=direction,
        provider=absent_if_none(provider),
        model=absent_if_none(model),
        usage=absent_if_none(usage),
        cost=absent_if_none(cost),
        duration_ms=absent_if_none(duration_ms),
        summary=absent_if_none(summary),
        payload=payload if detail == "full" else MISSING,
    )
    return Outcome(appended(state, [event]), [event])


def log_tool_call(
    state: RunState,
    clock: Clock,
    *,
    name: str,
    args: Any = MISSING,
    result: Any = MISSING,
    step_id: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    require_running(state, "log tool call")
    if not name.strip():
        raise WorkbenchError(ErrorCode.INVALID_INPUT, "logToolCall requires a non-empty tool name")
    require_optional_step(state, step_id)
    event = make_event(
        ToolCall,
        clock,
        state,
        step_id=absent_if_none(step_id),
        correlation_id=absent_if_none(correlation_id),
        name=name,
        args=args,
        result=result,
    )
    return Outcome(appended(state, [event]), [event])


def begin_span(
    state: RunState,
    clock: Clock,
    *,
    name: str,
    parent_span_id: str | None = None,
    kind: str | None = None,
    attributes: Any = None,
    step_id: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    """Opens a span; its id is the result, to be passed to end_span."""
    require_running(state, "begin span")
    require_optional_step(state, step_id)
    span_id = new_id(clock, "span")
    started_ms = clock.monotonic_ms()
    event = make_event(
        SpanStarted,
        clock,
        state,
        step_id=absent_if_none(step_id),
        correlation_id=absent_if_none(correlation_id),
        span_id=span_id,
        parent_span_id=absent_if_none(parent_span_id),
        name=name,
        kind=absent_if_none(kind),
        attributes=absent_if_none(attributes),
    )
    span = OpenSpan(span_id, started_ms, step_id, correlation_id)
    new_state = appended(state, [event], open_spans=with_entry(state.open_spans, span_id, span))
    return Outcome(new_state, [event], {"spanId": span_id})


def end_span(
    state: RunState,
    clock: Clock,
    *,
    span_id: str,
    status: str | None = None,
    attributes: Any = None,
    error: Any = None,
) -> Outcome:
    """Ends an open span once; it carries the start's stepId and correlationId.

    Unlike the reference (D19), a span cannot end after the run has: terminal runs take no appends.
    """
    require_running(state, "end span")
    span = state.open_spans.get(span_id)
    if span is None:
        raise WorkbenchError(ErrorCode.UNKNOWN_SPAN, f"Unknown or already ended span: {span_id}")
    duration = max(0.0, clock.monotonic_ms() - span.started_ms)
    event = make_event(
        SpanEnded,
        clock,
        state,
        step_id=absent_if_none(span.step_id),
        correlation_id=absent_if_none(span.correlation_id),
        span_id=span_id,
        status=absent_if_none(status),
        duration_ms=duration,
        attributes=absent_if_none(attributes),
        error=absent_if_none(error),
    )
    new_state = appended(state, [event], open_spans=without_entry(state.open_spans, span_id))
    return Outcome(new_state, [event])


def annotate(
    state: RunState,
    clock: Clock,
    *,
    text: str,
    tags: list[str] | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    """Appends an annotation event; run.annotations stays untouched, as in the reference."""
    require_running(state, "annotate run")
    event = make_event(
        Annotation,
        clock,
        state,
        correlation_id=absent_if_none(correlation_id),
        text=text,
        tags=absent_if_none(tags),
    )
    return Outcome(appended(state, [event]), [event])


def fork_notice(
    state: RunState,
    clock: Clock,
    *,
    parent_run_id: str,
    forked_from_step_id: str | None = None,
    correlation_id: str | None = None,
) -> Outcome:
    require_running(state, "record fork notice")
    event = make_event(
        RunForked,
        clock,
        state,
        correlation_id=absent_if_none(correlation_id),
        parent_run_id=parent_run_id,
        forked_from_step_id=absent_if_none(forked_from_step_id),
    )
    return Outcome(appended(state, [event]), [event])
