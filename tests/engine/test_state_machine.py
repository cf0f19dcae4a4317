"""A hypothesis state machine over the engine: random command sequences keep every invariant.

Commands are the agent-facing operations (begin/complete/fail steps, gate and checkpoint
decisions, artifact writes and patches with random keys and idempotency keys, model I/O, spans,
terminal transitions). After every command:

- revision == number of events appended so far, and a refused command appended nothing and left
  the state it was given untouched;
- artifact versions rise by exactly one per write/patch event, per key;
- the 4.2 wire form passes `read_serialized_run` + `from_serialized` (the 4.4 invariants) and
  round-trips to an equal wire form;
- the full export passes `validate_bundle` and `verify_bundle`;
- replaying the trace of an engine-less bundle (`from_bundle`) gives the live step statuses, gate
  states and idempotency records.

Replay cannot tell `resolve_gate(gate="CHECKPOINT", note=...)` from `resolve_checkpoint(...)`: both
append the same `human_gate_resolved {gate: "CHECKPOINT", decision, note}` event (docs/protocol.md D11).
The same holds for a checkpoint id of "" (an empty note reads as "no note"). So the commands below
never send a note with a generic CHECKPOINT decision and only use non-empty checkpoint ids.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.clocks import CountingClock
from tests.conftest import default_rule_set, edge, job_search, step, workflow
from workbench_mcp.engine import artifacts, gates, lifecycle, steps, telemetry
from workbench_mcp.engine.export import export_bundle
from workbench_mcp.engine.hydrate import from_bundle, from_serialized, to_serialized
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.readiness import next_actions
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import WorkbenchError
from workbench_mcp.protocol.bundle import validate_bundle, verify_bundle
from workbench_mcp.protocol.serialized_run import read_serialized_run

CHECKPOINT_WORKFLOW = workflow(
    [step("a", "CHECKPOINT"), step("b", "PAUSE_AFTER"), step("c", "AUTO"), step("d", "CHECKPOINT")],
    [edge("e1", "a", "b"), edge("e2", "a", "c"), edge("e3", "b", "d"), edge("e4", "c", "d")],
)
WORKFLOWS = {"job": job_search(), "checkpoint": CHECKPOINT_WORKFLOW}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abxy"), children, max_size=3),
    max_leaves=6,
)
artifact_keys = st.sampled_from(["k1", "k2", "k3"])
idempotency_keys = st.none() | st.sampled_from(["", "i1", "i2", "i3", "i4"])
patch_ops = st.sampled_from(
    [
        {"op": "add", "path": "/x", "value": 1},
        {"op": "add", "path": "/list", "value": []},
        {"op": "add", "path": "/list/-", "value": {"n": None}},
        {"op": "replace", "path": "/x", "value": "two"},
        {"op": "remove", "path": "/x"},
        {"op": "test", "path": "/x", "value": 1},
        {"op": "copy", "from": "/x", "path": "/y"},
        {"op": "move", "from": "/y", "path": "/z"},
        {"op": "replace", "path": "", "value": {"fresh": True}},
        {"op": "add", "path": "/missing/deep", "value": 0},
    ]
)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = CountingClock()
        self.state: RunState | None = None
        self.trace: list[dict[str, Any]] = []
        self.versions: dict[str, int] = {}
        self.spans: list[str] = []
        self.step_ids: list[str] = []
        self.last_keyed_write: dict[str, Any] | None = None

    # --- plumbing --------------------------------------------------------------------------------

    @property
    def live(self) -> RunState:
        assert self.state is not None
        return self.state

    def apply(self, operation: Any, **kwargs: Any) -> Outcome | None:
        before = self.live
        wire_before = copy.deepcopy(to_serialized(before, self.trace))
        try:
            outcome: Outcome = operation(before, self.clock, **kwargs)
        except WorkbenchError:
            # Refused: nothing appended, and the state we handed in is exactly as it was.
            assert to_serialized(before, self.trace) == wire_before
            return None
        # Even a successful operation must not have mutated its input.
        assert to_serialized(before, self.trace) == wire_before
        if not outcome.events:
            assert outcome.state.revision == before.revision
        for event in outcome.events:
            data = event.model_dump(mode="json")
            if data["type"] == "artifact_written":
                key, version = data["artifact"]["artifactKey"], data["artifact"]["version"]
                assert version == self.versions.get(key, 0) + 1
                self.versions[key] = version
            elif data["type"] == "artifact_patch":
                key = data["artifactKey"]
                assert data["fromVersion"] == self.versions[key]
                assert data["toVersion"] == self.versions[key] + 1
                self.versions[key] = data["toVersion"]
            self.trace.append(data)
        self.state = outcome.state
        return outcome

    # --- commands --------------------------------------------------------------------------------

    @initialize(name=st.sampled_from(sorted(WORKFLOWS)), with_rules=st.booleans())
    def start(self, name: str, with_rules: bool) -> None:
        command = lifecycle.StartRun(workflow=WORKFLOWS[name], rule_sets=[default_rule_set()] if with_rules else [])
        outcome = lifecycle.start_run(self.clock, command)
        self.state = outcome.state
        self.trace = [e.model_dump(mode="json") for e in outcome.events]
        self.step_ids = [s["id"] for s in WORKFLOWS[name]["steps"]] + ["ghost"]  # ghost: UNKNOWN_STEP paths

    def pick_step(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(self.step_ids), label="step")

    @rule()
    def progress(self) -> None:
        """Do what next_actions suggests (approve a gate, begin a ready step, complete a running one),
        so that sequences reach deep states instead of bouncing off blocked steps."""
        actions = next_actions(self.live)
        if actions.pending_gates:
            gate = actions.pending_gates[0]
            if "checkpointId" in gate:
                self.apply(
                    gates.resolve_checkpoint,
                    step_id=gate["stepId"],
                    checkpoint_id=gate["checkpointId"],
                    decision="approved",
                )
            else:
                self.apply(gates.resolve_gate, step_id=gate["stepId"], gate=gate["gate"], decision="approved")
        elif actions.ready_steps:
            self.apply(steps.begin_step, step_id=actions.ready_steps[0])
        elif actions.running_steps:
            self.apply(steps.complete_step, step_id=actions.running_steps[0])

    @rule(data=st.data())
    def begin(self, data: st.DataObject) -> None:
        self.apply(steps.begin_step, step_id=self.pick_step(data))

    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        self.apply(steps.complete_step, step_id=self.pick_step(data))

    @rule(data=st.data(), roll=st.integers(min_value=0, max_value=3), code=st.none() | st.just("E1"))
    def fail(self, data: st.DataObject, roll: int, code: str | None) -> None:
        fail_fast = roll == 3  # fail-fast ends the run, so only one draw in four
        self.apply(steps.fail_step, step_id=self.pick_step(data), message="failed", code=code, fail_fast=fail_fast)

    @rule(
        data=st.data(),
        gate=st.sampled_from(["PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"]),
        decision=st.sampled_from(["approved", "rejected", "edited"]),
        note=st.none() | st.just("looks fine"),
    )
    def resolve_gate(self, data: st.DataObject, gate: str, decision: str, note: str | None) -> None:
        if gate == "CHECKPOINT":
            note = None  # see the module docstring: a note would read as a named checkpoint on replay
        self.apply(gates.resolve_gate, step_id=self.pick_step(data), gate=gate, decision=decision, note=note)

    @rule(
        data=st.data(),
        checkpoint_id=st.sampled_from(["cp1", "cp2"]),
        decision=st.sampled_from(["approved", "rejected"]),
    )
    def resolve_checkpoint(self, data: st.DataObject, checkpoint_id: str, decision: str) -> None:
        self.apply(
            gates.resolve_checkpoint, step_id=self.pick_step(data), checkpoint_id=checkpoint_id, decision=decision
        )

    @rule(data=st.data(), checkpoint_id=st.sampled_from(["cp1", "cp2"]))
    def reference_checkpoint(self, data: st.DataObject, checkpoint_id: str) -> None:
        """A pending named checkpoint, as a run made by the reference holds one (ours never creates one, D27)."""
        self.apply(
            gates.record_checkpoint_decision,
            step_id=self.pick_step(data),
            checkpoint_id=checkpoint_id,
            decision="rejected",
        )

    @rule(data=st.data(), gate=st.sampled_from(["PAUSE_BEFORE", "PAUSE_AFTER"]))
    def request_gate(self, data: st.DataObject, gate: str) -> None:
        self.apply(gates.request_gate, step_id=self.pick_step(data), gate=gate, reason="please")

    @rule(
        key=artifact_keys,
        data=st.dictionaries(st.sampled_from("abx"), json_values, max_size=3) | json_values,
        idempotency_key=idempotency_keys,
        type_id=st.sampled_from(["t", "u"]),
    )
    def write(self, key: str, data: Any, idempotency_key: str | None, type_id: str) -> None:
        request = {"artifact_key": key, "type_id": type_id, "data": data, "idempotency_key": idempotency_key}
        if self.apply(artifacts.write_artifact, **copy.deepcopy(request)) is not None and idempotency_key:
            self.last_keyed_write = request

    @precondition(lambda self: self.last_keyed_write is not None)
    @rule()
    def retry_last_write(self) -> None:
        """An agent retrying a keyed write: a replay (no event) while the key is current, else a conflict."""
        assert self.last_keyed_write is not None
        outcome = self.apply(artifacts.write_artifact, **copy.deepcopy(self.last_keyed_write))
        if outcome is not None:
            assert outcome.events == []

    @precondition(lambda self: bool(self.versions))
    @rule(data=st.data(), ops=st.lists(patch_ops, max_size=3), idempotency_key=idempotency_keys)
    def patch(self, data: st.DataObject, ops: list[dict[str, Any]], idempotency_key: str | None) -> None:
        key = data.draw(st.sampled_from([*sorted(self.versions), "nope"]), label="key")  # mostly existing keys
        self.apply(
            artifacts.patch_artifact, artifact_key=key, patch=copy.deepcopy(ops), idempotency_key=idempotency_key
        )

    @rule(
        direction=st.sampled_from(["request", "response", "stream_chunk", "bogus"]),
        data=st.data(),
        with_step=st.booleans(),
        detail=st.sampled_from(["summary", "full"]),
        payload=json_values,
    )
    def model_io(self, direction: str, data: st.DataObject, with_step: bool, detail: str, payload: Any) -> None:
        self.apply(
            telemetry.log_model_io,
            direction=direction,
            step_id=self.pick_step(data) if with_step else None,
            usage={"inputTokens": 3},
            payload=payload,
            detail=detail,
        )

    @rule(data=st.data(), with_step=st.booleans())
    def begin_span(self, data: st.DataObject, with_step: bool) -> None:
        outcome = self.apply(telemetry.begin_span, name="work", step_id=self.pick_step(data) if with_step else None)
        if outcome is not None:
            self.spans.append(outcome.result["spanId"])

    @precondition(lambda self: bool(self.spans))
    @rule(data=st.data())
    def end_span(self, data: st.DataObject) -> None:
        span_id = data.draw(st.sampled_from(self.spans))
        self.apply(telemetry.end_span, span_id=span_id, status="ok")

    # Ending the run stops almost everything else, so it fires only on one draw in four.
    @rule(end=st.sampled_from(["complete", "cancel", "fail"]), roll=st.integers(min_value=0, max_value=3))
    def end_run(self, end: str, roll: int) -> None:
        if roll < 3:
            return
        if end == "complete":
            self.apply(lifecycle.complete_run, reason="done")
        elif end == "cancel":
            self.apply(lifecycle.cancel_run)
        else:
            self.apply(lifecycle.fail_run, message="stop", code="X")

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def next_actions_mean_what_they_say(self) -> None:
        """Every pending gate it lists is one resolve_gate / resolve_checkpoint records a decision on (D25-D27);
        canCompleteRun only when every step completed or failed; a finished run has nothing to do (D19)."""
        if self.state is None:
            return
        actions = next_actions(self.live)
        for gate in actions.pending_gates:
            if "checkpointId" in gate:
                out = gates.resolve_checkpoint(
                    self.live,
                    self.clock,
                    step_id=gate["stepId"],
                    checkpoint_id=gate["checkpointId"],
                    decision="approved",
                )
            else:
                out = gates.resolve_gate(
                    self.live, self.clock, step_id=gate["stepId"], gate=gate["gate"], decision="approved"
                )
            assert out.events, gate
        finished = set(self.live.step_status.values()) <= {"completed", "failed"}
        assert actions.can_complete_run is (self.live.run.status == "running" and finished)
        if self.live.run.status != "running":
            lists = (actions.pending_gates, actions.ready_steps, actions.running_steps, actions.blocked_steps)
            assert lists == ([], [], [], [])

    @invariant()
    def revision_counts_events(self) -> None:
        if self.state is not None:
            assert self.live.revision == len(self.trace)

    @invariant()
    def artifacts_hold_the_latest_version(self) -> None:
        if self.state is not None:
            assert {k: a.version for k, a in self.live.artifacts.items()} == self.versions

    @invariant()
    def wire_form_round_trips(self) -> None:
        if self.state is None:
            return
        wire = to_serialized(self.live, self.trace)
        text = json.dumps(wire, allow_nan=False)
        state, trace = from_serialized(read_serialized_run(json.loads(text)))
        assert to_serialized(state, trace) == wire

    @invariant()
    def bundles_validate_verify_and_replay(self) -> None:
        if self.state is None:
            return
        full = export_bundle(self.live, self.trace)
        assert verify_bundle(json.loads(json.dumps(full)))
        validate_bundle(full)
        engine_less = validate_bundle(export_bundle(self.live, self.trace, include_engine=False))
        assert verify_bundle(engine_less)
        replayed, _ = from_bundle(engine_less)
        assert replayed.step_status == self.live.step_status
        assert replayed.gate_state == self.live.gate_state
        assert replayed.revision == self.live.revision
        assert {k: (e.artifact_key, e.version) for k, e in replayed.idempotency.items()} == {
            k: (e.artifact_key, e.version) for k, e in self.live.idempotency.items()
        }
        restored, _ = from_bundle(validate_bundle(full))
        assert restored.step_status == self.live.step_status
        assert restored.gate_state == self.live.gate_state


EngineMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase
