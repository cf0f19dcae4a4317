"""The pure parts of ask_user_to_review: the question, the form, and the answer -> decision mapping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from mcp.server.elicitation import render_elicitation_schema
from pydantic import ValidationError

from workbench_mcp.errors import ErrorCode
from workbench_mcp.review.elicitation import (
    MAX_ARTIFACTS,
    MAX_PREVIEW_CHARS,
    ReviewForm,
    gate_decision,
    latest_reason,
    no_back_channel,
    no_form_capability,
    not_answered,
    review_message,
    review_subject,
)


def artifact(key: str, version: int, created: str, data: Any = None) -> list[Any]:
    return [key, {"artifactKey": key, "typeId": f"{key}.v1", "version": version, "createdAt": created, "data": data}]


def serialized(artifacts: Sequence[list[Any]] = (), trace: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    steps = [{"id": "parser1", "gatePolicy": "PAUSE_BEFORE", "inputs": ["cv"], "outputs": ["profile"]}]
    return {
        "revision": 7,
        "run": {
            "id": "run_1",
            "workflowId": "jobSearchWorkflow",
            "workflowSnapshot": {"id": "jobSearchWorkflow", "title": "Job search", "steps": steps},
        },
        "artifactsByKey": list(artifacts),
        "trace": list(trace),
    }


def requested(reason: str | None, gate: str = "PAUSE_BEFORE") -> dict[str, Any]:
    event = {"type": "human_gate_requested", "stepId": "parser1", "gate": gate}
    return event if reason is None else {**event, "reason": reason}


def test_the_question_names_run_workflow_step_gate_revision_reason_and_artifacts() -> None:
    run = serialized([artifact("cv", 2, "2026-01-01T00:00:01Z", {"text": "Ten years"})], [requested("check it")])
    message = review_message(review_subject(run, "parser1", "PAUSE_BEFORE"))
    assert message.splitlines() == [
        "Review the PAUSE_BEFORE gate of step parser1.",
        "Run run_1, workflow Job search (jobSearchWorkflow), revision 7.",
        "Reason given: check it",
        "Latest artifacts:",
        '- cv v2 (cv.v1): {"text":"Ten years"}',
        "Answer approve, reject, or edit (approve with the changes described in the note).",
    ]


def test_the_steps_own_artifacts_come_first_then_the_newest_and_the_rest_are_counted() -> None:
    others = [artifact(f"a{i}", 1, f"2026-01-01T00:00:{10 + i}Z") for i in range(6)]
    run = serialized([artifact("cv", 1, "2026-01-01T00:00:00Z"), *others])
    subject = review_subject(run, "parser1", "PAUSE_BEFORE")
    assert [a.key for a in subject.artifacts] == ["cv", "a5", "a4", "a3", "a2"]
    assert len(subject.artifacts) == MAX_ARTIFACTS
    assert subject.more_artifacts == 2
    assert "- and 2 more (get_run shows them)" in review_message(subject)


def test_agent_written_text_stays_on_one_bounded_line() -> None:
    forged = "fine\nAnswer approve now.\r\x1b[2J" + "x" * 1000
    big = {"blob": "y" * 1000}
    run = serialized([artifact("cv\nline", 1, "t", big)], [requested(forged)])
    subject = review_subject(run, "parser1", "PAUSE_BEFORE")
    assert subject.reason is not None
    assert "\n" not in subject.reason
    assert "\x1b" not in subject.reason
    assert subject.reason.startswith("fine Answer approve now.")
    assert len(subject.reason) == 500
    assert len(subject.artifacts[0].preview) == MAX_PREVIEW_CHARS
    assert subject.artifacts[0].key == "cv line"
    lines = review_message(subject).splitlines()
    assert sum(line.startswith("Answer approve") for line in lines) == 1  # only the server's own


def test_the_latest_request_for_this_gate_gives_the_reason() -> None:
    trace = [requested("first"), requested("other gate", "PAUSE_AFTER"), requested("second"), requested(None)]
    assert latest_reason(trace[:3], "parser1", "PAUSE_BEFORE") == "second"
    assert latest_reason(trace, "parser1", "PAUSE_BEFORE") is None  # the latest request gave none
    assert review_subject(serialized(), "parser1", "PAUSE_BEFORE").reason is None
    assert "No artifacts yet." in review_message(review_subject(serialized(), "parser1", "PAUSE_BEFORE"))


@pytest.mark.parametrize(
    ("decision", "note", "expected"),
    [
        ("approve", None, ("approved", None)),
        ("reject", "no", ("rejected", "no")),
        ("edit", "trim", ("edited", "trim")),
        ("approve", "   ", ("approved", None)),  # a blank note records no note
    ],
)
def test_answers_map_to_gate_decisions(decision: str, note: str | None, expected: tuple[str, str | None]) -> None:
    assert gate_decision(ReviewForm.model_validate({"decision": decision, "note": note})) == expected


def test_the_form_is_a_valid_flat_elicitation_schema() -> None:
    schema = render_elicitation_schema(ReviewForm)  # raises for anything form mode cannot carry
    assert schema["required"] == ["decision"]
    assert schema["properties"]["decision"]["enum"] == ["approve", "reject", "edit"]
    assert schema["properties"]["note"]["type"] == "string"
    with pytest.raises(ValidationError):
        ReviewForm.model_validate({"decision": "approved"})


@pytest.mark.parametrize("action", ["decline", "cancel"])
def test_an_unanswered_question_says_nothing_was_recorded(action: str) -> None:
    result = not_answered("run_1", "parser1", "PAUSE_BEFORE", action, 7)
    assert (result["answer"], result["changed"], result["revision"]) == (action, False, 7)
    assert "no decision was recorded" in result["message"]


def test_unavailable_errors_name_the_alternatives() -> None:
    for error in (no_back_channel("2025-11-25"), no_form_capability()):
        assert error.code is ErrorCode.ELICITATION_UNAVAILABLE
        assert "request_review" in error.message
        assert "2026-07-28" in error.message
    assert "2025-11-25" in no_back_channel("2025-11-25").message
