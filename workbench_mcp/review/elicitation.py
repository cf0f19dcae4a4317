"""Answers inside the MCP client (README "Human review"): what the human at the client is asked, in which form,
and how the answer maps to a gate decision. Pure functions over the serialized run; the MCP adapter
(mcp_server/review_tools.py) does the asking and records the decision through RunService.resolve_gate."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from workbench_mcp.errors import ErrorCode, WorkbenchError

CHANNEL = "elicitation"
"""The channel the audit rows name for a decision answered in the client."""

ANSWER_TO_DECISION: Mapping[str, str] = {"approve": "approved", "reject": "rejected", "edit": "edited"}
MAX_ARTIFACTS = 5
MAX_PREVIEW_CHARS = 160
MAX_REASON_CHARS = 500
MODERN_VERSION = "2026-07-28"
"""The first protocol revision that carries elicitation inside the tool call (input-required round trips)."""

ALTERNATIVES = (
    "request_review (reviewers answer through a signed review link), a client speaking MCP 2026-07-28 (it answers"
    " elicitation inside the tool call), or resolve_gate called by a reviewer's token"
)


class ReviewForm(BaseModel):
    """The form the client shows (elicitation form mode: flat primitive fields only)."""

    decision: Literal["approve", "reject", "edit"] = Field(
        description="approve, reject, or edit (approve with the changes described in the note)"
    )
    note: str | None = Field(None, max_length=10_000, description="Recorded with the decision")


@dataclass(frozen=True, slots=True)
class ArtifactLine:
    key: str
    version: int
    type_id: str
    preview: str


@dataclass(frozen=True, slots=True)
class ReviewSubject:
    """What the human is deciding on, as shown in the question."""

    run_id: str
    workflow_id: str
    workflow_title: str | None
    step_id: str
    gate: str
    revision: int
    reason: str | None
    artifacts: tuple[ArtifactLine, ...]
    more_artifacts: int


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _one_line(text: str, limit: int) -> str:
    """Agent-written text shown to a human: one line (no forged extra lines in the question), bounded."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _pairs(value: Any) -> list[tuple[Any, Any]]:
    return [(pair[0], pair[1]) for pair in value or () if isinstance(pair, list | tuple) and len(pair) == 2]


def latest_reason(trace: Sequence[Mapping[str, Any]], step_id: str, gate: str) -> str | None:
    """The reason of the step's latest review request for this gate, if it gave one."""
    reason: str | None = None
    for event in trace:
        if event.get("type") == "human_gate_requested" and event.get("stepId") == step_id and event.get("gate") == gate:
            given = event.get("reason")
            reason = given if isinstance(given, str) and given.strip() else None
    return reason


def review_subject(run: Mapping[str, Any], step_id: str, gate: str) -> ReviewSubject:
    """The summary of a serialized run (protocol 4.2 form) for a decision on `gate` of `step_id`.

    Artifacts: the step's own inputs and outputs first, then the most recently written; latest versions only."""
    meta: Mapping[str, Any] = run.get("run") or {}
    snapshot: Mapping[str, Any] = meta.get("workflowSnapshot") or {}
    step: Mapping[str, Any] = next((s for s in snapshot.get("steps") or () if s.get("id") == step_id), {})
    own = [*(step.get("inputs") or ()), *(step.get("outputs") or ())]
    latest = [value for _, value in _pairs(run.get("artifactsByKey")) if isinstance(value, Mapping)]
    latest.sort(key=lambda a: str(a.get("createdAt", "")), reverse=True)
    latest.sort(key=lambda a: a.get("artifactKey") not in own)  # stable: own first, each group newest first
    lines = tuple(
        ArtifactLine(
            key=_one_line(str(a.get("artifactKey", "")), 128),
            version=int(a.get("version", 0)),
            type_id=_one_line(str(a.get("typeId", "")), 128),
            preview=_one_line(json.dumps(a.get("data"), ensure_ascii=False, separators=(",", ":")), MAX_PREVIEW_CHARS),
        )
        for a in latest[:MAX_ARTIFACTS]
    )
    reason = latest_reason(run.get("trace") or (), step_id, gate)
    title = snapshot.get("title")
    return ReviewSubject(
        run_id=str(meta.get("id", "")),
        workflow_id=str(meta.get("workflowId", "")),
        workflow_title=_one_line(title, 200) if isinstance(title, str) and title.strip() else None,
        step_id=step_id,
        gate=gate,
        revision=int(run.get("revision", 0)),
        reason=None if reason is None else _one_line(reason, MAX_REASON_CHARS),
        artifacts=lines,
        more_artifacts=max(0, len(latest) - MAX_ARTIFACTS),
    )


def review_message(subject: ReviewSubject) -> str:
    """The question. It names the revision: a run that changes before the answer arrives is asked about again
    (the SDK re-asks a question whose wording changed) rather than approved unseen."""
    workflow = subject.workflow_id
    if subject.workflow_title:
        workflow = f"{subject.workflow_title} ({subject.workflow_id})"
    lines = [
        f"Review the {subject.gate} gate of step {subject.step_id}.",
        f"Run {subject.run_id}, workflow {workflow}, revision {subject.revision}.",
    ]
    if subject.reason:
        lines.append(f"Reason given: {subject.reason}")
    if subject.artifacts:
        lines.append("Latest artifacts:")
        lines += [f"- {a.key} v{a.version} ({a.type_id}): {a.preview}" for a in subject.artifacts]
        if subject.more_artifacts:
            lines.append(f"- and {subject.more_artifacts} more (get_run shows them)")
    else:
        lines.append("No artifacts yet.")
    lines.append("Answer approve, reject, or edit (approve with the changes described in the note).")
    return "\n".join(lines)


def gate_decision(form: ReviewForm) -> tuple[str, str | None]:
    """The resolve_gate decision and note an accepted form stands for."""
    note = form.note if form.note is not None and form.note.strip() else None
    return ANSWER_TO_DECISION[form.decision], note


def not_answered(run_id: str, step_id: str, gate: str, action: str, revision: int) -> dict[str, Any]:
    """The result of a declined or cancelled question: nothing was recorded, and the result says so."""
    said = "declined to answer" if action == "decline" else "cancelled the question"
    return {
        "ok": True,
        "runId": run_id,
        "stepId": step_id,
        "gate": gate,
        "answer": action,
        "changed": False,
        "revision": revision,
        "message": f"The user {said}: no decision was recorded and the gate is still under review.",
    }


def no_back_channel(protocol_version: str | None) -> WorkbenchError:
    version = protocol_version or "(unknown)"
    return WorkbenchError(
        ErrorCode.ELICITATION_UNAVAILABLE,
        f"This connection (MCP {version}, stateless HTTP) gives the server no way to ask the user mid-call,"
        f" and nothing was asked or recorded. Use {ALTERNATIVES}.",
    )


def no_form_capability() -> WorkbenchError:
    return WorkbenchError(
        ErrorCode.ELICITATION_UNAVAILABLE,
        "This client did not declare form elicitation, so its user cannot be asked; nothing was asked or recorded."
        f" Use {ALTERNATIVES}.",
    )


def revision_moved(run_id: str, expected: int, actual: int) -> WorkbenchError:
    """expectedRevision no longer holds: refused before anything is asked (the store's wording)."""
    return WorkbenchError(
        ErrorCode.REVISION_CONFLICT, f"run {run_id} is at revision {actual}, not the expected revision {expected}"
    )
