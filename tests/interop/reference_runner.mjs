// Differential-test reference runner: executes scenarios on the REAL @llm-workbench/runtime 0.3.3
// with deterministic ids, wall clock and monotonic clock, and answers one JSON line per request.
//
// ─── Protocol (JSON lines on stdin → one JSON line on stdout per request) ─────────────────────────
//   {"scenario": {...}, "recordCalls"?: true}
//       → {"name", "steps": [step…], "bundles": {alias: bundle | {"error": {code, message}}}}
//         step = {"op", "ok": true,  "result": <JSON of the return value or null>, "state": <4.2 form>}
//              | {"op", "ok": false, "error": {"code", "message"}, "state": <4.2 form of that run | null>}
//         With "recordCalls": true every step also carries "calls": ["uuid", "clock", "perf", …], the
//         exact sequence of id/clock reads the reference made during that op (debug aid for the engine).
//         A harness failure (bad scenario, unknown alias, …) answers {"name", "harnessError": "<text>"}
//         (plus the steps done so far) instead of crashing the process.
//   {"verify": <bundle object, or the exact JSON text as a string>}
//       → {"parsed": bool, "verified": bool, "imported": bool, "error"?: {code, message},
//          "importError"?: {code, message}}
//         parsed   = parseRunBundleJson accepted it (schema + normalization, 5.6 step 1-3)
//         verified = verifyRunBundleIntegrity(parsed bundle) (5.5)
//         imported = a fresh WorkbenchRuntime.importRunBundle({json}) accepted it (integrity +
//                    structural invariants + state invariants, 5.6 "Import")
//
// ─── Determinism (counters are RESET at the start of every scenario) ─────────────────────────────
//   crypto.randomUUID()  → "00000000-0000-4000-8000-" + 12 hex digits of a counter; the first call of a
//                          scenario returns …000000000001 (so the first run id is
//                          run_00000000-0000-4000-8000-000000000001).                    [log: "uuid"]
//   new Date() (no args) → 2026-01-01T00:00:00.000Z for the first construction of a scenario, then +1 ms
//                          per construction (.001Z, .002Z, …). The runtime's only clock is
//                          nowIso() = new Date().toISOString(), i.e. exactly one read per nowIso().
//                          Date.now() returns the value the next `new Date()` would get, WITHOUT
//                          advancing (the runtime only calls it in fallbacks that never run here).
//                                                                                       [log: "clock"]
//   performance.now()    → 1.5, 3.0, 4.5, … (+1.5 per call, starting from 0 each scenario), so a span's
//                          durationMs = 1.5 × (number of performance.now() calls since its begin,
//                          including its own end read).                                  [log: "perf"]
//   Each scenario gets a fresh WorkbenchRuntime. Exports (the exportBundle op and the final bundles)
//   do not read any of the three sources.
//
// ─── Exact read order of the reference, per operation (read from dist/runtime/*.js, confirmed with
//     "recordCalls") ─────────────────────────────────────────────────────────────────────────────────
//   Notation: uuid = one randomUUID() (ids are "<prefix>_" + uuid), clock = one nowIso(),
//   perf = one performance.now(). "Checks" listed before the first read consume nothing when they throw.
//
//   startRun       uuid (run id) → clock (startedAt) → parse workflow [INVALID_WORKFLOW thrown HERE, i.e.
//                  AFTER consuming 1 uuid + 1 clock] → for each initial artifact, in order: uuid (event id;
//                  ts = createdAt = startedAt) → for each rule set, in order: uuid (event id; ts =
//                  startedAt). Total: (1 + nArtifacts + nRuleSets) uuids, exactly 1 clock. If an event
//                  fails validation (INVALID_TRACE_EVENT) the ids read so far stay consumed and no run is
//                  created. context/subject/metadata/tags are stored unvalidated.
//   fork           buildForkStartInput(parent) reads nothing, then exactly as startRun.
//   requestGate    checks: run running → uuid → clock. (INVALID_TRACE_EVENT, e.g. bad `gate`, is thrown
//                  after the uuid + clock were consumed; nothing else changes.)
//   resolveGate    checks: run running, gate state exists (UNKNOWN_STEP) → mutate gate slot → uuid → clock.
//   resolveCheckpoint  checks: run running, UNKNOWN_STEP → mutate checkpoints → uuid → clock.
//   beginStep      checks: run running, readiness (UNKNOWN_STEP throws; a block RETURNS {ok:false, reason}
//                  and reads nothing) → status=running → uuid → clock.
//   completeStep   checks: run running, UNKNOWN_STEP, status == running → status=completed →
//                  [PAUSE_AFTER/CHECKPOINT policy only: after=pending, then uuid → clock for
//                  human_gate_requested] → uuid → clock for step_completed.
//                  So 1 uuid + 1 clock, or 2 uuids + 2 clocks (order uuid, clock, uuid, clock).
//   failStep       checks: run running, status not completed/failed (a missing status counts as ok: D5)
//                  → status=failed → uuid → clock (step_completed ok:false) → uuid → clock (error).
//                  failFast: then failRun as below; if steps are still running it THROWS
//                  INVALID_STATE_TRANSITION after the 2 uuids + 2 clocks and with both events appended
//                  and the step left failed (D4).
//   completeRun / cancelRun / failRun
//                  checks: run running, no running step → clock (endedAt) → run.status/endedAt set →
//                  uuid (run_status_changed, ts = endedAt) → [failRun only: uuid (error, ts = endedAt)].
//                  NOTE the order: the CLOCK is read BEFORE the uuid here (1 clock, then 1 or 2 uuids).
//   writeArtifact  checks: run running, blank artifactKey/typeId (INVALID_INPUT), idempotency (replay
//                  returns the current version and reads NOTHING; conflicts read nothing) → clock
//                  (createdAt) → store → uuid (event; ts = createdAt).   NOTE: clock BEFORE uuid.
//   patchArtifact  checks: run running, blank key, idempotency, UNKNOWN_ARTIFACT, apply patch
//                  (PATCH_FAILED reads nothing) → clock (createdAt) → store → uuid (event; ts =
//                  createdAt).   NOTE: clock BEFORE uuid. An op with an extra member fails event
//                  validation AFTER the version was stored and the clock + uuid consumed (D4).
//   logModelIO     checks: run running → uuid → clock. (INVALID_TRACE_EVENT — bad usage/cost/direction,
//                  negative durationMs — is thrown after uuid + clock were consumed; state unchanged.)
//   logToolCall    checks: run running, blank name (INVALID_INPUT, reads nothing) → uuid → clock.
//   beginSpan      checks: run running → uuid (span id) → perf (span start) → uuid (event id) → clock.
//                  (INVALID_TRACE_EVENT, e.g. empty name, after 2 uuids + 1 perf + 1 clock.)
//   endSpan        no run-status check; a second end of the same handle returns immediately and reads
//                  nothing → perf (end) → uuid → clock. durationMs = max(0, perf_end − perf_start).
//                  The handle is marked ended before the event is validated.
//   replaceRuleSet checks: run running → store → uuid → clock. (Empty id: stored, then
//                  INVALID_TRACE_EVENT after uuid + clock — D4.)
//   reorderRules   checks: run running, UNKNOWN_RULESET, count, uniqueness, unknown rule id (all read
//                  nothing) → replaceRuleSet (uuid → clock).
//   annotate       checks: run running → uuid → clock.
//   forkNotice     checks: run running → uuid → clock.
//   canStartStep   reads nothing (UNKNOWN_STEP for a step not in the workflow, unless a status exists).
//   exportBundle   reads nothing.
//   Any op refused because the run is not running reads nothing.
//
// ─── Scenario format ─────────────────────────────────────────────────────────────────────────────
//   {"name", "description", "ops": [{"op", "run"?: alias, "as"?: alias, "args": {...}, "expect"?: …}],
//    "deliberateDifferences": [...]}   ("expect"/"deliberateDifferences" are for the Python side only)
//   - "run" defaults to the most recently (successfully) started run; "as" names the run started by
//     startRun (default "main") / fork (default "fork").
//   - args.workflow == "jobSearchWorkflow" → the reference workflow of docs/protocol.md section 9, and, unless
//     args.ruleSets is given, ruleSets = [its "default" rule set].
//   - Any string equal to "$run:<alias>" inside args is replaced by that run's id, and "$span:<alias>"
//     by that span's id.
//   - Op argument mapping (args are the reference's own input objects):
//       startRun {workflow, ruleSets?, initialArtifacts?, context?, subject?, metadata?, tags?} → {runId}
//       requestGate / resolveGate / resolveCheckpoint / writeArtifact / patchArtifact / logModelIO /
//       logToolCall / annotate / reorderRules  → session.<op>(args)
//       beginStep {stepId} → {ok} | {ok:false, reason};  completeStep {stepId}
//       failStep {stepId, error: {message, code?}, failFast?} → session.failStep(stepId, error, {failFast})
//       completeRun {reason?} / cancelRun {reason?} → session.<op>(args);  failRun {message, code?}
//       beginSpan {name, parentSpanId?, kind?, attributes?, stepId?, correlationId?, as: spanAlias}
//           → {spanId};  endSpan {span: spanAlias, status?, attributes?, error?} → null
//       replaceRuleSet {ruleSet};  forkNotice {parentRunId | parentRun: alias, forkedFromStepId?}
//       fork {parentRun: alias, forkedFromStepId?, tags?} → buildForkStartInput + startRun → {runId}
//       exportBundle {profile?: "full"} → the bundle (state round-tripped through JSON into a scratch
//           runtime first, to avoid D1; profile "user" fails with INVALID_INPUT: no registry is passed);
//       canStartStep {stepId} → readiness result (the runtime's canStartStep on the live state)
//   - Final "bundles": every alias of a started run, full profile, exported the same way.

