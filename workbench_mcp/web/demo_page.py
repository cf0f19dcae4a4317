"""`/runs/demo`: a public, read-only page showing one run the way an operator wants to see it.

Server-rendered HTML and inline SVG: no script, no build step, no template engine. Every value that
comes from run data passes through `_e` (html.escape, quotes included) before it reaches the page, and
the Content-Security-Policy forbids scripts outright, so even a missed escape could not run code.
The integrity badge is recomputed on every request from the stored run (export -> canonical JSON ->
SHA-256 -> compare), never cached.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workbench_mcp.demo_run import DEMO_PRINCIPAL, build_demo_run
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.bundle import Bundle, validate_bundle, verify_bundle
from workbench_mcp.service import RunService

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
MAX_PREVIEW_CHARS = 1_200


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True, slots=True)
class Integrity:
    verified: bool
    sha256: str
    detail: str


def check_integrity(bundle: Bundle) -> Integrity:
    """Hash check plus the structural checks a verifier runs on import (5.6)."""
    claimed = str((bundle.get("integrity") or {}).get("sha256", ""))
    try:
        if not verify_bundle(bundle):
            return Integrity(False, claimed, "the SHA-256 of the canonical JSON does not match the bundle's hash")
        validate_bundle(bundle)
    except WorkbenchError as exc:
        return Integrity(False, claimed, f"{exc.code.value}: {exc.message}")
    return Integrity(True, claimed, "SHA-256 of the canonical JSON recomputed for this request and matched")


# --- small pieces ----------------------------------------------------------------------------------------

_STATUS_CLASS = {
    "completed": "ok",
    "approved": "ok",
    "running": "info",
    "pending": "wait",
    "failed": "bad",
    "cancelled": "muted",
    "rejected": "bad",
    "edited": "info",
}


def _pill(text: str, kind: str | None = None, testid: str | None = None) -> str:
    css = kind or _STATUS_CLASS.get(text, "muted")
    attr = f' data-testid="{_e(testid)}"' if testid else ""
    return f'<span class="pill {_e(css)}"{attr}>{_e(text)}</span>'


def _time(ts: str) -> str:
    # `2026-01-05T10:00:00.105Z` -> `10:00:00.105`; anything unexpected is shown as it is.
    return ts[11:23] if len(ts) >= 23 and ts[10] == "T" else ts


def _ms(value: Any) -> str:
    return f"{round(value, 2):g} ms" if isinstance(value, int | float) else f"{value} ms"


def _preview(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    if len(text) > MAX_PREVIEW_CHARS:
        text = text[:MAX_PREVIEW_CHARS] + "\n…"
    return text


# --- workflow graph ------------------------------------------------------------------------------------


def _layers(step_ids: list[str], edges: list[dict[str, Any]]) -> dict[str, int]:
    """Column of each step: the longest path from a source (the workflow is a DAG, checked on save)."""
    layer = dict.fromkeys(step_ids, 0)
    for _ in step_ids:  # at most n relaxation rounds for n steps
        changed = False
        for edge in edges:
            source, target = edge.get("from"), edge.get("to")
            if source in layer and target in layer and layer[target] < layer[source] + 1:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    return layer


NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 220, 104, 70, 24, 12


def _graph_svg(steps: list[dict[str, Any]], edges: list[dict[str, Any]], state: dict[str, Any]) -> str:
    ids = [str(s["id"]) for s in steps]
    layer = _layers(ids, edges)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for step_id in ids:
        column = layer[step_id]
        row = rows.get(column, 0)
        rows[column] = row + 1
        pos[step_id] = (PAD + column * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(layer.values(), default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values(), default=1) * (NODE_H + GAP_Y) - GAP_Y
    status = dict(state["stepStatus"])
    gates = dict(state["gateState"])
    parts = [
        f'<svg class="graph" data-testid="workflow-graph" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="Workflow graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#94a3b8"/></marker></defs>',
    ]
    for edge in edges:
        source, target = str(edge.get("from")), str(edge.get("to"))
        if source in pos and target in pos:
            (x1, y1), (x2, y2) = pos[source], pos[target]
            parts.append(
                f'<line x1="{x1 + NODE_W}" y1="{y1 + NODE_H // 2}" x2="{x2 - 2}" y2="{y2 + NODE_H // 2}" '
                'stroke="#94a3b8" stroke-width="2" marker-end="url(#arrow)"/>'
            )
    for step in steps:
        step_id = str(step["id"])
        x, y = pos[step_id]
        step_status = str(status.get(step_id, "pending"))
        slots = gates.get(step_id, {})
        css = _STATUS_CLASS.get(step_status, "muted")
        parts.append(
            f'<g class="node {_e(css)}" data-testid="step-{_e(step_id)}">'
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="12"/>'
            f'<text x="{x + 14}" y="{y + 26}" class="title">{_e(step_id)}</text>'
            f'<text x="{x + NODE_W - 14}" y="{y + 26}" class="status" text-anchor="end">{_e(step_status)}</text>'
            f'<text x="{x + 14}" y="{y + 50}" class="policy">{_e(step.get("gatePolicy", "AUTO"))}</text>'
            f'<text x="{x + 14}" y="{y + 74}" class="gate">before: {_e(slots.get("before", "?"))}</text>'
            f'<text x="{x + 14}" y="{y + 92}" class="gate">after: {_e(slots.get("after", "?"))}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _steps_table(steps: list[dict[str, Any]], state: dict[str, Any]) -> str:
    status = dict(state["stepStatus"])
    gates = dict(state["gateState"])
    rows = []
    for step in steps:
        step_id = str(step["id"])
        slots = gates.get(step_id, {})
        checkpoints = ", ".join(f"{k}: {v}" for k, v in (slots.get("checkpoints") or {}).items()) or "—"
        rows.append(
            "<tr>"
            f"<td><code>{_e(step_id)}</code></td>"
            f"<td>{_e(step.get('gatePolicy', 'AUTO'))}</td>"
            f"<td>{_pill(str(status.get(step_id, 'pending')))}</td>"
            f"<td>{_pill(str(slots.get('before', '?')), testid=f'gate-{step_id}-before')}</td>"
            f"<td>{_pill(str(slots.get('after', '?')), testid=f'gate-{step_id}-after')}</td>"
            f"<td>{_e(checkpoints)}</td>"
            f"<td>{_e(', '.join(step.get('inputs', [])) or '—')} → {_e(', '.join(step.get('outputs', [])) or '—')}</td>"
            "</tr>"
        )
    head = "<tr><th>step</th><th>gate policy</th><th>status</th><th>before gate</th><th>after gate</th>"
    head += "<th>checkpoints</th><th>inputs → outputs</th></tr>"
    return f'<table class="steps" data-testid="gates"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _decisions(trace: list[dict[str, Any]]) -> str:
    items = [
        f"<li>{_pill(str(e.get('decision')))} <code>{_e(e.get('stepId', ''))}</code> {_e(e.get('gate', ''))}"
        f'{" — " + _e(e["note"]) if e.get("note") else ""} <span class="muted-text">{_e(_time(e["ts"]))}</span></li>'
        for e in trace
        if e.get("type") == "human_gate_resolved"
    ]
    if not items:
        return '<p class="muted-text">No gate decisions yet.</p>'
    return f'<ul class="decisions" data-testid="gate-decisions">{"".join(items)}</ul>'


# --- timeline ----------------------------------------------------------------------------------------------


def _usage(event: dict[str, Any]) -> str:
    parts = []
    usage = event.get("usage") or {}
    if "totalTokens" in usage:
        parts.append(f"{usage['totalTokens']} tokens")
    cost = event.get("cost")
    if cost:
        parts.append(f"{cost.get('amount')} {cost.get('currency')}")
    if "durationMs" in event:
        parts.append(_ms(event["durationMs"]))
    return ", ".join(parts)


def event_summary(event: dict[str, Any]) -> str:
    """One line of plain text per event (escaped by the caller)."""
    kind = event.get("type")
    if kind == "step_completed":
        error = (event.get("error") or {}).get("message")
        return "completed" if event.get("ok") else f"failed: {error or 'no message'}"
    if kind == "artifact_written":
        artifact = event.get("artifact") or {}
        key = f" (idempotency key {event['idempotencyKey']})" if event.get("idempotencyKey") else ""
        return f"{artifact.get('artifactKey')} v{artifact.get('version')} · {artifact.get('typeId')}{key}"
    if kind == "artifact_patch":
        ops = ", ".join(str(op.get("op")) for op in event.get("patch", []))
        return f"{event.get('artifactKey')} v{event.get('fromVersion')} → v{event.get('toVersion')} ({ops})"
    if kind == "model_io":
        who = "/".join(str(event[k]) for k in ("provider", "model") if event.get(k))
        extra = " · ".join(x for x in (_usage(event), str(event.get("summary", ""))) if x)
        return f"{event.get('direction')} {who}" + (f" · {extra}" if extra else "")
    if kind == "tool_call":
        return f"{event.get('name')}({json.dumps(event.get('args', {}), ensure_ascii=False)[:120]})"
    if kind == "human_gate_requested":
        return f"{event.get('gate')} gate awaits a decision" + (f": {event['reason']}" if event.get("reason") else "")
    if kind == "human_gate_resolved":
        note = f" — {event['note']}" if event.get("note") else ""
        return f"{event.get('gate')} {event.get('decision')}{note}"
    if kind == "rule_changed":
        rules = (event.get("snapshot") or {}).get("rules", [])
        return f"rule set {event.get('ruleSetId')} ({len(rules)} rules)"
    if kind == "policy_changed":
        return f"policy {event.get('policy')}"
    if kind == "error":
        code = f" [{event['code']}]" if event.get("code") else ""
        return f"{event.get('message')}{code}"
    if kind == "run_forked":
        return f"forked from {event.get('parentRunId')}"
    if kind == "annotation":
        return str(event.get("text", ""))
    if kind == "run_status_changed":
        return f"run {event.get('status')}" + (f": {event['reason']}" if event.get("reason") else "")
    if kind == "span_started":
        return f"{event.get('name')}" + (f" ({event['kind']})" if event.get("kind") else "")
    if kind == "span_ended":
        return f"{event.get('status', 'ended')}" + (f", {_ms(event['durationMs'])}" if "durationMs" in event else "")
    return ""


_EVENT_CLASS = {
    "step_started": "info",
    "step_completed": "ok",
    "artifact_written": "art",
    "artifact_patch": "art",
    "model_io": "model",
    "tool_call": "model",
    "span_started": "model",
    "span_ended": "model",
    "human_gate_requested": "wait",
    "human_gate_resolved": "gate",
    "error": "bad",
    "run_status_changed": "ok",
}


def _timeline(trace: list[dict[str, Any]]) -> str:
    rows = []
    for index, event in enumerate(trace, start=1):
        kind = str(event.get("type"))
        css = _EVENT_CLASS.get(kind, "muted")
        if kind == "step_completed" and not event.get("ok"):
            css = "bad"
        rows.append(
            f'<li class="event" data-testid="timeline-event" data-type="{_e(kind)}">'
            f'<span class="seq">{index}</span>'
            f'<span class="time">{_e(_time(str(event.get("ts", ""))))}</span>'
            f'<span class="dot {_e(css)}"></span>'
            f'<span class="type">{_e(kind)}</span>'
            f'<span class="step">{_e(event.get("stepId", ""))}</span>'
            f'<span class="summary">{_e(event_summary(event))}</span>'
            "</li>"
        )
    return f'<ol class="timeline" data-testid="timeline">{"".join(rows)}</ol>'


# --- artifacts ---------------------------------------------------------------------------------------------


def _artifacts(state: dict[str, Any]) -> str:
    history: dict[str, list[str]] = {}
    for event in state["trace"]:
        if event.get("type") == "artifact_written":
            artifact = event.get("artifact") or {}
            history.setdefault(str(artifact.get("artifactKey")), []).append(
                f"v{artifact.get('version')} written {_time(str(artifact.get('createdAt', '')))}"
            )
        elif event.get("type") == "artifact_patch":
            history.setdefault(str(event.get("artifactKey")), []).append(
                f"v{event.get('toVersion')} patched {_time(str(event.get('ts', '')))}"
            )
    cards = []
    for key, artifact in state["artifactsByKey"]:
        versions = "".join(f"<li>{_e(line)}</li>" for line in history.get(key, []))
        data = _preview(artifact["data"]) if "data" in artifact else "(external: data held by reference)"
        cards.append(
            f'<article class="artifact" data-testid="artifact-{_e(key)}">'
            f"<header><code>{_e(key)}</code> {_pill('v' + str(artifact.get('version')), 'art')}"
            f' <span class="muted-text">{_e(artifact.get("typeId", ""))}</span></header>'
            f'<ul class="versions">{versions}</ul>'
            f"<pre>{_e(data)}</pre>"
            "</article>"
        )
    return f'<div class="artifacts" data-testid="artifacts">{"".join(cards)}</div>'


# --- the page ------------------------------------------------------------------------------------------------


def _integrity_badge(integrity: Integrity) -> str:
    if integrity.verified:
        return (
            '<div class="badge ok" data-testid="integrity-badge" data-verified="true">'
            "<strong>✓ Integrity verified</strong>"
            f'<span>sha256 <code title="{_e(integrity.sha256)}">{_e(integrity.sha256[:16])}…</code></span></div>'
        )
    return (
        '<div class="badge bad" data-testid="integrity-badge" data-verified="false">'
        f"<strong>✗ Integrity check failed</strong><span>{_e(integrity.detail)}</span></div>"
    )


def _links(links: Iterable[tuple[str, str]]) -> str:
    return " · ".join(f'<a href="{_e(href)}">{_e(label)}</a>' for label, href in links)


def render_run_page(state: dict[str, Any], integrity: Integrity) -> str:
    """The whole HTML document for one serialized run state (docs/protocol.md 4.2)."""
    run = state["run"]
    workflow = run["workflowSnapshot"]
    steps: list[dict[str, Any]] = workflow.get("steps", [])
    edges: list[dict[str, Any]] = workflow.get("edges", [])
    title = workflow.get("title") or workflow.get("id")
    ended = f" · ended {_e(run['endedAt'])}" if run.get("endedAt") else ""
    tags = " ".join(_pill(str(tag), "muted") for tag in run.get("tags", []))
    footer = _links(
        [
            ("agents.md", "/agents.md"),
            ("llms.txt", "/llms.txt"),
            ("OpenAPI", "/api/openapi.json"),
            ("MCP descriptor", "/.well-known/mcp.json"),
        ]
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo run · {_e(title)} · workbench-mcp</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<header class="top">
  <div>
    <p class="eyebrow">LLM Workbench · public demo run (read-only)</p>
    <h1>{_e(title)} <span class="version">v{_e(workflow.get("version", ""))}</span></h1>
    <p class="meta"><code data-testid="run-id">{_e(run["id"])}</code> · started {_e(run["startedAt"])}{ended}</p>
    <p class="meta">{_pill(str(run["status"]), testid="run-status")} revision {_e(state["revision"])} ·
      {len(state["trace"])} trace events · {len(state["artifactsByKey"])} artifacts {tags}</p>
  </div>
  {_integrity_badge(integrity)}
</header>

<section>
  <h2>Workflow</h2>
  <div class="card graph-card">{_graph_svg(steps, edges, state)}</div>
  <div class="card">{_steps_table(steps, state)}</div>
  <div class="card"><h3>Gate decisions</h3>{_decisions(state["trace"])}</div>
</section>

<section>
  <h2>Trace timeline</h2>
  <div class="card">{_timeline(state["trace"])}</div>
</section>

<section>
  <h2>Artifacts</h2>
  {_artifacts(state)}
</section>

<section>
  <h2>Integrity</h2>
  <div class="card integrity" data-testid="integrity">
    {_integrity_badge(integrity)}
    <p>{_e(integrity.detail)}.</p>
    <p>Bundle hash: <code class="hash" data-testid="integrity-hash">{_e(integrity.sha256)}</code></p>
    <p class="muted-text">The hash covers run, trace, artifacts, rule sets and engine state; it detects accidental
      edits, not a party that recomputes it. The protocol, the hash and this limit are described in the
      workbench-mcp source, <code>docs/protocol.md</code> sections 5.5 and 10 (D20).</p>
  </div>
</section>
<footer>{footer}</footer>
</main>
</body>
</html>
"""


