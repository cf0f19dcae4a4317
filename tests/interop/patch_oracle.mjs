// JSON-lines oracle for JSON Patch: runs the REAL fast-json-patch exactly as @llm-workbench/runtime
// 0.3.3 does in patchArtifact: applyPatch(structuredClone(doc), patch, true, false).newDocument.
//
// Request (one line):  {"cases": [{"doc": <json>, "patch": [<op>...]}, ...]}
// Answer  (one line):  {"results": [result, ...]} in the same order, where result is
//   {"ok": true,  "doc": <new document>, "patch": [<op>...]}  a plain JSON result; "patch" is the patch
//                                                             as applyPatch left it (it inserts op values
//                                                             by reference, so later ops can change them)
//   {"ok": true,  "nonJson": "<what>"}                        the result holds something JSON cannot
//                                                             carry (undefined, a function, a cycle,
//                                                             a hidden array property); "doc" is absent
//   {"ok": false, "name": e.name, "message": e.message}       applyPatch threw
// A request that is not valid JSON or has no "cases" array answers {"harnessError": "<text>"}.
import { createInterface } from "node:readline";
import fastJsonPatch from "fast-json-patch";

// The runtime imports the CommonJS build the same way (artifactController.js).
const { applyPatch } = fastJsonPatch;

// Why a result cannot travel as JSON, or null when JSON.stringify would carry it faithfully.
function nonJson(value, seen = new Set()) {
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "function";
  if (typeof value === "number" && !Number.isFinite(value)) return "non-finite number";
  if (value === null || typeof value !== "object") return null;
  if (seen.has(value)) return "cycle";
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      if (Object.keys(value).length !== value.length) return "hidden array property or hole";
      for (const item of value) {
        const why = nonJson(item, seen);
        if (why) return why;
      }
      return null;
    }
    for (const key of Object.keys(value)) {
      const why = nonJson(value[key], seen);
      if (why) return why;
    }
    return null;
  } finally {
    seen.delete(value);
  }
}

function runCase({ doc, patch }) {
  let next;
  try {
    next = applyPatch(structuredClone(doc), patch, true, false).newDocument;
  } catch (e) {
    return { ok: false, name: e?.name ?? null, message: e instanceof Error ? e.message : String(e) };
  }
  // The recorded patch can turn cyclic too: op values are inserted by reference.
  const why = nonJson(next) ?? nonJson(patch);
  return why ? { ok: true, nonJson: why } : { ok: true, doc: next, patch };
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let answer;
  try {
    const request = JSON.parse(line);
    if (!Array.isArray(request?.cases)) throw new Error('request needs a "cases" array');
    answer = { results: request.cases.map(runCase) };
  } catch (e) {
    answer = { harnessError: String(e?.stack ?? e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