import readline from "node:readline";

// ─── Deterministic sources (installed BEFORE the runtime is imported) ─────────────────────────────
const BASE_MS = Date.parse("2026-01-01T00:00:00.000Z");
let uuidCounter = 0;
let clockMs = BASE_MS;
let perfMs = 0;
let callLog = [];

function resetDeterminism() {
  uuidCounter = 0;
  clockMs = BASE_MS;
  perfMs = 0;
  callLog = [];
}

Object.defineProperty(globalThis.crypto, "randomUUID", {
  value: () => {
    uuidCounter += 1;
    callLog.push("uuid");
    return `00000000-0000-4000-8000-${uuidCounter.toString(16).padStart(12, "0")}`;
  },
  configurable: true,
  writable: true,
});

const RealDate = Date;
globalThis.Date = new Proxy(RealDate, {
  construct(target, args, newTarget) {
    if (args.length === 0) {
      const ms = clockMs;
      clockMs += 1;
      callLog.push("clock");
      return Reflect.construct(target, [ms], newTarget);
    }
    return Reflect.construct(target, args, newTarget);
  },
  apply() {
    callLog.push("Date()");
    return new RealDate(clockMs).toString();
  },
  get(target, prop, receiver) {
    if (prop === "now") {
      return () => {
        callLog.push("Date.now");
        return clockMs;
      };
    }
    return Reflect.get(target, prop, receiver);
  },
});

