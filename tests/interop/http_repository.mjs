// Drives the REAL HttpRunRepository and WorkbenchRuntime of @llm-workbench/runtime 0.3.3 against a live
// workbench-mcp server. No patching: real ids, real clock, real fetch. One JSON request per stdin line,
// one JSON line answered on stdout:
//
//   {"op": "roundtrip", "baseUrl", "token", "workflow", "ruleSets"}
//       start a run in TS, save it, load it back, list, delete, load again
//       → {"runId", "loadedEqual", "listed", "listedMeta", "goneAfterDelete", "deleteMissingOk"}
//   {"op": "start", "baseUrl", "token", "workflow", "ruleSets"}
//       start a run in TS, write parserInputs, approve parser1's PAUSE_BEFORE gate, save → {"runId", "revision"}
//   {"op": "finish", "baseUrl", "token", "runId"}
//       load the run (continued meanwhile by someone else), approve jobSearcher's PAUSE_AFTER gate, run
//       `output`, complete the run, save; then load it again into a fresh runtime and export
//       → {"revisionLoaded", "revisionSaved", "status", "sha256", "traceTypes"}
//   {"op": "verify", "bundle"} → {"verified"}   (the reference's own integrity check of a bundle we exported)
//
// Failures answer {"error": {"code", "message"}} instead of crashing the process.

import readline from "node:readline";
import { isDeepStrictEqual } from "node:util";

const { HttpRunRepository, WorkbenchRuntime, WorkbenchError, verifyRunBundleIntegrity, parseRunBundleJson } =
  await import("@llm-workbench/runtime");

function repository(request) {
  return new HttpRunRepository({
    baseUrl: `${request.baseUrl}/api`,
    getHeaders: () => ({ Authorization: `Bearer ${request.token}` }),
    retry: { maxAttempts: 1 }, // a failure must show, not be retried away
  });
}

// The wire form HttpRunRepository sends (maps as [key, value] entries), for comparisons.
function wire(state) {
  return JSON.parse(
    JSON.stringify({
      revision: state.revision,
      run: state.run,
      trace: state.trace,
      artifactsByKey: [...state.artifactsByKey.entries()],
      ruleSetsById: [...state.ruleSetsById.entries()],
      stepStatus: [...state.stepStatus.entries()],
      gateState: [...state.gateState.entries()],
      idempotency: [...state.idempotency.entries()],
    }),
  );
}

function startRun(runtime, request) {
  return runtime.startRun({ workflow: request.workflow, ruleSets: request.ruleSets, tags: ["interop"] }).runId;
}

async function roundtrip(request) {
  const repo = repository(request);
  const runtime = new WorkbenchRuntime();
  const runId = startRun(runtime, request);
  const saved = runtime.getState(runId);
  await repo.save(saved);
  const loaded = await repo.load(runId);
  const listed = await repo.list({ limit: 500 });
  await repo.delete(runId);
  const gone = await repo.load(runId);
  await repo.delete(runId); // deleting a missing run is fine too
  return {
    runId,
    loadedEqual: loaded !== null && isDeepStrictEqual(wire(loaded), wire(saved)),
    listed: listed.some((meta) => meta.id === runId),
    listedMeta: listed.find((meta) => meta.id === runId) ?? null,
    goneAfterDelete: gone === null,
    deleteMissingOk: true,
  };
}

async function start(request) {
  const repo = repository(request);
  const runtime = new WorkbenchRuntime();
  const runId = startRun(runtime, request);
  const session = runtime.session(runId);
  session.writeArtifact({
    artifactKey: "parserInputs",
    typeId: "parserInputs",
    data: { resumeText: "Grace Hopper, compilers", profiles: [{ url: "https://example.org/grace" }] },
    idempotencyKey: "ts-upload-1",
  });
  session.resolveGate({ stepId: "parser1", gate: "PAUSE_BEFORE", decision: "approved", note: "from TS" });
  await repo.save(runtime.getState(runId));
  return { runId, revision: runtime.getState(runId).revision };
}

async function finish(request) {
  const repo = repository(request);
  const runtime = new WorkbenchRuntime();
  const loaded = await repo.load(request.runId);
  if (loaded === null) throw new Error(`run ${request.runId} not found`);
  runtime.importState(loaded);
  const session = runtime.session(request.runId);
  session.resolveGate({ stepId: "jobSearcher", gate: "PAUSE_AFTER", decision: "approved", note: "from TS" });
  const begun = session.beginStep("output");
  if (!begun.ok) throw new Error(`output cannot start: ${JSON.stringify(begun)}`);
  session.writeArtifact({ artifactKey: "scoredResults", typeId: "scoredResults", data: { ranked: [1, 2] } });
  session.completeStep("output");
  session.completeRun({ reason: "finished in TS" });
  const final = runtime.getState(request.runId);
  await repo.save(final);

  // Export from a fresh load: state that went through JSON (sidesteps the reference's D1).
  const reloaded = await repo.load(request.runId);
  const fresh = new WorkbenchRuntime();
  fresh.importState(reloaded);
  const bundle = await fresh.session(request.runId).exportRunBundle({ profile: "full" });
  return {
    revisionLoaded: loaded.revision,
    revisionSaved: final.revision,
    status: reloaded.run.status,
    sha256: bundle.integrity.sha256,
    traceTypes: reloaded.trace.map((event) => event.type),
  };
}

async function verify(request) {
  const parsed = parseRunBundleJson(JSON.stringify(request.bundle));
  return { verified: await verifyRunBundleIntegrity(parsed) };
}

const OPS = { roundtrip, start, finish, verify };

const lines = readline.createInterface({ input: process.stdin, terminal: false });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const request = JSON.parse(line);
    const op = OPS[request.op];
    if (!op) throw new Error(`unknown op ${request.op}`);
    answer = await op(request);
  } catch (e) {
    const code = e instanceof WorkbenchError ? e.code : "NON_WORKBENCH_ERROR";
    answer = { error: { code, message: e instanceof Error ? e.message : String(e) } };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
