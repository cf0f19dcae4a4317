"""Differential tests: the same scenarios through the real reference runtime and through our engine.

`reference_runner.mjs` executes each `scenarios/*.json` on `@llm-workbench/runtime` 0.3.3 with
deterministic ids and clocks (the comment block at the top of the runner documents the exact
per-operation read order) and reports, after every operation, the result or the error and the
serialized 4.2 state; finally a full-profile bundle per run. `tests/interop/scenario_engine.py`
(written by the lead) must return exactly the same shape from OUR engine:

    run_scenario_with_our_engine(scenario: dict) -> {
        "name": str,
        "steps": [{"op", "ok": True, "result", "state"}
                  | {"op", "ok": False, "error": {"code", "message"}, "state"}],
        "bundles": {alias: bundle | {"error": {"code", "message"}}},
    }

Compared per step: `ok`, the error `code` (never the message), `result`, and `state` (event-type
sequence first, then the whole state as parsed JSON). At an op listed in the scenario's
`deliberateDifferences` our step must match one of the `ours` alternatives instead, and our state
for that run must be unchanged. Final bundles must carry the same integrity hash, except for runs
on which the reference half-applied a deliberately refused operation.

Scenario fields used only here: `ops[i].expect` ({"ok", "code"?, "result"?}: what the reference
does, checked by `test_reference_meets_scenario_expectations`) and `deliberateDifferences`
([{"opIndex", "ours", "why", "state"?, "lastEvent"?}], where `ours` is one alternative or a list of
them, each {"error": CODE or "*"} or {"ok": true, "result"?: ...}). `state` says what our state must
be after the op: absent = unchanged (we refuse or ignore it); "reference" = the reference's own state
(the op applies the same; only its result differs, so nothing diverges); "applied" = changed, but
unlike the reference's, with `lastEvent` (members) in our last trace event (the run diverges).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.node_process import INTEROP_DIR, NodeOracle
from tests.interop.scenario_engine import run_scenario_with_our_engine
from workbench_mcp.engine.export import export_bundle
from workbench_mcp.engine.hydrate import from_serialized, to_serialized
from workbench_mcp.protocol.bundle import verify_bundle
from workbench_mcp.protocol.serialized_run import read_serialized_run

pytestmark = pytest.mark.interop

SCENARIO_DIR = INTEROP_DIR / "scenarios"
SCENARIO_FILES = sorted(SCENARIO_DIR.glob("*.json"))
SCENARIO_IDS = [path.stem for path in SCENARIO_FILES]

KNOWN_OPS = {
    "startRun",
    "fork",
    "requestGate",
    "resolveGate",
    "resolveCheckpoint",
    "beginStep",
    "completeStep",
    "failStep",
    "completeRun",
    "cancelRun",
    "failRun",
    "writeArtifact",
    "patchArtifact",
    "logModelIO",
    "logToolCall",
    "beginSpan",
    "endSpan",
    "replaceRuleSet",
    "reorderRules",
    "annotate",
    "forkNotice",
    "exportBundle",
    "canStartStep",
}

Scenario = dict[str, Any]
Output = dict[str, Any]


def load_scenario(path: Path) -> Scenario:
    scenario: Scenario = json.loads(path.read_text(encoding="utf-8"))
    return scenario


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> Iterator[NodeOracle]:
    oracle = NodeOracle("reference_runner.mjs")
    yield oracle
    oracle.close()
    # NodeOracle.close() leaves the stdout pipe open; with filterwarnings=error the ResourceWarning
    # would fail the session at exit. Close it here until node_process.py does it itself.
    stdout = getattr(getattr(oracle, "_proc", None), "stdout", None)
    if stdout is not None and not stdout.closed:
        stdout.close()


@pytest.fixture(scope="module")
def reference_output(reference: NodeOracle) -> Callable[[Scenario], Output]:
    """Runs a scenario on the reference once per module and caches the answer."""
    cache: dict[str, Output] = {}

    def run(scenario: Scenario) -> Output:
        name = scenario["name"]
        if name not in cache:
            out: Output = reference.ask({"scenario": scenario})
            if "harnessError" in out:
                pytest.fail(f"reference runner could not execute {name!r}:\n{out['harnessError']}", pytrace=False)
            cache[name] = out
        return cache[name]

    return run


@pytest.fixture(scope="module")
def our_output() -> Callable[[Scenario], Output]:
    """Runs a scenario through our engine (lazily imported) once per module and caches the answer."""
    cache: dict[str, Output] = {}

    def run(scenario: Scenario) -> Output:
        name = scenario["name"]
        if name not in cache:
            out = run_scenario_with_our_engine(copy.deepcopy(scenario))
            if not isinstance(out, dict) or not isinstance(out.get("steps"), list) or "bundles" not in out:
                pytest.fail(
                    f"run_scenario_with_our_engine({name!r}) must return "
                    f'{{"name", "steps": [...], "bundles": {{...}}}}, got: {_short(out)}',
                    pytrace=False,
                )
            cache[name] = out
        return cache[name]

    return run


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    return text if len(text) <= limit else text[:limit] + "…"


def _first_difference(ours: Any, ref: Any, path: str = "$") -> str | None:
    """A readable description of the first place where two JSON values differ, or None."""
    if isinstance(ours, dict) and isinstance(ref, dict):
        for key in sorted(set(ours) | set(ref)):
            if key not in ref:
                return f"{path}.{key}: only ours has it ({_short(ours[key])})"
            if key not in ours:
                return f"{path}.{key}: missing in ours (reference has {_short(ref[key])})"
            found = _first_difference(ours[key], ref[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(ours, list) and isinstance(ref, list):
        for index, (a, b) in enumerate(zip(ours, ref, strict=False)):
            found = _first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        if len(ours) != len(ref):
            return f"{path}: ours has {len(ours)} items, reference has {len(ref)}"
        return None

    # JSON equality: booleans are not numbers, and 1 == 1.0 as in JavaScript.
    def is_number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    same = ours == ref if is_number(ours) and is_number(ref) else type(ours) is type(ref) and ours == ref
    return None if same else f"{path}: ours {_short(ours)} != reference {_short(ref)}"


def _assert_same(label: str, what: str, ours: Any, ref: Any) -> None:
    difference = _first_difference(ours, ref)
    if difference is not None:
        raise AssertionError(f"{label}: {what} differs — first difference at {difference}")


def _without_integrity(bundle: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in bundle.items() if key != "integrity"}


def _event_types(state: dict[str, Any] | None) -> list[str] | None:
    if state is None:
        return None
    return [event.get("type") for event in state.get("trace", [])]


def _default_alias(op: dict[str, Any]) -> str:
    return str(op.get("as", "fork" if op["op"] == "fork" else "main"))


def _target_aliases(scenario: Scenario, ref_steps: list[dict[str, Any]]) -> list[str | None]:
    """The run alias each op addresses (same rules as the runner: default = last successfully started run)."""
    current: str | None = None
    aliases: list[str | None] = []
    for op, step in zip(scenario["ops"], ref_steps, strict=True):
        if op["op"] in ("startRun", "fork"):
            alias = _default_alias(op)
            aliases.append(alias)
            if step["ok"]:
                current = alias
        else:
            aliases.append(op.get("run", current))
    return aliases


def _deliberate(scenario: Scenario) -> dict[int, dict[str, Any]]:
    return {int(entry["opIndex"]): entry for entry in scenario.get("deliberateDifferences", [])}


def _alternatives(entry: dict[str, Any]) -> list[dict[str, Any]]:
    ours = entry["ours"]
    return list(ours) if isinstance(ours, list) else [ours]


def _matches_alternative(step: dict[str, Any], alternative: dict[str, Any]) -> bool:
    if "error" in alternative:
        if step.get("ok") is not False:
            return False
        expected: object = alternative["error"]
        return expected == "*" or step.get("error", {}).get("code") == expected
    if step.get("ok") is not True:
        return False
    return "result" not in alternative or _first_difference(step.get("result"), alternative["result"]) is None


def _step_summary(step: dict[str, Any]) -> str:
    if step.get("ok"):
        return f"ok, result {_short(step.get('result'), 200)}"
    return f"error {step.get('error', {}).get('code')}: {_short(step.get('error', {}).get('message'), 200)}"


def _diverging_ops(scenario: Scenario, ref: Output) -> dict[int, str]:
    """Deliberate-difference ops at which the reference changed its state and ours did not change it the
    same way: op index -> run alias."""
    aliases = _target_aliases(scenario, ref["steps"])
    previous: dict[str, Any] = {}
    diverging: dict[int, str] = {}
    deliberate = _deliberate(scenario)
    for index, (alias, step) in enumerate(zip(aliases, ref["steps"], strict=True)):
        if alias is None:
            continue
        same_state = index in deliberate and deliberate[index].get("state") == "reference"
        if index in deliberate and not same_state and step["state"] != previous.get(alias):
            diverging[index] = alias
        if step["state"] is not None:
            previous[alias] = step["state"]
    return diverging


# --------------------------------------------------------------------------------------------------
# Reference-only tests (need Node, not our engine)
# --------------------------------------------------------------------------------------------------


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIO_FILES) >= 14, SCENARIO_FILES


def test_reference_runner_is_deterministic(reference: NodeOracle) -> None:
    first = load_scenario(SCENARIO_FILES[0])
    other = load_scenario(SCENARIO_FILES[-1])
    a = reference.ask({"scenario": first})
    reference.ask({"scenario": other})  # must not leak counters into the next scenario
    b = reference.ask({"scenario": first})
    assert "harnessError" not in a, a.get("harnessError")
    assert a == b
    start = a["steps"][0]
    assert start["op"] == "startRun"
    assert start["ok"]
    assert start["result"] == {"runId": "run_00000000-0000-4000-8000-000000000001"}
    assert start["state"]["run"]["startedAt"] == "2026-01-01T00:00:00.000Z"


def test_reference_runner_records_read_order(reference: NodeOracle) -> None:
    """Pins the documented id/clock read order for the ops whose order is easiest to get wrong."""
    scenario = {
        "name": "read_order",
        "ops": [
            {"op": "startRun", "as": "main", "args": {"workflow": "jobSearchWorkflow"}},
            {"op": "writeArtifact", "args": {"artifactKey": "k", "typeId": "t", "data": {}}},
            {"op": "beginSpan", "args": {"name": "s", "as": "s"}},
            {"op": "endSpan", "args": {"span": "s"}},
            {"op": "failRun", "args": {"message": "m"}},
        ],
    }
    out = reference.ask({"scenario": scenario, "recordCalls": True})
    assert [step["calls"] for step in out["steps"]] == [
        ["uuid", "clock", "uuid"],
        ["clock", "uuid"],
        ["uuid", "perf", "uuid", "clock"],
        ["perf", "uuid", "clock"],
        ["clock", "uuid", "uuid"],
    ]
    span_ended = out["steps"][3]["state"]["trace"][-1]
    assert span_ended["type"] == "span_ended"
    assert span_ended["durationMs"] == 1.5


def test_reference_runner_survives_bad_requests(reference: NodeOracle) -> None:
    bad = reference.ask({"scenario": {"name": "bad", "ops": [{"op": "noSuchOp", "args": {}}]}})
    assert "harnessError" in bad
    assert reference.ask({"neither": 1}).get("harnessError")
    verdict = reference.ask({"verify": "{not json"})
    assert verdict["parsed"] is False
    assert verdict["error"]["code"] == "INVALID_JSON"
    # The process is still alive and deterministic afterwards.
    again = reference.ask({"scenario": load_scenario(SCENARIO_FILES[0])})
    assert again["steps"][0]["result"] == {"runId": "run_00000000-0000-4000-8000-000000000001"}


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=SCENARIO_IDS)
def test_reference_meets_scenario_expectations(path: Path, reference_output: Callable[[Scenario], Output]) -> None:
    """The scenario files say what the reference does; this keeps them honest (and lints their design)."""
    scenario = load_scenario(path)
    assert path.stem.split("_", 1)[1] == scenario["name"], "file name must be NN_<name>.json"
    assert scenario.get("description")
    ops = scenario["ops"]
    assert {op["op"] for op in ops} <= KNOWN_OPS
    ref = reference_output(scenario)
    assert len(ref["steps"]) == len(ops)
    for index, (op, step) in enumerate(zip(ops, ref["steps"], strict=True)):
        label = f"{scenario['name']} op #{index} {op['op']}"
        assert step["op"] == op["op"], label
        if not step["ok"]:
            assert step["error"]["code"] != "NON_WORKBENCH_ERROR", f"{label}: {step['error']}"
        expect = op.get("expect")
        if expect is None:
            continue
        assert step["ok"] is expect["ok"], f"{label}: expected ok={expect['ok']}, reference gave {_step_summary(step)}"
        if "code" in expect:
            assert step["error"]["code"] == expect["code"], f"{label}: {_step_summary(step)}"
        if "result" in expect:
            _assert_same(label, "reference result vs. expect.result", step["result"], expect["result"])

    deliberate = _deliberate(scenario)
    for index, entry in deliberate.items():
        assert 0 <= index < len(ops), f"deliberateDifferences opIndex {index} out of range"
        assert entry.get("why"), f"deliberateDifferences[{index}] needs a 'why'"
        assert _alternatives(entry), f"deliberateDifferences[{index}] needs 'ours'"
        assert entry.get("state") in (None, "reference", "applied"), f"deliberateDifferences[{index}].state"
        if entry.get("state") is not None:
            assert all("error" not in alt for alt in _alternatives(entry)), (
                f"deliberateDifferences[{index}]: an op whose state changes must succeed"
            )
            assert ref["steps"][index]["ok"], f"deliberateDifferences[{index}]: the reference refused the op"
    diverging = _diverging_ops(scenario, ref)
    if diverging:
        first = min(diverging)
        later = [i for i in range(first + 1, len(ops)) if i not in deliberate]
        assert not later, (
            f"op #{first} is a deliberate difference at which the reference changed its state, so "
            f"ids/clock and that run diverge from ours; ops {later} after it would be compared "
            "against a diverged reference"
        )


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=SCENARIO_IDS)
def test_reference_bundles_verify_in_reference(
    path: Path, reference: NodeOracle, reference_output: Callable[[Scenario], Output]
) -> None:
    """Self-check of the runner's verify request on the reference's own bundles."""
    ref = reference_output(load_scenario(path))
    for alias, bundle in ref["bundles"].items():
        if "error" in bundle:
            continue
        verdict = reference.ask({"verify": bundle})
        assert verdict == {"parsed": True, "verified": True, "imported": True}, (alias, verdict)
        tampered = copy.deepcopy(bundle)
        tampered["run"]["workflowId"] += "-tampered"
        assert reference.ask({"verify": tampered})["verified"] is False, alias


# --------------------------------------------------------------------------------------------------
# Differential tests (need our engine: tests/interop/scenario_engine.py)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=SCENARIO_IDS)
def test_scenario_matches_reference(
    path: Path,
    reference_output: Callable[[Scenario], Output],
    our_output: Callable[[Scenario], Output],
) -> None:
    scenario = load_scenario(path)
    ref = reference_output(scenario)
    ours = our_output(scenario)
    name = scenario["name"]
    assert ours.get("name") == name
    assert len(ours["steps"]) == len(ref["steps"]), (
        f"{name}: ours reported {len(ours['steps'])} steps, the reference {len(ref['steps'])}"
    )

    aliases = _target_aliases(scenario, ref["steps"])
    deliberate = _deliberate(scenario)
    diverging = _diverging_ops(scenario, ref)
    ours_previous: dict[str | None, Any] = {}
    for index, (op, r, o) in enumerate(zip(scenario["ops"], ref["steps"], ours["steps"], strict=True)):
        alias = aliases[index]
        label = f"{name} op #{index} {op['op']}" + (f" on run {alias!r}" if alias else "")
        assert o.get("op") == op["op"], f"{label}: ours reported op {o.get('op')!r}"

        if index in deliberate:
            entry = deliberate[index]
            alternatives = _alternatives(entry)
            assert any(_matches_alternative(o, alt) for alt in alternatives), (
                f"{label}: deliberate difference ({entry['why']}) expects ours to be one of "
                f"{_short(alternatives)}, got {_step_summary(o)}"
            )
            if entry.get("state") == "reference":
                _assert_same(label, "state (the op applies as in the reference)", o["state"], r["state"])
            elif entry.get("state") == "applied":
                assert o["state"] != ours_previous.get(alias), f"{label}: our state did not change"
                last, theirs = o["state"]["trace"][-1], r["state"]["trace"][-1]
                for key, value in entry.get("lastEvent", {}).items():
                    _assert_same(label, f"our last event's {key}", last.get(key), value)
                assert any(theirs.get(key) != value for key, value in entry.get("lastEvent", {}).items()), (
                    f"{label}: the reference's last event has the same {sorted(entry.get('lastEvent', {}))}: "
                    "no difference to declare"
                )
            else:
                _assert_same(
                    label,
                    "our state after a deliberately refused/ignored op (must be unchanged)",
                    o["state"],
                    ours_previous.get(alias) if alias else None,
                )
        else:
            assert o["ok"] == r["ok"], f"{label}: ours {_step_summary(o)}; reference {_step_summary(r)}"
            if r["ok"]:
                _assert_same(label, "result", o.get("result"), r.get("result"))
            else:
                assert o["error"]["code"] == r["error"]["code"], (
                    f"{label}: ours {_step_summary(o)}; reference {_step_summary(r)}"
                )
            assert _event_types(o["state"]) == _event_types(r["state"]), (
                f"{label}: trace event types differ\n  ours:      {_event_types(o['state'])}\n"
                f"  reference: {_event_types(r['state'])}"
            )
            _assert_same(label, "state", o["state"], r["state"])
        if alias is not None and o["state"] is not None:
            ours_previous[alias] = o["state"]

    diverged_aliases = set(diverging.values())
    assert set(ours["bundles"]) == set(ref["bundles"]), (
        f"{name}: bundles for runs {sorted(ours['bundles'])}, reference {sorted(ref['bundles'])}"
    )
    for alias, ref_bundle in ref["bundles"].items():
        our_bundle = ours["bundles"][alias]
        if alias in diverged_aliases:
            assert "error" not in our_bundle, f"{name}: our final export of {alias!r} failed: {our_bundle['error']}"
            continue
        label = f"{name} final bundle of run {alias!r}"
        if "error" in ref_bundle:
            assert "error" in our_bundle, f"{label}: the reference export failed ({ref_bundle['error']}), ours did not"
            continue
        assert "error" not in our_bundle, f"{label}: our export failed: {our_bundle['error']}"
        if our_bundle.get("integrity") != ref_bundle.get("integrity"):
            difference = _first_difference(_without_integrity(our_bundle), _without_integrity(ref_bundle))
            raise AssertionError(
                f"{label}: integrity {our_bundle.get('integrity')} != reference "
                f"{ref_bundle.get('integrity')}; first difference at {difference or '(none: hashing differs)'}"
            )


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=SCENARIO_IDS)
def test_reference_bundles_pass_our_verifier(path: Path, reference_output: Callable[[Scenario], Output]) -> None:
    ref = reference_output(load_scenario(path))
    for alias, bundle in ref["bundles"].items():
        if "error" in bundle:
            continue
        assert verify_bundle(copy.deepcopy(bundle)) is True, f"our verifier rejects the reference bundle of {alias!r}"
        tampered = copy.deepcopy(bundle)
        tampered["run"]["workflowId"] += "-tampered"
        assert verify_bundle(tampered) is False, f"our verifier accepts a tampered bundle of {alias!r}"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=SCENARIO_IDS)
def test_our_bundles_pass_reference_verifier(
    path: Path, reference: NodeOracle, our_output: Callable[[Scenario], Output]
) -> None:
    ours = our_output(load_scenario(path))
    for alias, bundle in ours["bundles"].items():
        if "error" in bundle:
            continue
        verdict = reference.ask({"verify": bundle})
        assert verdict == {"parsed": True, "verified": True, "imported": True}, (
            f"the reference does not accept our bundle of {alias!r}: {verdict}"
        )


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=SCENARIO_IDS)
def test_reference_states_reexport_with_reference_hash(
    path: Path, reference_output: Callable[[Scenario], Output]
) -> None:
    """A TS-produced serialized state, loaded by us (as REST PUT does) and re-exported, hashes as the TS runtime's
    own export of that state does."""
    scenario = load_scenario(path)
    ref = reference_output(scenario)
    last_state: dict[str, Any] = {}
    for alias, step in zip(_target_aliases(scenario, ref["steps"]), ref["steps"], strict=True):
        if alias is not None and step.get("state") is not None:
            last_state[alias] = step["state"]
    compared = 0
    for alias, bundle in ref["bundles"].items():
        if "error" in bundle or alias not in last_state:
            continue
        wire = json.loads(json.dumps(last_state[alias]))  # exactly what would arrive over HTTP
        state, trace = from_serialized(read_serialized_run(wire))
        ours = export_bundle(state, trace)
        assert ours["integrity"] == bundle["integrity"], f"{alias}: re-exported hash differs from the reference's"
        assert to_serialized(state, trace) == wire, f"{alias}: the state does not load back in its exact wire form"
        compared += 1
    assert compared == len([b for b in ref["bundles"].values() if "error" not in b])