_STYLE = """
:root { color-scheme: light; --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc;
  --ok:#15803d; --ok-bg:#dcfce7; --bad:#b91c1c; --bad-bg:#fee2e2; --wait:#b45309; --wait-bg:#fef3c7;
  --info:#1d4ed8; --info-bg:#dbeafe; --art:#7c3aed; --art-bg:#ede9fe; --gate:#0f766e; --gate-bg:#ccfbf1; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 13px; }
h1 { margin: 4px 0 6px; font-size: 28px; } h2 { font-size: 19px; margin: 30px 0 10px; }
h3 { font-size: 15px; margin: 0 0 8px; }
.eyebrow { margin:0; color:var(--muted); text-transform:uppercase; letter-spacing:.06em; font-size:12px; }
.version { color: var(--muted); font-weight: 500; font-size: 18px; }
.meta { margin: 4px 0; color: var(--muted); }
.top { display:flex; justify-content:space-between; align-items:flex-start; gap:24px; }
.card { background:#fff; border:1px solid var(--line); border-radius:12px; padding:16px 18px; margin-bottom:12px;
  box-shadow: 0 1px 2px rgba(15,23,42,.04); }
.pill { display:inline-block; padding:1px 10px; border-radius:999px; font-size:12.5px; font-weight:600; }
.pill.ok { color:var(--ok); background:var(--ok-bg); } .pill.bad { color:var(--bad); background:var(--bad-bg); }
.pill.wait { color:var(--wait); background:var(--wait-bg); }
.pill.info { color:var(--info); background:var(--info-bg); }
.pill.art { color:var(--art); background:var(--art-bg); } .pill.muted { color:var(--muted); background:#f1f5f9; }
.badge { border-radius:12px; padding:12px 16px; display:flex; flex-direction:column; gap:2px; min-width:240px; }
.badge.ok { background:var(--ok-bg); color:var(--ok); border:1px solid #86efac; }
.badge.bad { background:var(--bad-bg); color:var(--bad); border:1px solid #fca5a5; }
.badge strong { font-size: 16px; }
.graph-card { overflow-x:auto; }
svg.graph rect { fill:#fff; stroke:#cbd5e1; stroke-width:1.5; }
svg.graph .ok rect { fill:#f0fdf4; stroke:#22c55e; } svg.graph .info rect { fill:#eff6ff; stroke:#3b82f6; }
svg.graph .bad rect { fill:#fef2f2; stroke:#ef4444; } svg.graph .wait rect { fill:#fffbeb; stroke:#f59e0b; }
svg.graph text { font-family: system-ui, "DejaVu Sans", sans-serif; font-size:13px; fill:#334155; }
svg.graph .title { font-weight:700; font-size:15px; fill:var(--ink); }
svg.graph .status { font-weight:600; fill:var(--muted); } svg.graph .policy { fill:var(--info); font-size:12px; }
table.steps { width:100%; border-collapse:collapse; }
table.steps th, table.steps td { text-align:left; padding:7px 8px; border-bottom:1px solid var(--line); }
table.steps th { color:var(--muted); font-weight:600; font-size:12.5px; }
ul.decisions { list-style:none; padding:0; margin:0; } ul.decisions li { padding:4px 0; }
.muted-text { color: var(--muted); }
ol.timeline { list-style:none; margin:0; padding:0; }
ol.timeline li { display:grid; grid-template-columns: 28px 96px 16px 170px 100px 1fr; align-items:center; gap:8px;
  padding:6px 0; border-bottom:1px dashed var(--line); }
ol.timeline li:last-child { border-bottom:none; }
.seq { color:var(--muted); font-size:12px; text-align:right; } .time { font-family: ui-monospace, monospace;
  font-size:12.5px; color:var(--muted); }
.dot { width:10px; height:10px; border-radius:50%; background:#cbd5e1; }
.dot.ok { background:#22c55e; } .dot.bad { background:#ef4444; } .dot.wait { background:#f59e0b; }
.dot.info { background:#3b82f6; } .dot.art { background:#8b5cf6; } .dot.model { background:#0ea5e9; }
.dot.gate { background:#14b8a6; }
.type { font-family: ui-monospace, monospace; font-size:12.5px; font-weight:600; }
.step { font-family: ui-monospace, monospace; font-size:12.5px; color:var(--info); }
.summary { color:#334155; overflow-wrap:anywhere; }
.artifacts { display:grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap:12px; }
.artifact { background:#fff; border:1px solid var(--line); border-radius:12px; padding:14px 16px; }
.artifact header { display:flex; gap:8px; align-items:center; }
.artifact ul.versions { margin:8px 0; padding-left:18px; color:var(--muted); font-size:13px; }
.artifact pre { background:#f1f5f9; border-radius:8px; padding:10px; margin:0; max-height:260px; overflow:auto;
  white-space:pre-wrap; overflow-wrap:anywhere; }
.integrity .badge { display:inline-flex; margin-bottom:6px; }
code.hash { overflow-wrap:anywhere; }
footer { margin-top:36px; color:var(--muted); font-size:13px; }
a { color: var(--info); }
"""