Object.defineProperty(globalThis.performance, "now", {
  value: () => {
    perfMs += 1.5;
    callLog.push("perf");
    return perfMs;
  },
  configurable: true,
  writable: true,
});

const rt = await import("@llm-workbench/runtime");
const { WorkbenchRuntime, WorkbenchError, buildForkStartInput, canStartStep, parseRunBundleJson, verifyRunBundleIntegrity } = rt;

// ─── Reference workflow of docs/protocol.md section 9 ──────────────────────────────────────────────────
const JOB_SEARCH_WORKFLOW = {
  id: "jobSearchWorkflow",
  version: 1,
  title: "Job search (reference)",
  steps: [
    { id: "parser1", gatePolicy: "PAUSE_BEFORE", inputs: ["parserInputs"], outputs: ["compiledProfile"] },
    { id: "jobSearcher", gatePolicy: "PAUSE_AFTER", inputs: ["compiledProfile"], outputs: ["potentialJobs"] },
    { id: "output", gatePolicy: "AUTO", inputs: ["potentialJobs"], outputs: ["scoredResults"] },
  ],
  edges: [
    { id: "e1", from: "parser1", to: "jobSearcher" },
    { id: "e2", from: "jobSearcher", to: "output" },
  ],
};
const JOB_SEARCH_DEFAULT_RULES = {
  id: "default",
  ruleSchemaId: "demoJobRule",
  rules: [
    { id: "r1", priority: 0, enabled: true, label: "Remote only", payload: { kind: "remote", value: "true" } },
    { id: "r2", priority: 1, enabled: true, label: "Ban keyword: unpaid", payload: { kind: "keyword", value: "unpaid" } },
  ],
};

