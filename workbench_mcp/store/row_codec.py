"""How a RunState and its trace become rows of the SQLite schema, and back.

JSON text columns are written with `ensure_ascii=True`. Lone surrogates ("\\ud800") and NUL are
valid protocol strings (D22), but sqlite3 cannot encode a lone surrogate as UTF-8 text; as ASCII
escapes both are plain text that `json.loads` turns back into the same characters. (Two adjacent
surrogate code points come back as the one character they spell in UTF-16, which is the same
JavaScript string.)

An append writes only what the operation changed. Which map entries changed is read from the
events, which name every artifact key, idempotency key and rule set an operation touches; a map
the named keys do not explain (its size, or a change with nothing named) is compared in full.
Comparing a 10k-entry map costs ~0.5 ms, more than the whole write it would be part of.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Reversible, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from pydantic import MISSING

from workbench_mcp.engine.run_state import IdempotencyEntry, OpenSpan, RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.ledger.context import LedgerContext
from workbench_mcp.protocol.artifacts import ArtifactVersion
from workbench_mcp.protocol.canonical_json import canonical_json
from workbench_mcp.protocol.engine_state import GateSlots
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.run import RunInstance
from workbench_mcp.protocol.timestamps import epoch_micros
from workbench_mcp.store.run_store import Actor, EventJson, StoreLimits

V = TypeVar("V")
Row = tuple[Any, ...]

_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)
_COMPACT_UTF8 = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ABSENT = object()


def dump_json(value: Any) -> str:
    try:
        return _ENCODER.encode(value)
    except RecursionError:
        raise WorkbenchError(ErrorCode.LIMIT_EXCEEDED, "JSON value is nested too deeply to store") from None
    except (TypeError, ValueError) as exc:
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"value cannot be stored as JSON: {exc}") from None


def load_json(text: str) -> Any:
    return json.loads(text)


# --- columns of the runs row ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunColumns:
    """The run row's copy of RunInstance: listing members plus the whole instance as JSON."""

    workflow_id: str
    status: str
    started_at: str
    started_us: int
    ended_at: str | None
    tags: str | None
    run_json: str


def run_columns(run: RunInstance) -> RunColumns:
    return RunColumns(
        workflow_id=run.workflow_id,
        status=run.status,
        started_at=run.started_at,
        started_us=sort_micros(run.started_at),
        ended_at=None if run.ended_at is MISSING else run.ended_at,
        tags=None if run.tags is MISSING else dump_json(run.tags),
        run_json=dump_json(run.model_dump()),
    )


def same_start(workflow_id: str, run_json: str, new: RunColumns) -> bool:
    """Would a start_run with these new columns have started this stored run (a retried requestId)?
    The arguments start_run takes are the workflow, tags and metadata; compared as canonical JSON, so
    a retry whose client reorders members still matches."""
    if workflow_id != new.workflow_id:
        return False
    before, after = load_json(run_json), load_json(new.run_json)
    return all(canonical_json(before.get(m)) == canonical_json(after.get(m)) for m in ("tags", "metadata"))


def sort_micros(timestamp: str) -> int:
    """Listing order key: chronological where plain text order is not (offsets, fraction digits)."""
    try:
        return epoch_micros(timestamp)
    except WorkbenchError:
        raise WorkbenchError(ErrorCode.INVALID_RUN_STATE, f"startedAt is not a datetime: {timestamp!r}") from None


def saved_run_meta(
    run_id: str, workflow_id: str, started_at: str, ended_at: str | None, status: str, tags: str | None
) -> dict[str, Any]:
    """SavedRunMeta (docs/protocol.md 4.3): optional members absent, never null."""
    meta: dict[str, Any] = {"id": run_id, "workflowId": workflow_id, "startedAt": started_at}
    if ended_at is not None:
        meta["endedAt"] = ended_at
    meta["status"] = status
    if tags is not None:
        meta["tags"] = load_json(tags)
    return meta


# --- the engine members kept in the run row -----------------------------------------------------------


