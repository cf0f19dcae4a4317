"""Fuzzing a live server (uvicorn, real SQLite, real tokens) with hypothesis.

Three generators, valid and malformed alike:

- sequences of tool calls on one run: every tool, arguments drawn from plausible values (real run and
  step ids, gates, keys, idempotency keys, revisions, an exported bundle) and then damaged at random
  (a required member dropped, one replaced by arbitrary JSON, an unknown member added);
- raw JSON-RPC POST bodies: arbitrary JSON, wrong envelopes, truncated text, NaN, lone surrogates;
- REST `PUT /api/runs/{id}` bodies: real serialized runs with one random member deleted or replaced.

After every call: no HTTP 5xx, no JSON-RPC internal error, no INTERNAL_ERROR tool result. After every
example: each run involved still passes validation (the serialized state through the 4.2 schema and
4.4 invariants; the exported bundle through schema, structure and its integrity hash).

CI runs a fixed, derandomized set of examples (profile `fuzz-ci`); FUZZ_EXAMPLES=N runs N random
examples per test locally.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ
from tests.servers import server_config, server_in_thread, token
from tests.web.rest import RunFactory
from workbench_mcp.engine.hydrate import from_serialized
from workbench_mcp.errors import ErrorCode
from workbench_mcp.protocol.bundle import integrity_matches, normalize_bundle, validate_bundle
from workbench_mcp.protocol.serialized_run import read_serialized_run

MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}
JSONRPC_INTERNAL_ERROR = -32603
KNOWN_CODES = {code.value for code in ErrorCode} - {ErrorCode.INTERNAL_ERROR.value}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    config = server_config(tmp_path_factory.mktemp("fuzz"))
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token('fuzzer', org='org_fuzz')}"}
    with server_in_thread(config) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        yield client


# --- generators ---------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", " ", "\ud800", "\U0001f600", "__proto__", "0", "run_x", "a" * 300])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

STEPS = ["parser1", "jobSearcher", "output"]
small_json = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def either(valid: st.SearchStrategy[Any], weird: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A valid value four times in five (so runs really move), else a plausible wrong one."""
    return st.integers(0, 4).flatmap(lambda roll: weird if roll == 4 else valid)


