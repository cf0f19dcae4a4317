"""Model I/O, tool calls, spans, annotations, fork notices (6.8, 6.9); D5 and D19."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import MISSING

from tests.clocks import CountingClock
from tests.conftest import Run, dumped, one_step
from workbench_mcp.engine import lifecycle, telemetry
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError


def _code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(WorkbenchError) as info:
        call()
    return info.value.code


def _common(event: dict[str, Any], state: RunState) -> dict[str, Any]:
    return {"id": event["id"], "runId": state.run_id, "ts": event["ts"]}


# --- log_model_io --------------------------------------------------------------------------------


def test_model_io_full_detail(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    out = telemetry.log_model_io(
        state,
        clock,
        direction="response",
        step_id="s1",
        correlation_id="c",
        provider="openai",
        model="m",
        usage={"inputTokens": 3, "outputTokens": 4.0},
        cost={"amount": 0.01, "currency": "USD"},
        duration_ms=12.5,
        summary="ok",
        payload={"text": "hi"},
        detail="full",
    )
    (event,) = dumped(out)
    assert event == {
        **_common(event, state),
        "stepId": "s1",
        "correlationId": "c",
        "type": "model_io",
        "direction": "response",
        "provider": "openai",
        "model": "m",
        "usage": {"inputTokens": 3, "outputTokens": 4},
        "cost": {"amount": 0.01, "currency": "USD"},
        "durationMs": 12.5,
        "summary": "ok",
        "payload": {"text": "hi"},
    }
    assert out.state.revision == state.revision + 1
    assert out.state.step_status == state.step_status


def test_model_io_drops_payload_unless_full(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    (event,) = dumped(telemetry.log_model_io(state, clock, direction="request", payload={"secret": 1}))
    assert event == {**_common(event, state), "type": "model_io", "direction": "request"}


def test_model_io_full_keeps_null_payload_and_absent_stays_absent(
    started: Callable[..., RunState], clock: CountingClock
) -> None:
    state = started()
    (with_null,) = dumped(telemetry.log_model_io(state, clock, direction="request", payload=None, detail="full"))
    assert with_null["payload"] is None
    (without,) = dumped(telemetry.log_model_io(state, clock, direction="request", payload=MISSING, detail="full"))
    assert "payload" not in without


@pytest.mark.parametrize(
    "kwargs",
    [
        {"direction": "sideways"},
        {"direction": "request", "provider": ""},
        {"direction": "request", "model": ""},
        {"direction": "request", "usage": {"inputTokens": -1}},
        {"direction": "request", "usage": {"inputTokens": 1, "bogus": 1}},
        {"direction": "request", "usage": {"inputTokens": 1.5}},
        {"direction": "request", "cost": {"amount": 1}},
        {"direction": "request", "cost": {"amount": -1, "currency": "USD"}},
        {"direction": "request", "cost": {"amount": 1, "currency": "USD", "tax": 1}},
        {"direction": "request", "duration_ms": -0.5},
    ],
)
def test_model_io_invalid_events_change_nothing(
    started: Callable[..., RunState], clock: CountingClock, kwargs: dict[str, Any]
) -> None:
    state = started()
    assert _code(lambda: telemetry.log_model_io(state, clock, **kwargs)) is ErrorCode.INVALID_TRACE_EVENT
    assert state.revision == 0


def test_model_io_unknown_step_d5(started: Callable[..., RunState], clock: CountingClock) -> None:
    assert _code(lambda: telemetry.log_model_io(started(), clock, direction="request", step_id="ghost")) is (
        ErrorCode.UNKNOWN_STEP
    )


def test_model_io_empty_step_id_means_none(started: Callable[..., RunState], clock: CountingClock) -> None:
    # An empty stepId names no step: it passes 4.4 and is recorded as given.
    (event,) = dumped(telemetry.log_model_io(started(), clock, direction="request", step_id=""))
    assert event["stepId"] == ""


# --- log_tool_call -------------------------------------------------------------------------------


def test_tool_call(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    out = telemetry.log_tool_call(
        state, clock, name="search", args={"q": "x"}, result=None, step_id="s1", correlation_id="c"
    )
    (event,) = dumped(out)
    assert event == {
        **_common(event, state),
        "stepId": "s1",
        "correlationId": "c",
        "type": "tool_call",
        "name": "search",
        "args": {"q": "x"},
        "result": None,
    }


def test_tool_call_absent_args_and_result(started: Callable[..., RunState], clock: CountingClock) -> None:
    (event,) = dumped(telemetry.log_tool_call(started(), clock, name="t"))
    assert "args" not in event
    assert "result" not in event


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_tool_call_blank_name(started: Callable[..., RunState], clock: CountingClock, name: str) -> None:
    assert _code(lambda: telemetry.log_tool_call(started(), clock, name=name)) is ErrorCode.INVALID_INPUT


def test_tool_call_unknown_step_d5(started: Callable[..., RunState], clock: CountingClock) -> None:
    assert _code(lambda: telemetry.log_tool_call(started(), clock, name="t", step_id="ghost")) is ErrorCode.UNKNOWN_STEP


def test_tool_call_unsafe_number_changes_nothing(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    assert _code(lambda: telemetry.log_tool_call(state, clock, name="t", args={"n": 2**60})) is ErrorCode.UNSAFE_NUMBER


# --- spans ---------------------------------------------------------------------------------------


def test_begin_and_end_span(run: Callable[..., Run]) -> None:
    r = run(one_step())
    begun = r.do(
        telemetry.begin_span,
        name="work",
        parent_span_id="span_parent",
        kind="client",
        attributes={"a": 1},
        step_id="s1",
        correlation_id="c",
    )
    span_id = begun.result["spanId"]
    assert span_id.startswith("span_")
    (started_event,) = dumped(begun)
    assert started_event == {
        **_common(started_event, r.state),
        "stepId": "s1",
        "correlationId": "c",
        "type": "span_started",
        "spanId": span_id,
        "parentSpanId": "span_parent",
        "name": "work",
        "kind": "client",
        "attributes": {"a": 1},
    }
    assert list(r.state.open_spans) == [span_id]
    ended = r.do(
        telemetry.end_span, span_id=span_id, status="error", attributes={"b": 2}, error={"message": "m", "code": "X"}
    )
    (ended_event,) = dumped(ended)
    assert ended_event == {
        **_common(ended_event, r.state),
        "stepId": "s1",  # carried over from the start
        "correlationId": "c",
        "type": "span_ended",
        "spanId": span_id,
        "status": "error",
        "durationMs": 1.5,  # one CountingClock monotonic tick
        "attributes": {"b": 2},
        "error": {"message": "m", "code": "X"},
    }
    assert dict(r.state.open_spans) == {}
    assert r.state.revision == len(r.trace)


def test_minimal_span(run: Callable[..., Run]) -> None:
    r = run()
    span_id = r.do(telemetry.begin_span, name="n").result["spanId"]
    (event,) = dumped(r.do(telemetry.end_span, span_id=span_id))
    assert set(event) == {"id", "runId", "ts", "type", "spanId", "durationMs"}
    assert r.trace[0] == {**_common(r.trace[0], r.state), "type": "span_started", "spanId": span_id, "name": "n"}


def test_end_unknown_or_already_ended_span(run: Callable[..., Run]) -> None:
    r = run()
    assert _code(lambda: telemetry.end_span(r.state, r.clock, span_id="span_nope")) is ErrorCode.UNKNOWN_SPAN
    span_id = r.do(telemetry.begin_span, name="n").result["spanId"]
    r.do(telemetry.end_span, span_id=span_id)
    assert _code(lambda: telemetry.end_span(r.state, r.clock, span_id=span_id)) is ErrorCode.UNKNOWN_SPAN


def test_end_span_after_run_ended_d19(run: Callable[..., Run]) -> None:
    r = run()
    span_id = r.do(telemetry.begin_span, name="n").result["spanId"]
    r.do(lifecycle.complete_run)
    code = _code(lambda: telemetry.end_span(r.state, r.clock, span_id=span_id))
    assert code is ErrorCode.INVALID_STATE_TRANSITION


def test_invalid_span_end_changes_nothing(run: Callable[..., Run]) -> None:
    r = run()
    span_id = r.do(telemetry.begin_span, name="n").result["spanId"]
    before = r.state
    assert (
        _code(lambda: telemetry.end_span(before, r.clock, span_id=span_id, status="weird"))
        is ErrorCode.INVALID_TRACE_EVENT
    )
    assert list(before.open_spans) == [span_id]
    telemetry.end_span(before, r.clock, span_id=span_id, status="ok")


def test_nested_spans_end_in_any_order(run: Callable[..., Run]) -> None:
    r = run()
    outer = r.do(telemetry.begin_span, name="outer").result["spanId"]
    inner = r.do(telemetry.begin_span, name="inner", parent_span_id=outer).result["spanId"]
    assert list(r.state.open_spans) == [outer, inner]
    r.do(telemetry.end_span, span_id=outer)
    r.do(telemetry.end_span, span_id=inner)
    assert [e["type"] for e in r.trace] == ["span_started", "span_started", "span_ended", "span_ended"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"name": ""}, ErrorCode.INVALID_TRACE_EVENT),
        ({"name": "n", "kind": "batch"}, ErrorCode.INVALID_TRACE_EVENT),
        ({"name": "n", "parent_span_id": ""}, ErrorCode.INVALID_TRACE_EVENT),
        ({"name": "n", "attributes": ["not", "an", "object"]}, ErrorCode.INVALID_TRACE_EVENT),
        ({"name": "n", "step_id": "ghost"}, ErrorCode.UNKNOWN_STEP),
    ],
)
def test_begin_span_errors_change_nothing(
    started: Callable[..., RunState], clock: CountingClock, kwargs: dict[str, Any], code: ErrorCode
) -> None:
    state = started()
    assert _code(lambda: telemetry.begin_span(state, clock, **kwargs)) is code
    assert dict(state.open_spans) == {}
    assert state.revision == 0


# --- annotate / fork_notice ----------------------------------------------------------------------


def test_annotate(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    out = telemetry.annotate(state, clock, text="", tags=["x"], correlation_id="c")
    (event,) = dumped(out)
    assert event == {**_common(event, state), "correlationId": "c", "type": "annotation", "text": "", "tags": ["x"]}
    assert out.state.run == state.run  # run.annotations is never written
    (plain,) = dumped(telemetry.annotate(state, clock, text="t"))
    assert "tags" not in plain


def test_fork_notice(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    out = telemetry.fork_notice(state, clock, parent_run_id="run_p", forked_from_step_id="s1", correlation_id="c")
    (event,) = dumped(out)
    assert event == {
        **_common(event, state),
        "correlationId": "c",
        "type": "run_forked",
        "parentRunId": "run_p",
        "forkedFromStepId": "s1",
    }
    assert out.state.run == state.run
    assert out.state.revision == state.revision + 1


def test_fork_notice_requires_a_parent(started: Callable[..., RunState], clock: CountingClock) -> None:
    assert _code(lambda: telemetry.fork_notice(started(), clock, parent_run_id="")) is ErrorCode.INVALID_TRACE_EVENT
