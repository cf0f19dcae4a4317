// JSON-lines oracle for canonical JSON, artifact encoding, JSON.stringify and collation.
//
// Every answer is produced by the real @llm-workbench/runtime (or by the V8/ICU primitives the
// runtime itself calls), never by a re-implementation. Requests arrive one JSON object per line;
// each gets exactly one JSON line back. Answers carry texts inside JSON strings: JSON.stringify
// escapes lone surrogates, so every text survives the trip to Python byte for byte.
import { createInterface } from "node:readline";
import {
  computeRunBundleIntegrity,
  encodeArtifactPayloadBytes,
  serializeRunBundle,
  sha256Hex,
} from "@llm-workbench/runtime";

const encoder = new TextEncoder();

// Index sort: stable like Array.prototype.sort on the values themselves, and it exposes how
// localeCompare ties (result 0) were ordered.
function localeOrder(strings) {
  return strings.map((_, i) => i).sort((a, b) => strings[a].localeCompare(strings[b]));
}

async function artifactEncoding(value) {
  const bytes = encodeArtifactPayloadBytes(value);
  return { base64: Buffer.from(bytes).toString("base64"), sha256: await sha256Hex(bytes) };
}

const handlers = {
  canonical: (req) => req.values.map((v) => serializeRunBundle(v)),
  artifact: (req) => Promise.all(req.values.map(artifactEncoding)),
  pretty: (req) => req.values.map((v) => JSON.stringify(v, null, 2)),
  compact: (req) => req.values.map((v) => JSON.stringify(v)),
  sort: (req) => localeOrder(req.strings),
  compare: (req) => req.pairs.map(([a, b]) => Math.sign(a.localeCompare(b))),
  sha256: (req) => Promise.all(req.texts.map((t) => sha256Hex(encoder.encode(t)))),
  integrity: (req) => Promise.all(req.payloads.map((p) => computeRunBundleIntegrity(p))),
  parse: (req) =>
    req.texts.map((t) => {
      try {
        return { ok: true, compact: JSON.stringify(JSON.parse(t)) };
      } catch (e) {
        return { ok: false, message: String(e.message) };
      }
    }),
  versions: () => ({ node: process.versions.node, icu: process.versions.icu, unicode: process.versions.unicode }),
};

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const req = JSON.parse(line);
    const handler = handlers[req.op];
    if (!handler) throw new Error(`unknown op ${req.op}`);
    answer = { ok: true, result: await handler(req) };
  } catch (e) {
    answer = { ok: false, error: String(e?.message ?? e), code: e?.code };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
