"""Exporting bundles (5.3): full and user profiles, ordering, integrity, redaction without leaks (D14)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import MISSING

from tests.conftest import Run, default_rule_set, job_search, one_step
from workbench_mcp.engine import artifacts, gates, lifecycle, steps, telemetry
from workbench_mcp.engine.export import REDACTED, export_bundle
from workbench_mcp.engine.hydrate import engine_entries
from workbench_mcp.protocol.bundle import compute_integrity, validate_bundle, verify_bundle
from workbench_mcp.protocol.reference_workflow import DEMO_REDACTIONS

HASH = "ab" * 32


def _demo_run(run: Callable[..., Run]) -> Run:
    r = run(job_search(), rule_sets=[default_rule_set()], metadata={"secret": "m"}, tags=["t"], subject={"userId": "u"})
    r.do(gates.resolve_gate, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    r.do(steps.begin_step, step_id="parser1")
    r.do(
        artifacts.write_artifact,
        artifact_key="parserInputs",
        type_id="parserInputs",
        data={"resumeText": "private", "profiles": [{"label": "gh", "url": "https://x"}], "portfolioUrls": []},
        pointer={"kind": "inline", "payloadHash": HASH, "byteLength": 10},
    )
    r.do(
        artifacts.write_artifact,
        artifact_key="compiledProfile",
        type_id="compiledProfile",
        data={"headline": "h", "skills": []},
    )
    r.do(telemetry.log_model_io, direction="request", payload={"prompt": "secret"}, detail="full", summary="s")
    r.do(telemetry.log_tool_call, name="search", args={"q": "secret"}, result=[1])
    r.do(steps.complete_step, step_id="parser1")
    return r


# --- full profile --------------------------------------------------------------------------------


def test_full_export(run: Callable[..., Run]) -> None:
    r = _demo_run(run)
    bundle = export_bundle(r.state, r.trace)
    assert list(bundle) == ["protocolVersion", "run", "trace", "artifacts", "ruleSets", "engine", "integrity"]
    assert bundle["protocolVersion"] == "1.0.0"
    assert bundle["run"] == r.state.run.model_dump(mode="json")
    assert bundle["trace"] == r.trace
    assert [a["artifactKey"] for a in bundle["artifacts"]] == ["compiledProfile", "parserInputs"]
    assert bundle["ruleSets"] == [default_rule_set()]
    assert bundle["engine"] == engine_entries(r.state)
    assert bundle["engine"]["revision"] == len(r.trace)
    assert bundle["integrity"] == {"sha256": compute_integrity(bundle)}
    assert verify_bundle(bundle)
    assert validate_bundle(bundle) == bundle  # already normalized


def test_full_export_without_engine(run: Callable[..., Run]) -> None:
    r = _demo_run(run)
    bundle = export_bundle(r.state, r.trace, include_engine=False)
    assert "engine" not in bundle
    assert verify_bundle(bundle)
    assert bundle["integrity"] != export_bundle(r.state, r.trace)["integrity"]


def test_export_is_deterministic_and_pure(run: Callable[..., Run]) -> None:
    r = _demo_run(run)
    trace_before = copy.deepcopy(r.trace)
    first = export_bundle(r.state, r.trace)
    export_bundle(r.state, r.trace, profile="user", redactions=DEMO_REDACTIONS)
    assert export_bundle(r.state, r.trace) == first
    assert r.trace == trace_before
    data = r.state.artifacts["parserInputs"].data
    assert data is not MISSING
    assert data["resumeText"] == "private"


def test_artifacts_and_rule_sets_sort_like_locale_compare(run: Callable[..., Run]) -> None:
    r = run(rule_sets=[{"id": i, "ruleSchemaId": "s", "rules": []} for i in ("b", "B", "a-b", "a_b", "ab", "10", "9")])
    for key in ("b", "A", "a", "_k", "10", "9", "aB", "Ab"):
        r.do(artifacts.write_artifact, artifact_key=key, type_id="t", data=None)
    bundle = export_bundle(r.state, r.trace)
    assert [a["artifactKey"] for a in bundle["artifacts"]] == ["_k", "10", "9", "a", "A", "aB", "Ab", "b"]
    assert [rs["id"] for rs in bundle["ruleSets"]] == ["10", "9", "a_b", "a-b", "ab", "b", "B"]
    assert verify_bundle(bundle)


def test_export_of_a_terminal_run_with_open_span_and_null_data(run: Callable[..., Run]) -> None:
    r = run(one_step())
    r.do(telemetry.begin_span, name="n")
    r.do(artifacts.write_artifact, artifact_key="k", type_id="t", data=None)
    r.do(lifecycle.fail_run, message="m")
    bundle = export_bundle(r.state, r.trace)
    assert bundle["run"]["status"] == "failed"
    assert bundle["artifacts"][0]["data"] is None
    assert verify_bundle(validate_bundle(bundle))


# --- user profile --------------------------------------------------------------------------------


def test_user_export_redacts(run: Callable[..., Run]) -> None:
    r = _demo_run(run)
    bundle = export_bundle(r.state, r.trace, profile="user", redactions=DEMO_REDACTIONS)
    assert list(bundle) == ["protocolVersion", "run", "trace", "artifacts", "ruleSets", "integrity"]
    assert "metadata" not in bundle["run"]
    assert bundle["run"]["subject"] == {"userId": "u"}  # not redacted (D14, documented)
    assert bundle["run"]["tags"] == ["t"]
    by_key = {a["artifactKey"]: a for a in bundle["artifacts"]}
    assert by_key["parserInputs"]["data"] == {
        "resumeText": REDACTED,
        "profiles": [{"label": "gh", "url": REDACTED}],
        "portfolioUrls": [],
    }
    # The pointer hash described the unredacted bytes: dropped (D14).
    assert by_key["parserInputs"]["pointer"] == {"kind": "inline"}
    # compiledProfile has no `summary`: redaction never creates members (D14).
    assert by_key["compiledProfile"]["data"] == {"headline": "h", "skills": []}
    types = {e["type"]: e for e in bundle["trace"]}
    assert "payload" not in types["model_io"]
    assert types["model_io"]["summary"] == "s"
    assert "args" not in types["tool_call"]
    assert "result" not in types["tool_call"]
    written = [e["artifact"] for e in bundle["trace"] if e["type"] == "artifact_written"]
    assert written[0]["data"]["resumeText"] == REDACTED
    assert written[0]["pointer"] == {"kind": "inline"}
    assert verify_bundle(bundle)
    validate_bundle(bundle)


def test_user_export_never_carries_an_engine(run: Callable[..., Run]) -> None:
    r = _demo_run(run)
    bundle = export_bundle(r.state, r.trace, profile="user", include_engine=True, redactions=DEMO_REDACTIONS)
    assert "engine" not in bundle


@pytest.mark.parametrize(
    ("data", "paths", "expected"),
    [
        ([{"url": "a"}], ["/0/url", "/1/url"], [{"url": REDACTED}]),
        ([], ["/0/url"], []),
        ({"a": [1, 2]}, ["/a/5"], {"a": [1, 2]}),  # no sparse array (D14)
        ({"a": [1, 2]}, ["/a/1"], {"a": [1, REDACTED]}),
        ({"a": {"b~c/d": 1}}, ["/a/b~0c~1d"], {"a": {"b~c/d": REDACTED}}),
        ({"a": None}, ["/a/b"], {"a": None}),
        ("scalar", ["/x"], "scalar"),
        ({"whole": 1}, [""], REDACTED),
    ],
)
def test_redaction_paths(run: Callable[..., Run], data: Any, paths: list[str], expected: Any) -> None:
    r = run()
    r.do(artifacts.write_artifact, artifact_key="k", type_id="t", data=data)
    bundle = export_bundle(r.state, r.trace, profile="user", redactions={"t": paths})
    assert bundle["artifacts"][0]["data"] == expected
    assert bundle["trace"][0]["artifact"]["data"] == expected
    assert r.state.artifacts["k"].data == data


def test_unredacted_artifacts_keep_their_pointer(run: Callable[..., Run]) -> None:
    r = run()
    pointer = {"kind": "inline", "payloadHash": HASH}
    r.do(artifacts.write_artifact, artifact_key="k", type_id="t", data={"a": 1}, pointer=pointer)
    bundle = export_bundle(r.state, r.trace, profile="user", redactions={"t": ["/missing"]})
    assert bundle["artifacts"][0]["pointer"] == pointer


def test_user_export_without_redactions_still_strips_payloads(run: Callable[..., Run]) -> None:
    r = _demo_run(run)
    bundle = export_bundle(r.state, r.trace, profile="user")
    assert all("payload" not in e for e in bundle["trace"])
    assert verify_bundle(bundle)
