"""Artifact writes and patches (6.7): versions, idempotency (D12), pointers (D13), atomicity (D4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import MISSING

from tests.clocks import CountingClock
from tests.conftest import Run, dumped
from workbench_mcp.engine import artifacts
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError

HASH = "0123456789abcdef" * 4


def _code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(WorkbenchError) as info:
        call()
    return info.value.code


def _write(r: Run, key: str = "k", data: Any = MISSING, **kw: Any) -> Any:
    return r.do(artifacts.write_artifact, artifact_key=key, type_id=kw.pop("type_id", "t"), data=data, **kw)


def _patch(r: Run, ops: list[Any], key: str = "k", **kw: Any) -> Any:
    return r.do(artifacts.patch_artifact, artifact_key=key, patch=ops, **kw)


def _unchanged_after(r: Run, call: Callable[[RunState], object], code: ErrorCode) -> None:
    """The call is refused with `code`, and the state it was given still behaves as before."""
    before = r.state
    snapshot = (dict(before.artifacts), dict(before.idempotency), before.revision)
    assert _code(lambda: call(before)) is code
    assert (dict(before.artifacts), dict(before.idempotency), before.revision) == snapshot


# --- write_artifact ------------------------------------------------------------------------------


def test_first_write(run: Callable[..., Run]) -> None:
    r = run()
    before = r.state
    out = _write(r, data={"x": [1, None]}, idempotency_key="i1", correlation_id="c")
    (event,) = dumped(out)
    artifact = {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": event["ts"], "data": {"x": [1, None]}}
    assert event == {
        "id": event["id"],
        "runId": before.run_id,
        "ts": event["ts"],
        "correlationId": "c",
        "type": "artifact_written",
        "artifact": artifact,
        "idempotencyKey": "i1",
    }
    assert out.result.model_dump(mode="json") == artifact
    assert r.state.artifacts["k"] == out.result
    assert r.state.idempotency["i1"].artifact_key == "k"
    assert r.state.idempotency["i1"].version == 1
    assert r.state.revision == before.revision + 1


def test_versions_rise_per_key_and_type_may_change(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, "a", 1)
    _write(r, "b", 1)
    out = _write(r, "a", 2, type_id="other")
    assert out.result.version == 2
    assert out.result.type_id == "other"
    assert r.state.artifacts["b"].version == 1
    assert list(r.state.artifacts) == ["a", "b"]  # JS Map order: a re-write keeps its position
    assert "idempotencyKey" not in r.trace[-1]


def test_absent_data_and_null_data(run: Callable[..., Run]) -> None:
    r = run()
    assert "data" not in dumped(_write(r, "absent"))[0]["artifact"]
    assert dumped(_write(r, "null", None))[0]["artifact"]["data"] is None


def test_caller_pointer_is_stored(run: Callable[..., Run]) -> None:
    r = run()
    pointer = {"kind": "external", "ref": "blob/1", "payloadHash": HASH, "byteLength": 3}
    out = _write(r, pointer=pointer)
    assert out.result.model_dump(mode="json")["pointer"] == pointer
    assert "data" not in dumped(out)[0]["artifact"]


@pytest.mark.parametrize(("key", "type_id"), [("", "t"), ("  ", "t"), ("k", ""), ("k", "\t")])
def test_blank_key_or_type(run: Callable[..., Run], key: str, type_id: str) -> None:
    r = run()
    _unchanged_after(
        r,
        lambda s: artifacts.write_artifact(s, r.clock, artifact_key=key, type_id=type_id, data=1),
        ErrorCode.INVALID_INPUT,
    )


@pytest.mark.parametrize(
    "pointer",
    [
        {"kind": "inline", "payloadHash": HASH.upper()},
        {"kind": "external"},
        {"kind": "inline", "payloadHash": HASH, "sha256": "f" * 64},
        {"kind": "nowhere"},
    ],
)
def test_invalid_pointer_stores_nothing_d4(run: Callable[..., Run], pointer: dict[str, Any]) -> None:
    r = run()
    _unchanged_after(
        r,
        lambda s: artifacts.write_artifact(
            s, r.clock, artifact_key="k", type_id="t", data=1, pointer=pointer, idempotency_key="i"
        ),
        ErrorCode.INVALID_TRACE_EVENT,
    )
    assert dict(r.state.artifacts) == {}
    assert _write(r, data=1, idempotency_key="i").result.version == 1  # the key was not burnt


def test_unsafe_number_stores_nothing(run: Callable[..., Run]) -> None:
    r = run()
    _unchanged_after(
        r,
        lambda s: artifacts.write_artifact(s, r.clock, artifact_key="k", type_id="t", data={"n": 2**53}),
        ErrorCode.UNSAFE_NUMBER,
    )


# --- idempotency (6.7 step 2, D12) ---------------------------------------------------------------


def test_same_key_same_request_replays_without_an_event(run: Callable[..., Run]) -> None:
    r = run()
    first = _write(r, data={"a": 1}, idempotency_key="i")
    before = r.state
    again = artifacts.write_artifact(before, r.clock, artifact_key="k", type_id="t", data={"a": 1}, idempotency_key="i")
    assert again.events == []
    assert again.state is before
    assert again.result == first.result


def test_same_key_different_data_conflicts_d12(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={"a": 1}, idempotency_key="i")
    cases: tuple[dict[str, Any], ...] = (
        {"data": {"a": 2}},
        {"data": {"a": 1}, "type_id": "u"},
        {"data": {"a": 1}, "pointer": {"kind": "inline"}},
        {},
    )
    for kwargs in cases:
        data = kwargs.pop("data", MISSING)
        type_id: str = kwargs.pop("type_id", "t")

        def write(s: RunState, data: Any = data, type_id: str = type_id, kwargs: dict[str, Any] = kwargs) -> object:
            return artifacts.write_artifact(
                s, r.clock, artifact_key="k", type_id=type_id, data=data, idempotency_key="i", **kwargs
            )

        _unchanged_after(r, write, ErrorCode.IDEMPOTENCY_CONFLICT)


def test_key_used_for_another_artifact(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, "a", 1, idempotency_key="i")
    _unchanged_after(
        r,
        lambda s: artifacts.write_artifact(s, r.clock, artifact_key="b", type_id="t", data=1, idempotency_key="i"),
        ErrorCode.IDEMPOTENCY_CONFLICT,
    )


def test_stale_key(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data=1, idempotency_key="i")
    _write(r, data=2)
    _unchanged_after(
        r,
        lambda s: artifacts.write_artifact(s, r.clock, artifact_key="k", type_id="t", data=1, idempotency_key="i"),
        ErrorCode.IDEMPOTENCY_CONFLICT,
    )


def test_keys_are_shared_by_writes_and_patches(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={"a": 1}, idempotency_key="i")
    _unchanged_after(
        r,
        lambda s: artifacts.patch_artifact(s, r.clock, artifact_key="k", patch=[], idempotency_key="i"),
        ErrorCode.IDEMPOTENCY_CONFLICT,
    )


def test_empty_key_is_no_key_but_is_copied_into_the_event(run: Callable[..., Run]) -> None:
    r = run()
    out = _write(r, data=1, idempotency_key="")
    assert dumped(out)[0]["idempotencyKey"] == ""
    assert dict(r.state.idempotency) == {}
    assert _write(r, data=1, idempotency_key="").result.version == 2  # never replays


def test_idempotency_records_keep_insertion_order(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, "a", 1, idempotency_key="z")
    _write(r, "b", 1, idempotency_key="a")
    _patch(r, [], "a", idempotency_key="m")
    assert list(r.state.idempotency) == ["z", "a", "m"]


# --- patch_artifact ------------------------------------------------------------------------------


def test_patch(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={"a": 1, "list": [1, 2]}, type_id="typ")
    before = r.state
    ops = [
        {"op": "add", "path": "/b", "value": {"c": None}},
        {"op": "replace", "path": "/a", "value": 5},
        {"op": "remove", "path": "/list/0"},
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "copy", "from": "/a", "path": "/a2"},
        {"op": "move", "from": "/a2", "path": "/a3"},
        {"op": "test", "path": "/a", "value": 5},
    ]
    out = _patch(r, ops, idempotency_key="p1", correlation_id="c")
    (event,) = dumped(out)
    assert event == {
        "id": event["id"],
        "runId": before.run_id,
        "ts": event["ts"],
        "correlationId": "c",
        "type": "artifact_patch",
        "artifactKey": "k",
        "fromVersion": 1,
        "toVersion": 2,
        "patch": ops,
        "idempotencyKey": "p1",
    }
    assert out.result.model_dump(mode="json") == {
        "artifactKey": "k",
        "typeId": "typ",
        "version": 2,
        "createdAt": event["ts"],
        "data": {"a": 5, "list": [2, 3], "b": {"c": None}, "a3": 5},
    }
    assert r.state.artifacts["k"] == out.result
    assert r.state.idempotency["p1"].version == 2
    assert before.artifacts["k"].data == {"a": 1, "list": [1, 2]}  # the previous version is untouched


def test_patch_is_recorded_as_sent_d28(run: Callable[..., Run]) -> None:
    """The reference records `{"y": [1]}` for op 0 (its op values are inserted by reference and op 1
    appends into it); replaying that record would give `[1, 1]`. Ours replays to the stored version."""
    r = run()
    _write(r, data={})
    ops = [{"op": "add", "path": "/x", "value": {"y": []}}, {"op": "add", "path": "/x/y/-", "value": 1}]
    out = _patch(r, ops)
    (event,) = dumped(out)
    assert event["patch"] == [
        {"op": "add", "path": "/x", "value": {"y": []}},
        {"op": "add", "path": "/x/y/-", "value": 1},
    ]
    assert out.result.data == {"x": {"y": [1]}}


def test_patch_replay_and_conflict(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={})
    ops = [{"op": "add", "path": "/a", "value": 1}]
    first = _patch(r, ops, idempotency_key="p")
    again = artifacts.patch_artifact(r.state, r.clock, artifact_key="k", patch=ops, idempotency_key="p")
    assert again.events == []
    assert again.state is r.state
    assert again.result == first.result
    _unchanged_after(
        r,
        lambda s: artifacts.patch_artifact(
            s, r.clock, artifact_key="k", patch=[{"op": "add", "path": "/a", "value": 2}], idempotency_key="p"
        ),
        ErrorCode.IDEMPOTENCY_CONFLICT,
    )


@pytest.mark.parametrize("data", [MISSING, None])
def test_patch_of_absent_or_null_data_starts_from_an_empty_object(run: Callable[..., Run], data: Any) -> None:
    r = run()
    _write(r, data=data)
    assert _patch(r, [{"op": "add", "path": "/x", "value": 1}]).result.data == {"x": 1}


def test_empty_and_test_only_patches_create_versions(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={"a": 1})
    assert _patch(r, []).result.version == 2
    assert _patch(r, [{"op": "test", "path": "/a", "value": 1}]).result.version == 3
    assert r.state.artifacts["k"].data == {"a": 1}


def test_whole_document_operations(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={"a": 1})
    assert _patch(r, [{"op": "replace", "path": "", "value": [1]}]).result.data == [1]
    assert _patch(r, [{"op": "remove", "path": ""}]).result.data is None


def test_patch_drops_pointer_hashes_d13(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={"a": 1}, pointer={"kind": "inline", "payloadHash": HASH, "sha256": HASH, "byteLength": 7})
    out = _patch(r, [{"op": "replace", "path": "/a", "value": 2}])
    assert out.result.model_dump(mode="json")["pointer"] == {"kind": "inline"}
    assert "pointer" not in dumped(out)[0]


def test_patch_without_pointer_stays_without_pointer(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={})
    assert "pointer" not in _patch(r, []).result.model_dump(mode="json")


def test_external_artifacts_refuse_patches_d13(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, pointer={"kind": "external", "ref": "blob/1", "payloadHash": HASH})
    _unchanged_after(
        r,
        lambda s: artifacts.patch_artifact(
            s, r.clock, artifact_key="k", patch=[{"op": "add", "path": "/a", "value": 1}]
        ),
        ErrorCode.INVALID_STATE_TRANSITION,
    )


def test_patch_unknown_artifact(run: Callable[..., Run]) -> None:
    r = run()
    _unchanged_after(
        r, lambda s: artifacts.patch_artifact(s, r.clock, artifact_key="nope", patch=[]), ErrorCode.UNKNOWN_ARTIFACT
    )


@pytest.mark.parametrize("key", ["", "   "])
def test_patch_blank_key(run: Callable[..., Run], key: str) -> None:
    r = run()
    _unchanged_after(
        r, lambda s: artifacts.patch_artifact(s, r.clock, artifact_key=key, patch=[]), ErrorCode.INVALID_INPUT
    )


@pytest.mark.parametrize("patch", ["not a list", {"op": "add"}, [1], [None], [["add", "/a", 1]]])
def test_patch_must_be_a_list_of_objects(run: Callable[..., Run], patch: Any) -> None:
    r = run()
    _write(r, data={})
    _unchanged_after(
        r, lambda s: artifacts.patch_artifact(s, r.clock, artifact_key="k", patch=patch), ErrorCode.INVALID_INPUT
    )


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "add", "path": "/missing/child", "value": 1}],
        [{"op": "move", "from": "/missing", "path": "/x"}],
        [{"op": "copy", "from": "/missing", "path": "/x"}],
        [{"op": "test", "path": "/a", "value": 2}],
        [{"op": "add", "path": "/list/5", "value": 1}],
        [{"op": "replace", "path": "/list/2", "value": 1}],
        [{"op": "add", "path": "a", "value": 1}],  # not starting with "/"
        [{"op": "frobnicate", "path": "/a"}],
        [{"op": "add", "path": "/ok", "value": 1}, {"op": "remove", "path": "/nope"}],  # all or nothing
    ],
)
def test_patch_failures_change_nothing(run: Callable[..., Run], ops: list[dict[str, Any]]) -> None:
    r = run()
    _write(r, data={"a": 1, "list": [1, 2]})
    _unchanged_after(
        r,
        lambda s: artifacts.patch_artifact(s, r.clock, artifact_key="k", patch=ops, idempotency_key="p"),
        ErrorCode.PATCH_FAILED,
    )
    assert r.state.artifacts["k"].data == {"a": 1, "list": [1, 2]}
    assert _patch(r, [], idempotency_key="p").result.version == 2  # the key was not burnt


def test_leading_zero_index_is_an_index_like_fast_json_patch(run: Callable[..., Run]) -> None:
    # RFC 6901 forbids leading zeros in an index, but fast-json-patch 3 (checked under Node) accepts any
    # all-digit segment: "/list/01" is index 1. Byte-compatibility wins (docs/protocol.md 6.7).
    r = run()
    _write(r, data={"list": [1, 2]})
    assert _patch(r, [{"op": "add", "path": "/list/01", "value": 9}]).result.data == {"list": [1, 9, 2]}


def test_add_at_array_length_is_allowed(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={"list": [1]})
    assert _patch(r, [{"op": "add", "path": "/list/1", "value": 2}]).result.data == {"list": [1, 2]}


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "add", "path": "/b", "value": 1, "extra": True}],
        [{"op": "remove", "path": "/a", "value": 1}],
        [{"op": "add", "path": "/b"}],
    ],
)
def test_strict_op_shapes_change_nothing_d4(run: Callable[..., Run], ops: list[dict[str, Any]]) -> None:
    # The reference bumps the version before rejecting these; we refuse before anything changes.
    r = run()
    _write(r, data={"a": 1})
    with pytest.raises(WorkbenchError) as info:
        artifacts.patch_artifact(r.state, r.clock, artifact_key="k", patch=ops)
    assert info.value.code in (ErrorCode.INVALID_TRACE_EVENT, ErrorCode.PATCH_FAILED)
    assert r.state.artifacts["k"].version == 1


def test_patch_with_extra_member_is_invalid_trace_event(run: Callable[..., Run]) -> None:
    r = run()
    _write(r, data={"a": 1})
    _unchanged_after(
        r,
        lambda s: artifacts.patch_artifact(
            s, r.clock, artifact_key="k", patch=[{"op": "replace", "path": "/a", "value": 2, "note": "x"}]
        ),
        ErrorCode.INVALID_TRACE_EVENT,
    )


def test_write_and_patch_leave_input_state_untouched(started: Callable[..., RunState], clock: CountingClock) -> None:
    state = started()
    out = artifacts.write_artifact(state, clock, artifact_key="k", type_id="t", data={"a": 1}, idempotency_key="i")
    artifacts.patch_artifact(out.state, clock, artifact_key="k", patch=[{"op": "add", "path": "/b", "value": 1}])
    assert dict(state.artifacts) == {}
    assert dict(state.idempotency) == {}
    assert out.state.artifacts["k"].data == {"a": 1}
