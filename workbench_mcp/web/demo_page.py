"""`/runs/demo`: a public, read-only page showing one run the way an operator wants to see it.

Server-rendered HTML and inline SVG through an autoescaping Jinja2 template (templates/demo_run.html,
web/pages.py): no script, no build step. This module only computes what the page shows (layout,
summaries, previews); every value reaches the page escaped, and the Content-Security-Policy forbids
scripts outright, so even a markup mistake could not run code.
The integrity badge is recomputed on every request from the stored run (export -> canonical JSON ->
SHA-256 -> compare), never cached.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from workbench_mcp.demo_run import DEMO_PRINCIPAL, build_demo_run
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.offload import check_bundle
from workbench_mcp.protocol.bundle import Bundle
from workbench_mcp.service import RunService
from workbench_mcp.web.pages import clock_time, render

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
MAX_PREVIEW_CHARS = 1_200


@dataclass(frozen=True, slots=True)
class Integrity:
    verified: bool
    sha256: str
    detail: str


def check_integrity(bundle: Bundle) -> Integrity:
    """The CLI's `verify` (offload.check_bundle "full"): schema, the structural checks of 5.6, then the hash."""
    claimed = str((bundle.get("integrity") or {}).get("sha256", ""))
    verdict = check_bundle("full", bundle)
    if verdict[0] == "error":
        return Integrity(False, claimed, f"{verdict[1]}: {verdict[2]}")
    if not verdict[1]["ok"]:
        return Integrity(False, claimed, "the SHA-256 of the canonical JSON does not match the bundle's hash")
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


@dataclass(frozen=True, slots=True)
class _Node:
    id: str
    x: int
    y: int
    status: str
    policy: str
    before: str
    after: str
    checkpoints: str
    inputs: str
    outputs: str


@dataclass(frozen=True, slots=True)
class _Line:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True, slots=True)
class _Graph:
    width: int
    height: int
    nodes: list[_Node]
    lines: list[_Line]
    node_w: int = NODE_W
    node_h: int = NODE_H


def _graph(steps: list[dict[str, Any]], edges: list[dict[str, Any]], state: dict[str, Any]) -> _Graph:
    """Each step's box (column = longest path from a source, row = order within the column) and the arrows."""
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
    lines = []
    for edge in edges:
        source, target = str(edge.get("from")), str(edge.get("to"))
        if source in pos and target in pos:
            (x1, y1), (x2, y2) = pos[source], pos[target]
            lines.append(_Line(x1 + NODE_W, y1 + NODE_H // 2, x2 - 2, y2 + NODE_H // 2))
    nodes = []
    for step in steps:
        step_id = str(step["id"])
        slots = gates.get(step_id, {})
        checkpoints = ", ".join(f"{k}: {v}" for k, v in (slots.get("checkpoints") or {}).items()) or "—"
        nodes.append(
            _Node(
                id=step_id,
                x=pos[step_id][0],
                y=pos[step_id][1],
                status=str(status.get(step_id, "pending")),
                policy=str(step.get("gatePolicy", "AUTO")),
                before=str(slots.get("before", "?")),
                after=str(slots.get("after", "?")),
                checkpoints=checkpoints,
                inputs=", ".join(step.get("inputs", [])) or "—",
                outputs=", ".join(step.get("outputs", [])) or "—",
            )
        )
    return _Graph(width=width, height=height, nodes=nodes, lines=lines)


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


@dataclass(frozen=True, slots=True)
class _Event:
    type: str
    time: str
    css: str
    step: str
    summary: str


def _timeline(trace: list[dict[str, Any]]) -> list[_Event]:
    events = []
    for event in trace:
        kind = str(event.get("type"))
        css = _EVENT_CLASS.get(kind, "muted")
        if kind == "step_completed" and not event.get("ok"):
            css = "bad"
        events.append(
            _Event(kind, clock_time(str(event.get("ts", ""))), css, str(event.get("stepId", "")), event_summary(event))
        )
    return events


# --- artifacts ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Artifact:
    key: str
    version: str
    type_id: str
    history: list[str]
    preview: str


def _artifacts(state: dict[str, Any]) -> list[_Artifact]:
    history: dict[str, list[str]] = {}
    for event in state["trace"]:
        if event.get("type") == "artifact_written":
            artifact = event.get("artifact") or {}
            history.setdefault(str(artifact.get("artifactKey")), []).append(
                f"v{artifact.get('version')} written {clock_time(str(artifact.get('createdAt', '')))}"
            )
        elif event.get("type") == "artifact_patch":
            history.setdefault(str(event.get("artifactKey")), []).append(
                f"v{event.get('toVersion')} patched {clock_time(str(event.get('ts', '')))}"
            )
    cards = []
    for key, artifact in state["artifactsByKey"]:
        data = _preview(artifact["data"]) if "data" in artifact else "(external: data held by reference)"
        cards.append(
            _Artifact(
                str(key), str(artifact.get("version")), str(artifact.get("typeId", "")), history.get(key, []), data
            )
        )
    return cards


# --- the page ------------------------------------------------------------------------------------------------


FOOTER_LINKS = [
    ("agents.md", "/agents.md"),
    ("llms.txt", "/llms.txt"),
    ("OpenAPI", "/api/openapi.json"),
    ("MCP descriptor", "/.well-known/mcp.json"),
]


def render_run_page(state: dict[str, Any], integrity: Integrity) -> str:
    """The whole HTML document for one serialized run state (docs/protocol.md 4.2)."""
    run = state["run"]
    workflow = run["workflowSnapshot"]
    steps: list[dict[str, Any]] = workflow.get("steps", [])
    edges: list[dict[str, Any]] = workflow.get("edges", [])
    return render(
        "demo_run.html",
        title=workflow.get("title") or workflow.get("id"),
        run=run,
        workflow=workflow,
        revision=state["revision"],
        trace=state["trace"],
        artifact_count=len(state["artifactsByKey"]),
        integrity=integrity,
        status_class=_STATUS_CLASS,
        graph=_graph(steps, edges, state),
        decisions=[e for e in state["trace"] if e.get("type") == "human_gate_resolved"],
        timeline=_timeline(state["trace"]),
        artifacts=_artifacts(state),
        links=FOOTER_LINKS,
    )


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
                _, sealed = await service.bundles.export_stored_bundle(DEMO_PRINCIPAL, run_id)
                self._built = (run_id, str(sealed["integrity"]["sha256"]))
        run_id, sealed_hash = self._built
        state, bundle = await service.bundles.export_stored_bundle(DEMO_PRINCIPAL, run_id)
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
