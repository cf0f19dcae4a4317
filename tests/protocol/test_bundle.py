"""Run bundles: parsing (5.6), normalization (5.4), integrity (5.5) and structural checks (5.6, D7)."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.bundle import (
    PROTOCOL_VERSION,
    attach_integrity,
    check_bundle_structure,
    compute_integrity,
    hashed_body,
    integrity_matches,
    normalize_bundle,
    parse_bundle_json,
    validate_bundle,
    verify_bundle,
)
from workbench_mcp.protocol.canonical_json import canonical_json

TS = "2026-01-05T10:00:00.000Z"


def _bundle(*, engine: bool = True) -> dict[str, Any]:
    """A small, valid, already-normalized bundle of a two-step run."""
    bundle: dict[str, Any] = {
        "protocolVersion": "1.0.0",
        "run": {
            "id": "run_1",
            "workflowId": "wf",
            "workflowVersion": 1,
            "workflowSnapshot": {
                "id": "wf",
                "version": 1,
                "steps": [
                    {"id": "a", "gatePolicy": "AUTO", "inputs": [], "outputs": []},
                    {"id": "b", "gatePolicy": "PAUSE_AFTER", "inputs": [], "outputs": []},
                ],
                "edges": [{"id": "e1", "from": "a", "to": "b"}],
            },
            "startedAt": TS,
            "status": "running",
        },
        "trace": [
            {"id": "evt_1", "runId": "run_1", "ts": TS, "type": "step_started", "stepId": "a"},
            {
                "id": "evt_2",
                "runId": "run_1",
                "ts": TS,
                "type": "artifact_written",
                "artifact": {"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS, "data": {"x": 1}},
            },
        ],
        "artifacts": [{"artifactKey": "k", "typeId": "t", "version": 1, "createdAt": TS, "data": {"x": 1}}],
        "ruleSets": [{"id": "default", "ruleSchemaId": "s", "rules": []}],
    }
    if engine:
        bundle["engine"] = {
            "revision": 2,
            "stepStatus": [["a", "running"], ["b", "pending"]],
            "gateState": [
                ["a", {"before": "approved", "after": "approved", "checkpoints": {}}],
                ["b", {"before": "approved", "after": "approved", "checkpoints": {}}],
            ],
            "idempotency": [],
        }
    return bundle


def _signed(**kw: Any) -> dict[str, Any]:
    return attach_integrity(_bundle(**kw))


def _code(exc: pytest.ExceptionInfo[WorkbenchError]) -> ErrorCode:
    return exc.value.code


# --- parse_bundle_json (5.6 steps 1-3) -----------------------------------------------------------


def test_parses_a_valid_bundle() -> None:
    bundle = _signed()
    assert parse_bundle_json(json.dumps(bundle)) == bundle
    assert parse_bundle_json(json.dumps(bundle).encode()) == bundle


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", '{"a": NaN}', "[1,]", b"\xff\xfe"])
def test_invalid_json(text: str | bytes) -> None:
    with pytest.raises(WorkbenchError) as info:
        parse_bundle_json(text)
    assert _code(info) is ErrorCode.INVALID_JSON
    assert info.value.message.startswith("Run bundle is not valid JSON: ")


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"run": {}},
        {"protocolVersion": None},
        {"protocolVersion": 1},
        {"protocolVersion": ["1.0.0"]},
        [],  # arrays are objects in JavaScript: handed to migration, which finds no version
        [1, 2],
    ],
)
def test_missing_protocol_version(value: Any) -> None:
    with pytest.raises(WorkbenchError) as info:
        parse_bundle_json(json.dumps(value))
    assert _code(info) is ErrorCode.UNSUPPORTED_PROTOCOL_VERSION
    assert info.value.message == "Run bundle is missing `protocolVersion` and cannot be migrated"


@pytest.mark.parametrize("version", ["0.9.0", "1.0", "1.0.0 ", "2.0.0", ""])
def test_unknown_protocol_version(version: str) -> None:
    with pytest.raises(WorkbenchError) as info:
        parse_bundle_json(json.dumps({**_bundle(), "protocolVersion": version}))
    assert _code(info) is ErrorCode.UNSUPPORTED_PROTOCOL_VERSION
    assert info.value.message == f'No migration path from protocolVersion "{version}" to "1.0.0"'


def test_unsafe_numbers_are_refused_not_rounded() -> None:
    text = json.dumps(_bundle()).replace('"x": 1', '"x": 9007199254740993')
    with pytest.raises(WorkbenchError) as info:
        parse_bundle_json(text)
    assert _code(info) is ErrorCode.UNSAFE_NUMBER


def test_absurd_nesting_is_a_clean_error() -> None:
    with pytest.raises(WorkbenchError) as info:
        parse_bundle_json("[" * 200_000 + "]" * 200_000)
    assert _code(info) in (ErrorCode.LIMIT_EXCEEDED, ErrorCode.INVALID_JSON)


@pytest.mark.parametrize("text", ["null", "1", '"bundle"', "true"])
def test_non_objects_go_to_the_schema(text: str) -> None:
    with pytest.raises(WorkbenchError) as info:
        parse_bundle_json(text)
    assert _code(info) is ErrorCode.INVALID_RUN_BUNDLE


def _broken(mutate: Any) -> dict[str, Any]:
    bundle = _bundle()
    mutate(bundle)
    return bundle


@pytest.mark.parametrize(
    "bundle",
    [
        _broken(lambda b: b.pop("run")),
        _broken(lambda b: b.pop("trace")),
        _broken(lambda b: b.pop("artifacts")),
        _broken(lambda b: b.pop("ruleSets")),
        _broken(lambda b: b.update(trace={})),
        _broken(lambda b: b["run"].update(status="paused")),
        _broken(lambda b: b["run"].update(startedAt="2023-02-29T00:00:00Z")),
        _broken(lambda b: b["run"]["workflowSnapshot"].update(steps=[])),
        _broken(lambda b: b["trace"].append({"id": "e", "runId": "run_1", "ts": TS, "type": "bogus"})),
        _broken(lambda b: b["artifacts"][0].update(version=0)),
        _broken(lambda b: b["engine"].update(stepStatus=[["a", "running", "extra"]])),
        _broken(lambda b: b["engine"].update(stepStatus=[["a"]])),
        _broken(lambda b: b["engine"].update(stepStatus=[["a", "done"]])),
        _broken(lambda b: b["engine"]["gateState"][0][1].update(before="rejected")),
        _broken(lambda b: b["engine"].update(idempotency=[["i", {"artifactKey": "k", "version": 0}]])),
        _broken(lambda b: b["engine"].update(revision=-1)),
        _broken(lambda b: b.update(integrity={"sha256": ""})),
        # strict objects reject unknown keys instead of dropping them
        _broken(lambda b: b["run"].update(subject={"userId": "u", "extra": 1})),
        _broken(
            lambda b: b["trace"].append(
                {"id": "e", "runId": "run_1", "ts": TS, "type": "model_io", "direction": "request", "usage": {"x": 1}}
            )
        ),
        _broken(
            lambda b: b["trace"].append(
                {
                    "id": "e",
                    "runId": "run_1",
                    "ts": TS,
                    "type": "model_io",
                    "direction": "request",
                    "cost": {"amount": 1, "currency": "USD", "x": 1},
                }
            )
        ),
        _broken(
            lambda b: b["trace"].append(
                {
                    "id": "e",
                    "runId": "run_1",
                    "ts": TS,
                    "type": "artifact_patch",
                    "artifactKey": "k",
                    "fromVersion": 1,
                    "toVersion": 2,
                    "patch": [{"op": "remove", "path": "/x", "value": 1}],
                }
            )
        ),
    ],
)
def test_schema_failures_are_invalid_run_bundle(bundle: dict[str, Any]) -> None:
    with pytest.raises(WorkbenchError) as info:
        parse_bundle_json(json.dumps(bundle))
    assert _code(info) is ErrorCode.INVALID_RUN_BUNDLE
    with pytest.raises(WorkbenchError) as info:
        normalize_bundle(bundle)
    assert _code(info) is ErrorCode.INVALID_RUN_BUNDLE


# --- normalization (5.4) -------------------------------------------------------------------------


def test_normalization_drops_unknown_keys_everywhere_but_free_form_values() -> None:
    messy = _bundle()
    messy["extra"] = 1
    messy["run"]["extra"] = 1
    messy["run"]["workflowSnapshot"]["extra"] = 1
    messy["run"]["workflowSnapshot"]["steps"][0]["extra"] = 1
    messy["run"]["workflowSnapshot"]["edges"][0]["extra"] = 1
    messy["run"]["context"] = {"parentRunId": "p", "extra": 1}
    messy["run"]["metadata"] = {"free": {"extra": 1}}
    messy["trace"][0]["extra"] = 1
    messy["trace"][1]["artifact"]["extra"] = 1
    messy["artifacts"][0]["extra"] = 1
    messy["artifacts"][0]["data"]["extra"] = 1
    messy["artifacts"][0]["pointer"] = {"kind": "inline", "extra": 1}
    messy["ruleSets"][0]["extra"] = 1
    messy["ruleSets"][0]["rules"] = [{"id": "r", "priority": 0, "enabled": True, "payload": {"extra": 1}, "x": 2}]
    messy["engine"]["extra"] = 1
    messy["engine"]["gateState"][0][1]["extra"] = 1
    messy["engine"]["idempotency"] = [["i", {"artifactKey": "k", "version": 1, "extra": 1}]]
    messy["integrity"] = {"sha256": "abc", "extra": 1}

    expected = _bundle()
    expected["run"]["context"] = {"parentRunId": "p"}
    expected["run"]["metadata"] = {"free": {"extra": 1}}
    expected["artifacts"][0]["data"]["extra"] = 1
    expected["artifacts"][0]["pointer"] = {"kind": "inline"}
    expected["ruleSets"][0]["rules"] = [{"id": "r", "priority": 0, "enabled": True, "payload": {"extra": 1}}]
    expected["engine"]["idempotency"] = [["i", {"artifactKey": "k", "version": 1}]]
    expected["integrity"] = {"sha256": "abc"}
    normalized = normalize_bundle(messy)
    assert normalized == expected
    # key order of the artifact follows the schema
    assert list(normalized["artifacts"][0]) == ["artifactKey", "typeId", "version", "createdAt", "pointer", "data"]


def test_normalization_fills_defaults() -> None:
    sparse = _bundle()
    snapshot = sparse["run"]["workflowSnapshot"]
    snapshot["steps"] = [{"id": "a"}, {"id": "b", "gatePolicy": "PAUSE_AFTER"}]
    del snapshot["edges"]
    sparse["run"]["workflowVersion"] = 1
    for _, slots in sparse["engine"]["gateState"]:
        del slots["checkpoints"]
    normalized = normalize_bundle(sparse)
    assert normalized["run"]["workflowSnapshot"]["steps"] == [
        {"id": "a", "gatePolicy": "AUTO", "inputs": [], "outputs": []},
        {"id": "b", "gatePolicy": "PAUSE_AFTER", "inputs": [], "outputs": []},
    ]
    assert normalized["run"]["workflowSnapshot"]["edges"] == []
    assert all(slots["checkpoints"] == {} for _, slots in normalized["engine"]["gateState"])


def test_normalization_keeps_null_and_absent_apart() -> None:
    bundle = _bundle()
    bundle["artifacts"].append({"artifactKey": "n", "typeId": "t", "version": 1, "createdAt": TS, "data": None})
    bundle["artifacts"].append({"artifactKey": "m", "typeId": "t", "version": 1, "createdAt": TS})
    normalized = normalize_bundle(bundle)
    assert normalized["artifacts"][1] == {
        "artifactKey": "n",
        "typeId": "t",
        "version": 1,
        "createdAt": TS,
        "data": None,
    }
    assert "data" not in normalized["artifacts"][2]
    assert "engine" in normalized
    assert "engine" not in normalize_bundle(_bundle(engine=False))
    assert "integrity" not in normalized


def test_normalization_is_idempotent() -> None:
    once = normalize_bundle(_signed())
    assert normalize_bundle(once) == once


def test_normalize_does_not_mutate_its_input() -> None:
    bundle = _bundle()
    bundle["extra"] = 1
    before = copy.deepcopy(bundle)
    normalize_bundle(bundle)
    assert bundle == before


# --- integrity (5.5) -----------------------------------------------------------------------------


def test_integrity_is_sha256_of_canonical_body() -> None:
    bundle = _bundle()
    body = {k: bundle[k] for k in ("run", "trace", "artifacts", "ruleSets", "engine")}
    text = canonical_json(body)
    assert text.startswith('{"artifacts":')
    assert list(json.loads(text)) == ["artifacts", "engine", "ruleSets", "run", "trace"]
    assert compute_integrity(bundle) == hashlib.sha256(text.encode()).hexdigest()
    assert attach_integrity(bundle)["integrity"] == {"sha256": compute_integrity(bundle)}


def test_hashed_body_covers_engine_only_when_present() -> None:
    assert set(hashed_body(_bundle())) == {"run", "trace", "artifacts", "ruleSets", "engine"}
    assert set(hashed_body(_bundle(engine=False))) == {"run", "trace", "artifacts", "ruleSets"}
    assert compute_integrity(_bundle()) != compute_integrity(_bundle(engine=False))


def test_signed_bundle_verifies() -> None:
    assert verify_bundle(_signed())
    assert verify_bundle(_signed(engine=False))


def test_attach_integrity_does_not_mutate() -> None:
    bundle = _bundle()
    signed = attach_integrity(bundle)
    assert "integrity" not in bundle
    assert signed is not bundle


def test_tampering_with_one_byte_breaks_verification() -> None:
    text = json.dumps(_signed())
    tampered = text.replace('"x": 1', '"x": 2', 1)
    assert tampered != text
    assert not verify_bundle(json.loads(tampered))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["run"].update(status="completed", endedAt=TS),
        lambda b: b["trace"].pop(),
        lambda b: b["ruleSets"].clear(),
        lambda b: b["engine"].update(revision=3),
        lambda b: b.pop("engine"),
        lambda b: b["artifacts"][0].update(typeId="u"),
    ],
)
def test_every_hashed_member_is_covered(mutate: Any) -> None:
    bundle = _signed()
    mutate(bundle)
    assert not verify_bundle(bundle)


def test_uppercase_digest_never_matches() -> None:
    bundle = _signed()
    bundle["integrity"]["sha256"] = bundle["integrity"]["sha256"].upper()
    assert not verify_bundle(bundle)


def test_no_integrity_is_not_verified_rather_than_an_error() -> None:
    assert verify_bundle(_bundle()) is False
    assert integrity_matches(normalize_bundle(_bundle())) is False


def test_unknown_members_do_not_break_verification() -> None:
    bundle = _signed()
    bundle["extra"] = {"anything": 1}
    bundle["run"]["note"] = "dropped"
    bundle["trace"][0]["zzz"] = 1
    assert verify_bundle(bundle)


def test_hash_over_unnormalized_form_fails_verification() -> None:
    # A producer that hashed a step lacking `inputs` fails: verification hashes the normalized form.
    bundle = _bundle()
    del bundle["run"]["workflowSnapshot"]["steps"][0]["inputs"]
    bundle = attach_integrity(bundle)
    assert not verify_bundle(bundle)


def test_protocol_version_and_integrity_are_outside_the_hash() -> None:
    bundle = _signed()
    digest = bundle["integrity"]["sha256"]
    assert compute_integrity({**bundle, "integrity": {"sha256": "x"}, "protocolVersion": "9"}) == digest


def test_verify_raises_on_unparseable_bundles() -> None:
    with pytest.raises(WorkbenchError) as info:
        verify_bundle({"protocolVersion": "1.0.0"})
    assert _code(info) is ErrorCode.INVALID_RUN_BUNDLE
    with pytest.raises(WorkbenchError) as info:
        verify_bundle({"protocolVersion": "0.1.0"})
    assert _code(info) is ErrorCode.UNSUPPORTED_PROTOCOL_VERSION


# --- structural checks (5.6) ---------------------------------------------------------------------


def _structure_code(mutate: Any) -> WorkbenchError:
    bundle = _bundle()
    mutate(bundle)
    normalized = normalize_bundle(bundle)  # schema-valid ...
    with pytest.raises(WorkbenchError) as info:
        check_bundle_structure(normalized)  # ... but structurally broken
    with pytest.raises(WorkbenchError) as again:
        validate_bundle(bundle)
    assert again.value.code is info.value.code
    return info.value


def _add_edge(bundle: dict[str, Any], edge_id: str, source: str, target: str) -> None:
    bundle["run"]["workflowSnapshot"]["edges"].append({"id": edge_id, "from": source, "to": target})


def test_cyclic_workflow_is_caught_by_validate_but_not_by_normalize_d7() -> None:
    bundle = _bundle()
    _add_edge(bundle, "back", "b", "a")
    assert normalize_bundle(bundle)["run"]["workflowSnapshot"]["edges"][-1]["id"] == "back"
    assert verify_bundle(attach_integrity(bundle))  # integrity alone says nothing about structure
    with pytest.raises(WorkbenchError) as info:
        validate_bundle(bundle)
    assert info.value.code is ErrorCode.INVALID_WORKFLOW


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (
            lambda b: b["run"]["workflowSnapshot"]["steps"].append(dict(b["run"]["workflowSnapshot"]["steps"][0])),
            ErrorCode.INVALID_WORKFLOW,
        ),
        (lambda b: _add_edge(b, "x", "a", "ghost"), ErrorCode.INVALID_WORKFLOW),
        (lambda b: _add_edge(b, "x", "a", "a"), ErrorCode.INVALID_WORKFLOW),
        (lambda b: _add_edge(b, "e1", "a", "b"), ErrorCode.INVALID_WORKFLOW),
        (lambda b: b["run"].update(workflowId="other"), ErrorCode.INVALID_RUN_BUNDLE),
        (lambda b: b["run"].update(workflowVersion=2), ErrorCode.INVALID_RUN_BUNDLE),
        (lambda b: b["trace"][0].update(runId="run_2"), ErrorCode.INVALID_RUN_BUNDLE),
        (lambda b: b["trace"][0].update(stepId="ghost"), ErrorCode.INVALID_RUN_BUNDLE),
        (lambda b: b["trace"][1].update(stepId="ghost"), ErrorCode.INVALID_RUN_BUNDLE),
        (lambda b: b["ruleSets"].append(dict(b["ruleSets"][0])), ErrorCode.INVALID_RUN_BUNDLE),
        (
            lambda b: b["ruleSets"][0].update(rules=[{"id": "r", "priority": 0, "enabled": True, "payload": None}] * 2),
            ErrorCode.INVALID_RUN_BUNDLE,
        ),
        (lambda b: b["artifacts"].append(dict(b["artifacts"][0])), ErrorCode.INVALID_RUN_BUNDLE),
        (lambda b: b["engine"]["stepStatus"].append(["a", "pending"]), ErrorCode.INVALID_RUN_BUNDLE),
        (lambda b: b["engine"]["gateState"].append(list(b["engine"]["gateState"][0])), ErrorCode.INVALID_RUN_BUNDLE),
        (lambda b: b["engine"]["stepStatus"].append(["ghost", "pending"]), ErrorCode.INVALID_RUN_BUNDLE),
        (
            lambda b: b["engine"]["gateState"].append(["ghost", b["engine"]["gateState"][0][1]]),
            ErrorCode.INVALID_RUN_BUNDLE,
        ),
    ],
)
def test_structural_checks(mutate: Any, code: ErrorCode) -> None:
    assert _structure_code(mutate).code is code


def test_workflow_checks_come_first() -> None:
    def mutate(b: dict[str, Any]) -> None:
        _add_edge(b, "back", "b", "a")
        b["run"].update(workflowId="other")
        b["trace"][0].update(runId="run_2")

    assert _structure_code(mutate).code is ErrorCode.INVALID_WORKFLOW


def test_duplicate_rule_set_ids_are_listed_sorted() -> None:
    def mutate(b: dict[str, Any]) -> None:
        rs = b["ruleSets"][0]
        b["ruleSets"] = [
            {**rs, "id": "b"},
            {**rs, "id": "a"},
            {**rs, "id": "b"},
            {**rs, "id": "a"},
            {**rs, "id": "c"},
        ]

    error = _structure_code(mutate)
    assert error.code is ErrorCode.INVALID_RUN_BUNDLE
    assert error.message == "Duplicate ruleSet ids: a, b"


def test_structurally_fine_variants_pass() -> None:
    bundle = _bundle()
    bundle["trace"][1]["stepId"] = ""  # an empty stepId names no step and is fine
    bundle["artifacts"].append({**bundle["artifacts"][0], "version": 2})  # same key, other version
    bundle["ruleSets"].append({"id": "other", "ruleSchemaId": "s", "rules": []})
    bundle["engine"]["stepStatus"] = [["b", "pending"]]  # steps missing from the engine are fine
    check_bundle_structure(normalize_bundle(bundle))
    check_bundle_structure(normalize_bundle(_bundle(engine=False)))


def test_validate_returns_the_normalized_bundle() -> None:
    bundle = _signed()
    bundle["extra"] = 1
    normalized = validate_bundle(bundle)
    assert "extra" not in normalized
    assert normalized["protocolVersion"] == PROTOCOL_VERSION
    assert integrity_matches(normalized)
