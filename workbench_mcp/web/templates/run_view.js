"use strict";
// The run view of an MCP Apps host (SEP-1865): JSON-RPC over postMessage with the host, which proxies
// tools/call to the server as the signed-in user. Run content is untrusted: it reaches the page only through
// textContent and attribute values, never as markup.
(() => {
  const APPS_VERSION = "2026-01-26";
  const MAX_TEXT = 4000;
  const pending = new Map();
  let nextId = 1;
  let runId = null;
  let busy = false;

  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const clip = (text) => (text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) + " …" : text);
  const pairs = (value) => (Array.isArray(value) ? value : Object.entries(value || {}));

  function post(message) {
    window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
  }
  function request(method, params) {
    const id = nextId++;
    post({ id, method, params });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }
  async function callTool(name, args) {
    const result = await request("tools/call", { name, arguments: args });
    const body = result && result.structuredContent;
    if (!result || result.isError) {
      const text = body && body.error ? `${body.code}: ${body.error}` : "the call failed";
      throw new Error(text);
    }
    return body;
  }

  function say(text) {
    const box = $("message");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function summary(event) {
    const parts = [event.type];
    if (event.stepId) parts.push(event.stepId);
    if (event.gate) parts.push(event.gate);
    if (event.decision) parts.push(event.decision);
    if (event.artifact) parts.push(`${event.artifact.artifactKey} v${event.artifact.version}`);
    if (event.status) parts.push(event.status);
    if (event.note) parts.push(`“${event.note}”`);
    return parts.map(String).join(" · ");
  }

  function renderRun(state, gates) {
    const run = state.run || {};
    const workflow = run.workflowSnapshot || {};
    runId = run.id || runId;
    $("title").textContent = workflow.title || run.workflowId || "Workbench run";
    $("run-id").textContent = run.id || "";
    $("run-status").textContent = run.status || "";
    $("revision").textContent = `revision ${state.revision}`;

    const status = new Map(pairs(state.stepStatus));
    const gateState = new Map(pairs(state.gateState));
    const open = gates || [];
    const body = $("steps").querySelector("tbody");
    body.replaceChildren();
    for (const step of workflow.steps || []) {
      const row = el("tr");
      row.dataset.step = String(step.id);
      const g = gateState.get(step.id) || {};
      row.append(el("td", step.id), el("td", step.gatePolicy), el("td", status.get(step.id) || ""));
      for (const side of ["before", "after"]) {
        row.append(el("td", g[side] || "", g[side] === "pending" ? "pending" : ""));
      }
      const review = el("td");
      for (const gate of open.filter((p) => p.stepId === step.id && !p.checkpointId)) {
        for (const [decision, label] of [["approved", "Approve"], ["rejected", "Reject"]]) {
          const button = el("button", `${label} ${gate.gate}`);
          button.dataset.testid = `${decision === "approved" ? "approve" : "reject"}-${step.id}-${gate.gate}`;
          button.addEventListener("click", () => decide(step.id, gate.gate, decision));
          review.append(button);
        }
      }
      row.append(review);
      body.append(row);
    }

    const artifacts = $("artifacts");
    artifacts.replaceChildren();
    for (const [key, artifact] of pairs(state.artifactsByKey)) {
      const item = el("li");
      item.dataset.testid = "artifact";
      item.append(el("strong", key), el("span", ` v${artifact.version} · ${artifact.typeId}`));
      item.append(el("pre", clip(JSON.stringify(artifact.data, null, 2) ?? "")));
      artifacts.append(item);
    }

    const timeline = $("timeline");
    timeline.replaceChildren();
    for (const event of state.trace || []) {
      const item = el("li");
      item.dataset.testid = "timeline-event";
      item.append(el("span", String(event.ts || "").slice(11, 19), "ts"), el("span", clip(summary(event))));
      timeline.append(item);
    }
  }

  async function refresh() {
    if (!runId) return;
    const [state, next] = await Promise.all([
      callTool("get_run", { runId }),
      callTool("next_actions", { runId }),
    ]);
    renderRun(state, next.pendingGates);
  }

  async function decide(stepId, gate, decision) {
    if (busy) return;
    busy = true;
    for (const button of document.querySelectorAll("button")) button.disabled = true;
    try {
      await callTool("resolve_gate", { runId, stepId, gate, decision });
      say("");
      await refresh();
    } catch (error) {
      say(error.message);
      for (const button of document.querySelectorAll("button")) button.disabled = false;
    } finally {
      busy = false;
    }
  }

  function onToolResult(result) {
    const state = result && result.structuredContent;
    if (!state || result.isError || !state.run) {
      say(state && state.error ? `${state.code}: ${state.error}` : "No run to show.");
      return;
    }
    renderRun(state, []);
    refresh().catch((error) => say(error.message)); // the pending gates and their buttons
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.id !== undefined && !message.method) {
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error.message || "host error"));
      else waiter.resolve(message.result);
      return;
    }
    const params = message.params || {};
    if (message.method === "ui/notifications/tool-input") {
      if (params.arguments && typeof params.arguments.runId === "string") runId = params.arguments.runId;
    } else if (message.method === "ui/notifications/tool-result") {
      onToolResult(params);
    } else if (message.method === "ui/resource-teardown") {
      post({ id: message.id, result: {} });
    } else if (message.id !== undefined) {
      post({ id: message.id, error: { code: -32601, message: "Method not found" } });
    }
  });

  new ResizeObserver(() => {
    const box = document.documentElement.getBoundingClientRect();
    post({ method: "ui/notifications/size-changed", params: { width: Math.ceil(box.width), height: Math.ceil(box.height) } });
  }).observe(document.documentElement);

  request("ui/initialize", {
    appInfo: { name: "workbench-run-view", version: "1" },
    appCapabilities: {},
    protocolVersion: APPS_VERSION,
  }).then(() => post({ method: "ui/notifications/initialized", params: {} }), (error) => say(error.message));
})();