def engine_json(state: RunState) -> str:
    return dump_json(
        {
            "stepStatus": [[step, status] for step, status in state.step_status.items()],
            "gateState": [[step, slots.model_dump()] for step, slots in state.gate_state.items()],
            "openSpans": [[s.span_id, s.started_ms, s.step_id, s.correlation_id] for s in state.open_spans.values()],
        }
    )


@dataclass(frozen=True, slots=True)
class StoredState:
    """The rows load_state reads, in map order."""

    revision: int
    run_json: str
    engine_json: str
    artifacts: list[tuple[str, str]]  # (artifact key, artifact JSON)
    rule_sets: list[tuple[str, str]]  # (rule set id, rule set JSON)
    idempotency: list[tuple[str, str, int, str | None]]  # (key, artifact key, version, digest)


def decode_state(stored: StoredState) -> RunState:
    engine = load_json(stored.engine_json)
    return RunState(
        revision=stored.revision,
        run=RunInstance.model_validate(load_json(stored.run_json)),
        step_status=dict(engine["stepStatus"]),
        gate_state={step: GateSlots.model_validate(slots) for step, slots in engine["gateState"]},
        artifacts={key: ArtifactVersion.model_validate(load_json(text)) for key, text in stored.artifacts},
        rule_sets={key: RuleSet.model_validate(load_json(text)) for key, text in stored.rule_sets},
        idempotency={
            key: IdempotencyEntry(artifact_key, version, digest)
            for key, artifact_key, version, digest in stored.idempotency
        },
        open_spans={
            span_id: OpenSpan(span_id, started_ms, step_id, correlation_id)
            for span_id, started_ms, step_id, correlation_id in engine["openSpans"]
        },
    )


# --- what a mutation writes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MapRows:
    """Rows of one map table (artifact heads, rule sets, idempotency). `rewrite`: delete the run's
    existing rows first; otherwise the rows are upserts and existing keys keep their position."""

    rows: list[Row]
    rewrite: bool


@dataclass(frozen=True, slots=True)
class RunWrite:
    """Everything one mutation writes for one run, ready for executemany."""

    revision: int
    trace_length: int
    state_tag: int
    run: RunColumns | None  # None: the RunInstance did not change
    engine_json: str | None  # None: step status, gates and spans did not change
    events: list[Row]  # (seq, event id, type, event JSON)
    audit: list[Row]  # (seq, event id, principal, tool, correlation id, at)
    versions: list[Row]  # (artifact key, version, artifact JSON)
    heads: MapRows  # (artifact key, position, version)
    rule_sets: MapRows  # (rule set id, position, rule set JSON)
    idempotency: MapRows  # (key, position, artifact key, version, digest)
    ledger: LedgerContext | None = None  # None: the store keeps no hash chain
    chained: Sequence[EventJson] = ()  # the events of `events` as dicts, for the chain (ledger only)


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, when, under which limits, and the tag the run row gets."""

    actor: Actor
    at: str
    state_tag: int
    limits: StoreLimits
    ledger: LedgerContext | None = None


def full_write(state: RunState, trace: Sequence[EventJson], ctx: WriteContext) -> RunWrite:
    """A whole run (create, import): every row, replacing whatever the run had."""
    _check_trace_length(len(trace), ctx.limits)
    versions = {(key, a.version): dump_json(a.model_dump()) for key, a in state.artifacts.items()}
    _add_written_versions(versions, trace)  # older versions survive only inside these events (4.1)
    return RunWrite(
        revision=state.revision,
        trace_length=len(trace),
        state_tag=ctx.state_tag,
        run=run_columns(state.run),
        engine_json=engine_json(state),
        events=_event_rows(trace, 0),
        audit=_audit_rows(trace, 0, ctx),
        versions=_version_rows(versions, ctx.limits),
        heads=_map_rows(None, state.artifacts, (), _head_row),
        rule_sets=_map_rows(None, state.rule_sets, (), _rule_set_row),
        idempotency=_map_rows(None, state.idempotency, (), _idempotency_row),
        ledger=ctx.ledger,
        chained=trace if ctx.ledger is not None else (),
    )


def append_write(
    old: RunState, trace_length: int, new: RunState, events: Sequence[EventJson], ctx: WriteContext
) -> RunWrite:
    """One operation's effect: its events plus the entries and columns it changed, nothing else."""
    _check_trace_length(trace_length + len(events), ctx.limits)
    artifact_keys, idempotency_keys, rule_set_ids = _named_keys(events)
    heads = _map_rows(old.artifacts, new.artifacts, artifact_keys, _head_row)
    versions = _appended_versions(old, new, events, heads)
    engine_changed = (
        new.step_status is not old.step_status
        or new.gate_state is not old.gate_state
        or new.open_spans is not old.open_spans
    )
    return RunWrite(
        revision=new.revision,
        trace_length=trace_length + len(events),
        state_tag=ctx.state_tag,
        run=run_columns(new.run) if new.run is not old.run else None,
        engine_json=engine_json(new) if engine_changed else None,
        events=_event_rows(events, trace_length),
        audit=_audit_rows(events, trace_length, ctx),
        versions=_version_rows(versions, ctx.limits),
        heads=heads,
        rule_sets=_map_rows(old.rule_sets, new.rule_sets, rule_set_ids, _rule_set_row),
        idempotency=_map_rows(old.idempotency, new.idempotency, idempotency_keys, _idempotency_row),
        ledger=ctx.ledger,
        chained=events if ctx.ledger is not None else (),
    )