class DemoRun:
    """The demo run behind `/runs/demo`. Its store is opened by the app's lifespan; the run itself is built
    on the first request (under a lock), so servers that never show the page never pay for it.

    When built, the run's bundle hash is sealed. Every request decodes the run from its stored rows
    (past the state and export caches), exports it and compares: a changed row shows as not verified.
    """

    def __init__(self) -> None:
        self._service: RunService | None = None
        self._built: tuple[str, str] | None = None  # run id, bundle hash sealed when built
        self._lock = asyncio.Lock()

    def attach(self, service: RunService | None) -> None:
        self._service, self._built = service, None

    async def page(self) -> str:
        """The page, with the integrity check recomputed now. STORAGE_UNAVAILABLE before startup."""
        service = self._service
        if service is None:
            raise WorkbenchError(ErrorCode.STORAGE_UNAVAILABLE, "the demo run is not available yet")
        async with self._lock:
            if self._built is None:
                run_id = await build_demo_run(service)
                _, sealed = await service.export_stored_bundle(DEMO_PRINCIPAL, run_id)
                self._built = (run_id, str(sealed["integrity"]["sha256"]))
        run_id, sealed_hash = self._built
        state, bundle = await service.export_stored_bundle(DEMO_PRINCIPAL, run_id)
        return render_run_page(state, check_stored_integrity(bundle, sealed_hash))


def check_stored_integrity(bundle: Bundle, sealed_hash: str) -> Integrity:
    """`check_integrity`, and the freshly computed hash must still be the one sealed at build time."""
    integrity = check_integrity(bundle)
    if integrity.verified and integrity.sha256 != sealed_hash:
        return Integrity(
            False,
            integrity.sha256,
            f"the stored run no longer hashes to {sealed_hash}, the hash sealed when the demo run was built",
        )
    if integrity.verified:
        detail = "SHA-256 of the canonical JSON recomputed from the stored rows for this request; it matches "
        return Integrity(True, integrity.sha256, detail + "the hash sealed when the demo run was built")
    return integrity