// ─── Helpers ──────────────────────────────────────────────────────────────────────────────────────
class HarnessError extends Error {}

const toJson = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** The 4.2 wire form (maps as [key, value] entry arrays, insertion order), JSON-normalized. */
function serializeState(state) {
  if (!state) return null;
  return toJson({
    revision: state.revision,
    run: state.run,
    trace: state.trace,
    artifactsByKey: [...state.artifactsByKey.entries()],
    ruleSetsById: [...state.ruleSetsById.entries()],
    stepStatus: [...state.stepStatus.entries()],
    gateState: [...state.gateState.entries()],
    idempotency: [...state.idempotency.entries()],
  });
}

/** Inverse of serializeState: a RunStoreState with Maps, built from the parsed wire form. */
function deserializeState(wire) {
  return {
    revision: wire.revision,
    run: wire.run,
    trace: wire.trace,
    artifactsByKey: new Map(wire.artifactsByKey),
    ruleSetsById: new Map(wire.ruleSetsById),
    stepStatus: new Map(wire.stepStatus),
    gateState: new Map(wire.gateState),
    idempotency: new Map(wire.idempotency),
  };
}

function errorBody(e) {
  if (e instanceof WorkbenchError) return { code: e.code, message: e.message };
  return { code: "NON_WORKBENCH_ERROR", message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

/** Export via a JSON round trip into a scratch runtime (sidesteps D1: shared references). */
async function exportViaJson(state, profile) {
  const scratch = new WorkbenchRuntime();
  scratch.importState(deserializeState(serializeState(state)));
  const bundle = await scratch.session(state.run.id).exportRunBundle({ profile: profile ?? "full" });
  return toJson(bundle);
}

// ─── Scenario execution ───────────────────────────────────────────────────────────────────────────
async function runScenario(scenario, recordCalls) {
  resetDeterminism();
  const runtime = new WorkbenchRuntime();
  const runs = new Map(); // alias -> runId (insertion order = start order)
  const spans = new Map(); // alias -> handle
  let current;
  const steps = [];
  const out = { name: scenario?.name ?? null, steps };

  const runIdOf = (alias) => {
    if (!runs.has(alias)) throw new HarnessError(`unknown run alias ${JSON.stringify(alias)}`);
    return runs.get(alias);
  };
  const substitute = (v) => {
    if (typeof v === "string") {
      if (v.startsWith("$run:")) return runIdOf(v.slice(5));
      if (v.startsWith("$span:")) {
        const h = spans.get(v.slice(6));
        if (!h) throw new HarnessError(`unknown span alias ${JSON.stringify(v)}`);
        return h.spanId;
      }
      return v;
    }
    if (Array.isArray(v)) return v.map(substitute);
    if (v && typeof v === "object") {
      const o = {};
      for (const [k, x] of Object.entries(v)) o[k] = substitute(x);
      return o;
    }
    return v;
  };

  try {
    if (!scenario || !Array.isArray(scenario.ops)) throw new HarnessError("scenario.ops must be an array");
    for (const [index, op] of scenario.ops.entries()) {
      const name = op.op;
      const args = substitute(clone(op.args ?? {}));
      let targetAlias = null;
      let result;
      let error = null;
      callLog = [];
      if (name !== "startRun" && name !== "fork") {
        targetAlias = op.run ?? current;
        if (targetAlias === undefined) throw new HarnessError(`op #${index} (${name}): no run started yet`);
        runIdOf(targetAlias);
      } else {
        targetAlias = op.as ?? (name === "fork" ? "fork" : "main");
      }
      const session = () => runtime.session(runs.get(targetAlias));
      try {
        switch (name) {
          case "startRun":
          case "fork": {
            let input;
            if (name === "startRun") {
              input = { ...args };
              if (input.workflow === "jobSearchWorkflow") {
                input.workflow = clone(JOB_SEARCH_WORKFLOW);
                if (!("ruleSets" in args)) input.ruleSets = [clone(JOB_SEARCH_DEFAULT_RULES)];
              }
            } else {
              const parent = runtime.getState(runIdOf(args.parentRun));
              input = buildForkStartInput(parent, { forkedFromStepId: args.forkedFromStepId, tags: args.tags });
            }
            result = runtime.startRun(input);
            runs.set(targetAlias, result.runId);
            current = targetAlias;
            break;
          }
          case "requestGate":
          case "resolveGate":
          case "resolveCheckpoint":
          case "writeArtifact":
          case "patchArtifact":
          case "logModelIO":
          case "logToolCall":
          case "annotate":
          case "reorderRules":
            result = session()[name](args);
            break;
          case "beginStep":
          case "completeStep":
            result = session()[name](args.stepId);
            break;
          case "failStep":
            result = session().failStep(
              args.stepId,
              args.error,
              "failFast" in args ? { failFast: args.failFast } : undefined,
            );
            break;
          case "completeRun":
          case "cancelRun":
            result = session()[name](op.args === undefined ? undefined : args);
            break;
          case "failRun":
            result = session().failRun(args);
            break;
          case "beginSpan": {
            const { as: spanAlias, ...input } = args;
            if (spanAlias === undefined) throw new HarnessError(`op #${index}: beginSpan needs args.as`);
            const handle = session().beginSpan(input);
            spans.set(spanAlias, handle);
            result = { spanId: handle.spanId };
            break;
          }
          case "endSpan": {
            const { span: spanAlias, ...opts } = args;
            const handle = spans.get(spanAlias);
            if (!handle) throw new HarnessError(`op #${index}: unknown span alias ${JSON.stringify(spanAlias)}`);
            result = handle.end(opts);
            break;
          }
          case "replaceRuleSet":
            result = session().replaceRuleSet(args.ruleSet);
            break;
          case "forkNotice": {
            const parentRunId = "parentRun" in args ? runIdOf(args.parentRun) : args.parentRunId;
            result = session().forkNotice(parentRunId, args.forkedFromStepId);
            break;
          }
          case "canStartStep": {
            const state = runtime.getState(runs.get(targetAlias));
            result = canStartStep({
              spec: state.run.workflowSnapshot,
              stepId: args.stepId,
              stepStatus: state.stepStatus,
              gateState: state.gateState,
            });
            break;
          }
          case "exportBundle":
            result = await exportViaJson(runtime.getState(runs.get(targetAlias)), args.profile);
            break;
          default:
            throw new HarnessError(`op #${index}: unknown op ${JSON.stringify(name)}`);
        }
      } catch (e) {
        if (e instanceof HarnessError) throw e;
        error = errorBody(e);
      }
      const runId = runs.get(targetAlias);
      const stateNow = runId === undefined ? null : serializeState(runtime.getState(runId));
      // A failed startRun/fork never creates its run: its state is null even if the alias is reused.
      const state = error && (name === "startRun" || name === "fork") ? null : stateNow;
      const step = error ? { op: name, ok: false, error, state } : { op: name, ok: true, result: toJson(result), state };
      if (recordCalls) step.calls = callLog;
      steps.push(step);
    }
    const bundles = {};
    for (const [alias, runId] of runs) {
      try {
        bundles[alias] = await exportViaJson(runtime.getState(runId), "full");
      } catch (e) {
        bundles[alias] = { error: errorBody(e) };
      }
    }
    out.bundles = bundles;
  } catch (e) {
    out.harnessError = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
  }
  return out;
}

async function verifyBundle(input) {
  const text = typeof input === "string" ? input : JSON.stringify(input);
  const out = { parsed: false, verified: false, imported: false };
  try {
    const parsed = parseRunBundleJson(text);
    out.parsed = true;
    out.verified = await verifyRunBundleIntegrity(parsed);
  } catch (e) {
    out.error = errorBody(e);
  }
  try {
    await new WorkbenchRuntime().importRunBundle({ json: text });
    out.imported = true;
  } catch (e) {
    out.importError = errorBody(e);
  }
  return out;
}

// ─── Main loop ────────────────────────────────────────────────────────────────────────────────────
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let answer;
  try {
    const request = JSON.parse(line);
    if (request && typeof request === "object" && "scenario" in request) {
      answer = await runScenario(request.scenario, request.recordCalls === true);
    } else if (request && typeof request === "object" && "verify" in request) {
      answer = await verifyBundle(request.verify);
    } else {
      answer = { harnessError: 'request must be {"scenario": …} or {"verify": …}' };
    }
  } catch (e) {
    answer = { harnessError: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