# member -> (valid values, plausible wrong values)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "runId": either(st.just("$run"), st.sampled_from(["run_missing", "", "x" * 200])),
    "stepId": either(st.sampled_from(STEPS), st.sampled_from(["ghost", ""])),
    "gate": either(st.sampled_from(["PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"]), st.just("pause_before")),
    "decision": either(st.sampled_from(["approved", "rejected"]), st.just("maybe")),
    "artifactKey": either(st.sampled_from(["notes", "report"]), st.sampled_from(["n" * 300, ""])),
    "typeId": either(st.sampled_from(["notes.v1", "report.v2"]), st.just("")),
    "data": either(small_json, json_values),
    "idempotencyKey": either(st.sampled_from(["k1", "k2"]), st.just("")),
    "expectedRevision": st.integers(min_value=-1, max_value=12),
    "correlationId": either(st.just("c1"), st.just("corr-" + "x" * 300)),
    "workflowId": either(st.just("jobSearchWorkflow"), st.just("nope")),
    "requestId": st.sampled_from(["r1", "r2"]),
    "tags": st.lists(st.text(max_size=6), max_size=3),
    "metadata": st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    "profile": either(st.sampled_from(["full", "user"]), st.just("admin")),
    "limit": st.integers(min_value=-5, max_value=600),
    "cursor": st.sampled_from(["", "garbage", "eyJ4IjoxfQ"]),
    "note": st.text(max_size=20),
    "reason": st.text(max_size=20),
    "message": either(st.text(min_size=1, max_size=20), st.just("")),
    "code": st.sampled_from(["E1", ""]),
    "failFast": st.booleans(),
    "checkpointId": either(st.just("cp1"), st.just("")),
    "text": either(st.text(min_size=1, max_size=20), st.just("")),
    "direction": either(st.sampled_from(["request", "response"]), st.just("sideways")),
    "provider": st.sampled_from(["openai", ""]),
    "model": st.sampled_from(["gpt", ""]),
    "usage": st.fixed_dictionaries({"inputTokens": st.integers(-1, 10**6), "outputTokens": st.integers(0, 10)}),
    "cost": either(st.fixed_dictionaries({"usd": st.floats(0, 10)}), json_values),
    "durationMs": st.integers(-5, 10**6) | st.floats(allow_nan=False, allow_infinity=False),
    "summary": st.text(max_size=20),
    "payload": json_values,
    "detail": st.sampled_from(["summary", "full", "none"]),
    "name": either(st.just("search"), st.just("")),
    "args": small_json,
    "result": json_values,
    "patch": st.lists(
        st.fixed_dictionaries(
            {"op": either(st.sampled_from(["add", "replace", "remove", "test", "move", "copy"]), st.just("bogus"))},
            optional={
                "path": st.sampled_from(["", "/a", "/a/0", "/-", "/~2", "a"]),
                "from": st.sampled_from(["/a", "/b", ""]),
                "value": small_json,
            },
        ),
        max_size=4,
    ),
    "ruleSet": either(st.just("$ruleset"), json_values),
    "bundle": either(st.just("$bundle"), json_values),
}
# tool -> (required members, optional members)
TOOLS: dict[str, tuple[list[str], list[str]]] = {
    "start_run": (["workflowId"], ["requestId", "tags", "metadata", "correlationId"]),
    "get_run": (["runId"], []),
    "list_runs": ([], ["limit", "cursor"]),
    "list_workflows": ([], []),
    "next_actions": (["runId"], []),
    "export_bundle": (["runId"], ["profile"]),
    "verify_run_integrity": (["bundle"], []),
    "validate_run_bundle": (["bundle"], []),
    "resolve_gate": (["runId", "stepId", "gate", "decision"], ["note", "expectedRevision", "correlationId"]),
    "write_artifact": (["runId", "artifactKey", "typeId", "data"], ["idempotencyKey", "expectedRevision"]),
    "begin_step": (["runId", "stepId"], ["expectedRevision"]),
    "complete_step": (["runId", "stepId"], ["correlationId"]),
    "fail_step": (["runId", "stepId", "message"], ["code", "failFast"]),
    "complete_run": (["runId"], ["reason"]),
    "cancel_run": (["runId"], ["reason"]),
    "fail_run": (["runId", "message"], ["code"]),
    "request_gate": (["runId", "stepId", "gate"], ["reason"]),
    "resolve_checkpoint": (["runId", "stepId", "checkpointId", "decision"], []),
    "annotate": (["runId", "text"], ["tags"]),
    "log_model_io": (["runId", "direction"], ["stepId", "provider", "model", "usage", "cost", "durationMs", "payload"]),
    "log_tool_call": (["runId", "name"], ["args", "result", "stepId"]),
    "patch_artifact": (["runId", "artifactKey", "patch"], ["idempotencyKey"]),
    "replace_rule_set": (["runId", "ruleSet"], []),
}
# The happy path is frequent on purpose: a run must move for the damaged calls to meet real states.
FLOW = ["resolve_gate", "begin_step", "complete_step", "write_artifact", "patch_artifact", "export_bundle"]


