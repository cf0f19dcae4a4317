"""What every engine operation returns, and how it builds its trace events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import MISSING, ValidationError

from workbench_mcp.engine.clock import Clock, new_id
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.trace_events import TraceEventBase
from workbench_mcp.protocol.validation import format_issues

E = TypeVar("E", bound=TraceEventBase)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The state after the operation, the events it appends (in order) and its return value."""

    state: RunState
    events: list[TraceEventBase] = field(default_factory=list)
    result: Any = None


def absent_if_none(value: Any) -> Any:
    """Optional scalar inputs arrive as None; on the wire they are simply absent."""
    return MISSING if value is None else value


def make_event(event_type: type[E], clock: Clock, state: RunState, *, ts: str | None = None, **fields: Any) -> E:
    """Build one event like the reference: a fresh `evt_` id, then `ts` (read now unless given).

    Members whose value is MISSING are left out. A schema failure is INVALID_TRACE_EVENT; the
    id and clock reads have happened by then, exactly as in the reference.
    """
    event_id = new_id(clock, "evt")
    timestamp = clock.now_iso() if ts is None else ts
    data = {k: v for k, v in fields.items() if v is not MISSING}
    try:
        return event_type.model_validate({"id": event_id, "run_id": state.run_id, "ts": timestamp, **data})
    except ValidationError as exc:
        raise WorkbenchError(ErrorCode.INVALID_TRACE_EVENT, f"Invalid trace event: {format_issues(exc)}") from None


def appended(state: RunState, events: list[TraceEventBase], **changes: Any) -> RunState:
    """The new state once `events` are appended: every event bumps the revision by one."""
    return state.evolve(revision=state.revision + len(events), **changes)