def _check_trace_length(length: int, limits: StoreLimits) -> None:
    if length > limits.max_trace_events_per_run:
        raise WorkbenchError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a run may hold at most {limits.max_trace_events_per_run} trace events "
            f"(max_trace_events_per_run); this write would make {length}",
        )


def _named_keys(events: Sequence[EventJson]) -> tuple[list[str], list[str], list[str]]:
    artifact_keys: list[str] = []
    idempotency_keys: list[str] = []
    rule_set_ids: list[str] = []
    for event in events:
        kind = event.get("type")
        if kind == "artifact_written":
            artifact_keys.append(event["artifact"]["artifactKey"])
        elif kind == "artifact_patch":
            artifact_keys.append(event["artifactKey"])
        elif kind == "rule_changed":
            rule_set_ids.append(event["ruleSetId"])
            continue
        else:
            continue
        if event.get("idempotencyKey"):
            idempotency_keys.append(event["idempotencyKey"])
    return artifact_keys, idempotency_keys, rule_set_ids


def _appended_versions(
    old: RunState, new: RunState, events: Sequence[EventJson], heads: MapRows
) -> dict[tuple[str, int], str]:
    """Each changed head (the state is what load_state must give back; a patched version's data
    exists only there), then any other version an artifact_written event carries whole."""
    versions: dict[tuple[str, int], str] = {}
    for key, _position, version in heads.rows:
        head = new.artifacts[key]
        if old.artifacts.get(key) is not head:  # a rewrite lists unchanged heads too
            versions[(key, version)] = dump_json(head.model_dump())
    _add_written_versions(versions, events)
    return versions


def _add_written_versions(versions: dict[tuple[str, int], str], events: Sequence[EventJson]) -> None:
    for event in events:
        if event.get("type") == "artifact_written":
            artifact = event["artifact"]
            key = (artifact["artifactKey"], artifact["version"])
            if key not in versions:
                versions[key] = dump_json(artifact)


def _version_rows(versions: dict[tuple[str, int], str], limits: StoreLimits) -> list[Row]:
    for (key, version), text in versions.items():
        # The ASCII-escaped text is never shorter than the UTF-8 of the data inside it, so only
        # large texts need the exact measurement.
        if len(text) > limits.max_artifact_payload_bytes:
            _check_payload_size(key, version, load_json(text), limits)
    return [(key, version, text) for (key, version), text in versions.items()]