@st.composite
def tool_calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    roll = draw(st.integers(0, 9))
    names = FLOW if roll < 5 else sorted(TOOLS) if roll < 9 else ["no_such_tool", ""]
    name = draw(st.sampled_from(names))
    required, optional = TOOLS.get(name, (["runId"], []))
    arguments: dict[str, Any] = {}
    # Hypothesis leans towards 0 and the first branch, so 0 means "well-formed" everywhere below.
    for member in required:
        if draw(st.integers(0, 19)) < 19:  # a required member is missing one time in twenty
            arguments[member] = draw(VALUES[member])
    for member in optional:
        if draw(st.integers(0, 3)) == 3:
            arguments[member] = draw(VALUES[member])
    damage = draw(st.integers(0, 9))
    if damage == 9 and arguments:
        arguments[draw(st.sampled_from(sorted(arguments)))] = draw(json_values)
    elif damage == 8:
        arguments[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return name, arguments


# --- calling the server -------------------------------------------------------------------------------


def post_raw(client: httpx.Client, body: bytes) -> httpx.Response:
    response = client.post("/api/mcp", content=body)
    assert response.status_code < 500, response.text[:500]
    if response.headers.get("content-type", "").startswith("application/json") and response.content:
        message = response.json()
        if isinstance(message, dict) and isinstance(message.get("error"), dict):
            assert message["error"].get("code") != JSONRPC_INTERNAL_ERROR, message
    return response


def call(client: httpx.Client, name: str, arguments: Any) -> dict[str, Any] | None:
    """tools/call; the structured result, or None when the JSON-RPC layer refused the request."""
    envelope = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    response = post_raw(client, json.dumps(envelope).encode())
    message = response.json()
    if "result" not in message:
        return None
    result = message["result"]
    content = result.get("structuredContent")
    if result.get("isError"):
        assert isinstance(content, dict), result
        assert content.get("code") in KNOWN_CODES, content
    return {"isError": bool(result.get("isError")), "body": content}


def must(client: httpx.Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    outcome = call(client, name, arguments)
    assert outcome is not None, name
    assert not outcome["isError"], (name, outcome)
    body: dict[str, Any] = outcome["body"]
    return body


def assert_run_is_valid(client: httpx.Client, run_id: str) -> None:
    state = must(client, "get_run", {"runId": run_id})
    from_serialized(read_serialized_run(state))  # 4.2 schema, then the 4.4 invariants
    bundle = must(client, "export_bundle", {"runId": run_id})
    validate_bundle(bundle)
    assert integrity_matches(normalize_bundle(bundle))
    # (revision need not equal the trace length: a PUT may store any revision, docs/protocol.md 4.4)
    assert [e["id"] for e in bundle["trace"]] == [e["id"] for e in state["trace"]]


def substitute(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str) and value in context:
        return context[value]
    if isinstance(value, dict):
        return {k: substitute(v, context) for k, v in value.items()}
    return value


# --- the tests ----------------------------------------------------------------------------------------


@FUZZ
@given(calls=st.lists(tool_calls(), min_size=1, max_size=15))
def test_random_tool_calls_never_break_the_server_or_a_run(
    live: httpx.Client, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    run_id = must(live, "start_run", {"workflowId": "jobSearchWorkflow"})["runId"]
    bundle = must(live, "export_bundle", {"runId": run_id})
    context = {"$run": run_id, "$bundle": bundle, "$ruleset": bundle["ruleSets"][0]}
    started = [run_id]
    for name, arguments in calls:
        outcome = call(live, name, substitute(arguments, context))
        if name == "start_run" and outcome and not outcome["isError"]:
            started.append(outcome["body"]["runId"])
    for run in started:
        assert_run_is_valid(live, run)


raw_bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.fixed_dictionaries(
        {"jsonrpc": st.sampled_from(["2.0", "1.0", 2]), "method": st.sampled_from(["tools/call", "ping", 5, ""])},
        optional={"id": json_values, "params": json_values},
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_run","arguments":{"runId":NaN}}}',
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_artifact","arguments":'
            b'{"runId":"r","artifactKey":"k","typeId":"t","data":"\\ud800"}}}',
            b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_run"',
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_runs","arguments":{"limit":1e999}}}',
        ]
    ),
)


@FUZZ
@given(body=raw_bodies)
def test_malformed_jsonrpc_bodies_get_client_errors(live: httpx.Client, body: bytes) -> None:
    post_raw(live, body)


@st.composite
def damaged_states(draw: st.DrawFn) -> tuple[str, Any]:
    factory = RunFactory()
    factory.clock.uuids = draw(st.integers(0, 10**6))  # new run ids, so PUTs create as often as replace
    state: Any = factory.new(writes=draw(st.integers(0, 3)), tags=draw(st.none() | st.just(["t"])))
    run_id = state["run"]["id"]
    for _ in range(draw(st.integers(0, 2))):
        state = damage(draw, state)
    return run_id, state


def damage(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """One random member somewhere in `value` deleted or replaced by arbitrary JSON."""
    children = list(value) if isinstance(value, dict) else list(range(len(value))) if isinstance(value, list) else []
    if not children or depth > 6 or draw(st.integers(0, 3)) == 0:
        return draw(json_values)
    key = draw(st.sampled_from(children))
    copy = dict(value) if isinstance(value, dict) else list(value)
    if isinstance(copy, dict) and draw(st.booleans()):
        del copy[key]
    else:
        copy[key] = damage(draw, value[key], depth + 1)
    return copy


@FUZZ
@given(case=damaged_states())
def test_damaged_rest_states_are_refused_cleanly_or_stored_valid(live: httpx.Client, case: tuple[str, Any]) -> None:
    run_id, state = case
    response = live.put(f"/api/runs/{run_id}", content=json.dumps(state).encode())
    assert response.status_code < 500, response.text[:500]
    if response.status_code < 300:
        assert_run_is_valid(live, run_id)
    else:
        assert response.json()["code"] in KNOWN_CODES


def test_the_fuzz_profile_is_bounded() -> None:
    # CI time: the three fuzz tests above run this many examples each (README "Tests").
    assert FUZZ.max_examples <= 500
    assert Path(__file__).name.startswith("test_")
