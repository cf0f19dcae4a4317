// The official TypeScript MCP client (@modelcontextprotocol/sdk) driving our server's core tools over
// Streamable HTTP with a bearer token. Usage: node mcp_ts_client.mjs <url> <token>
// Prints one JSON object summarising what it saw; the Python test asserts on it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token] = process.argv.slice(2);

function connect(bearer) {
  const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: "workbench-ts-interop", version: "1.0.0" });
  return { client, transport };
}

// Both views of every result: structuredContent (validated by the SDK against outputSchema) and
// the JSON text item older clients parse; the test checks they are the same value.
async function call(client, name, args) {
  const result = await client.callTool({ name, arguments: args });
  const text = result.content?.[0]?.type === "text" ? result.content[0].text : null;
  return { isError: result.isError === true, structured: result.structuredContent, text: JSON.parse(text) };
}

const out = { calls: {} };
const { client, transport } = connect(token);
await client.connect(transport);
out.serverVersion = client.getServerVersion();
out.protocolVersion = transport.protocolVersion ?? null;
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();

const record = async (label, name, args) => {
  const value = await call(client, name, args);
  out.calls[label] = value;
  return value.structured;
};

await record("list_workflows", "list_workflows", {});
const started = await record("start_run", "start_run", { workflowId: "jobSearchWorkflow" });
const runId = started.runId;
await record("next_actions", "next_actions", { runId });
await record("resolve_gate", "resolve_gate", {
  runId, stepId: "parser1", gate: "PAUSE_BEFORE", decision: "approved", note: "from TypeScript",
  correlationId: "ts-1",
});
const write = { runId, artifactKey: "compiledProfile", typeId: "compiledProfile",
  data: { headline: "h", skills: ["ts"], summary: "s" }, idempotencyKey: "ts-key" };
await record("write_artifact", "write_artifact", write);
await record("write_artifact_replay", "write_artifact", write);
await record("get_run", "get_run", { runId });
await record("list_runs", "list_runs", { limit: 5 });
const bundle = await record("export_bundle", "export_bundle", { runId });
await record("verify_run_integrity", "verify_run_integrity", { bundle });
await record("validate_run_bundle", "validate_run_bundle", { bundle });
await record("unknown_run", "get_run", { runId: "run_missing" });
await record("bad_gate", "resolve_gate", { runId, stepId: "parser1", gate: "NOPE", decision: "approved" });
const resource = await client.readResource({ uri: `runs://${runId}` });
out.resourceBundle = JSON.parse(resource.contents[0].text);
out.runId = runId;
await client.close();

try {
  const anonymous = connect(null);
  await anonymous.client.connect(anonymous.transport);
  out.anonymous = "connected";
} catch (error) {
  out.anonymous = String(error?.message ?? error);
}

process.stdout.write(JSON.stringify(out) + "\n");