def _check_payload_size(key: str, version: int, artifact: dict[str, Any], limits: StoreLimits) -> None:
    if "data" not in artifact:
        return
    size = len(_COMPACT_UTF8.encode(artifact["data"]).encode("utf-8", "surrogatepass"))
    if size > limits.max_artifact_payload_bytes:
        raise WorkbenchError(
            ErrorCode.LIMIT_EXCEEDED,
            f'artifact "{key}" version {version} carries {size} bytes of data; the limit is '
            f"{limits.max_artifact_payload_bytes} bytes (max_artifact_payload_bytes)",
        )


def _event_rows(events: Sequence[EventJson], after_seq: int) -> list[Row]:
    return [
        (after_seq + i, event.get("id", ""), event.get("type", ""), dump_json(event))
        for i, event in enumerate(events, start=1)
    ]


def _audit_rows(events: Sequence[EventJson], after_seq: int, ctx: WriteContext) -> list[Row]:
    actor = ctx.actor
    return [
        (after_seq + i, event.get("id", ""), actor.principal, actor.tool, actor.correlation_id, ctx.at)
        for i, event in enumerate(events, start=1)
    ]


def _head_row(key: str, position: int, artifact: ArtifactVersion) -> Row:
    return (key, position, artifact.version)


def _rule_set_row(key: str, position: int, rule_set: RuleSet) -> Row:
    return (key, position, dump_json(rule_set.model_dump()))


def _idempotency_row(key: str, position: int, entry: IdempotencyEntry) -> Row:
    return (key, position, entry.artifact_key, entry.version, entry.payload_digest)


# --- map diffs -------------------------------------------------------------------------------------------
# Stored positions are always 0..n-1 in map order: appends extend them, anything else rewrites.


def _map_rows(
    old: Mapping[str, V] | None,
    new: Mapping[str, V],
    named: Iterable[str],
    encode: Callable[[str, int, V], Row],
) -> MapRows:
    if old is None:
        return MapRows([encode(key, i, value) for i, (key, value) in enumerate(new.items())], rewrite=True)
    if new is old:
        return MapRows([], rewrite=False)
    changed = _named_changes(old, new, named)
    if changed is None:
        changed = _compared_changes(old, new)
    if changed is None:
        return _map_rows(None, new, (), encode)
    return MapRows([encode(key, position, new[key]) for key, position in changed], rewrite=False)


def _named_changes(old: Mapping[str, V], new: Mapping[str, V], named: Iterable[str]) -> list[tuple[str, int]] | None:
    """Changed entries among the keys the events name, if those explain the new map: O(named).

    Trusts that entries no event names are unchanged and in place, which holds for every engine
    operation (they set entries with `with_entry`). A changed map that no event names at all is
    compared in full instead."""
    candidates = [key for key in dict.fromkeys(named) if key in new]
    if not candidates:
        return None
    added = [key for key in candidates if key not in old]
    if len(new) != len(old) + len(added):
        return None
    tail = _last_keys(new, len(added))
    if set(tail) != set(added):
        return None
    positions = {key: len(old) + i for i, key in enumerate(tail)}
    # An existing key's position is kept by the upsert; -1 is never stored.
    return [(key, positions.get(key, -1)) for key in candidates if old.get(key, _ABSENT) is not new[key]]


def _last_keys(mapping: Mapping[str, V], count: int) -> list[str]:
    if count == 0:
        return []
    if isinstance(mapping, Reversible):  # O(count): dicts and GrowingMaps iterate backwards without a copy
        return list(islice(reversed(mapping), count))[::-1]
    return list(mapping)[-count:]


def _compared_changes(old: Mapping[str, V], new: Mapping[str, V]) -> list[tuple[str, int]] | None:
    """Every changed entry, or None if keys were removed or reordered (positions must be rebuilt)."""
    old_keys = list(old)
    if list(islice(new, len(old_keys))) != old_keys:
        return None
    return [(key, i) for i, (key, value) in enumerate(new.items()) if old.get(key, _ABSENT) is not value]
