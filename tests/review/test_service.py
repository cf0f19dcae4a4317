"""ReviewService: review requests reach reviewers only; a link decides once, as its reviewer, under the policy."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.review.conftest import AGENT, BASE_URL, PLAIN, TENANT, KeptNotices, MovableNow, start, token_of
from workbench_mcp.commands import BeginStep
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.review.links import LinkSigner
from workbench_mcp.review.notice import ReviewNotice
from workbench_mcp.review.service import ReviewService
from workbench_mcp.service import RunService


async def _refused(code: ErrorCode, call: Any) -> WorkbenchError:
    with pytest.raises(WorkbenchError) as caught:
        await call
    assert caught.value.code is code, caught.value
    return caught.value


async def _records(runs: RunService, run_id: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = (await runs.reads.audit_log(AGENT, run_id))["records"]
    return records


async def test_request_review_notifies_each_reviewer_and_returns_no_link(
    runs: RunService, review: ReviewService, kept: KeptNotices
) -> None:
    run_id = await start(runs)

    result = await review.request_review(
        AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reason="tone", reviewers=["bob", "carol", "bob"]
    )

    assert result["notified"] == ["bob", "carol"]
    assert result["expiresAt"] == "2026-03-04T12:00:00.000Z"
    assert result["gateRequested"] is True
    assert [(n.reviewer, n.step_id, n.gate, n.reason, n.tenant_id) for n in kept.notices] == [
        ("bob", "draft", "PAUSE_BEFORE", "tone", TENANT),
        ("carol", "draft", "PAUSE_BEFORE", "tone", TENANT),
    ]
    text = json.dumps(result.wire())
    for notice in kept.notices:
        assert token_of(notice.link) not in text
    assert "/review/" not in text
    trace = (await runs.reads.get_run(AGENT, run_id))["trace"]
    assert [(e["type"], e.get("reason")) for e in trace if e["type"] == "human_gate_requested"] == [
        ("human_gate_requested", "tone")
    ]
    requested = [r for r in await _records(runs, run_id) if r["kind"] == "review_requested"]
    assert [(r["principal"], r["detail"]["reviewers"]) for r in requested] == [("agent_7", ["bob", "carol"])]


async def test_the_gate_is_requested_once_while_it_waits(runs: RunService, review: ReviewService) -> None:
    run_id = await start(runs)
    first = await review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=["bob"])
    second = await review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=["alice"])

    assert (first["gateRequested"], second["gateRequested"]) == (True, False)
    trace = (await runs.reads.get_run(AGENT, run_id))["trace"]
    assert sum(e["type"] == "human_gate_requested" for e in trace) == 1


async def test_reviewers_default_to_the_subjects_the_policy_allows(
    runs: RunService, review: ReviewService, kept: KeptNotices
) -> None:
    run_id = await start(runs)
    result = await review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE")
    assert result["notified"] == ["alice", "bob"]
    assert [n.reviewer for n in kept.notices] == ["alice", "bob"]


async def test_no_reviewers_anywhere_is_a_clear_error_that_changes_nothing(
    runs: RunService, review: ReviewService, kept: KeptNotices
) -> None:
    run_id = await start(runs, PLAIN)
    before = await runs.reads.get_run(AGENT, run_id)

    error = await _refused(
        ErrorCode.INVALID_INPUT, review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE")
    )

    assert "reviewers" in error.message
    assert await runs.reads.get_run(AGENT, run_id) == before
    assert kept.notices == []
    assert await runs.store.review_requests(TENANT, run_id) == []


@pytest.mark.parametrize(
    ("step_id", "gate", "code"),
    [
        ("draft", "PAUSE_AFTER", ErrorCode.GATE_NOT_APPLICABLE),
        ("nope", "PAUSE_BEFORE", ErrorCode.UNKNOWN_STEP),
        ("draft", "CHECKPOINT", ErrorCode.GATE_NOT_APPLICABLE),
    ],
)
async def test_a_gate_not_awaiting_review_is_refused(
    runs: RunService, review: ReviewService, step_id: str, gate: str, code: ErrorCode
) -> None:
    run_id = await start(runs)
    before = await runs.reads.get_run(AGENT, run_id)
    await _refused(code, review.request_review(AGENT, run_id, step_id=step_id, gate=gate, reviewers=["bob"]))
    assert await runs.reads.get_run(AGENT, run_id) == before


async def test_an_approved_gate_has_nothing_to_review(runs: RunService, review: ReviewService) -> None:
    run_id = await start(runs, PLAIN)
    await runs.resolve_gate(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", decision="approved")
    await _refused(
        ErrorCode.GATE_NOT_APPLICABLE,
        review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=["bob"]),
    )


@pytest.mark.parametrize("reviewers", [[""], ["x" * 257], ["a\nb"], [f"r{i}" for i in range(17)]])
async def test_bad_reviewer_lists_are_invalid_input(
    runs: RunService, review: ReviewService, reviewers: list[str]
) -> None:
    run_id = await start(runs)
    await _refused(
        ErrorCode.INVALID_INPUT,
        review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=reviewers),
    )


async def test_another_tenants_run_looks_missing(runs: RunService, review: ReviewService) -> None:
    run_id = await start(runs)
    other = AGENT.__class__("org_other", "agent_7", AGENT.scopes)
    error = await _refused(
        ErrorCode.UNKNOWN_RUN,
        review.request_review(other, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=["bob"]),
    )
    missing = await _refused(
        ErrorCode.UNKNOWN_RUN,
        review.request_review(other, "run_missing", step_id="draft", gate="PAUSE_BEFORE", reviewers=["bob"]),
    )
    assert error.message.replace(run_id, "<id>") == missing.message.replace("run_missing", "<id>")


# --- links ---------------------------------------------------------------------------------------------


async def _link(runs: RunService, review: ReviewService, kept: KeptNotices, reviewer: str = "bob") -> tuple[str, str]:
    run_id = await start(runs)
    await review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=[reviewer])
    return run_id, token_of(kept.notices[-1].link)


async def test_open_link_says_what_is_decided_without_using_it(
    runs: RunService, review: ReviewService, kept: KeptNotices
) -> None:
    run_id, token = await _link(runs, review, kept)

    context = await review.open_link(token)
    again = await review.open_link(token)

    assert context == again
    assert (context.tenant_id, context.run_id, context.step_id, context.gate, context.reviewer) == (
        TENANT, run_id, "draft", "PAUSE_BEFORE", "bob",
    )  # fmt: skip
    assert (context.requested_by, context.expires_at) == ("agent_7", "2026-03-04T12:00:00.000Z")
    assert context.principal.subject == "bob"
    assert "gates:approve" in context.principal.scopes


async def test_a_link_decides_once_as_its_reviewer_through_channel_link(
    runs: RunService, review: ReviewService, kept: KeptNotices
) -> None:
    run_id, token = await _link(runs, review, kept)

    result = await review.decide_by_link(token, "approved", "looks right")

    assert (result["changed"], result["reviewer"], result["channel"]) == (True, "bob", "link")
    waited = await runs.reads.wait_for_decision(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", timeout_seconds=0)
    assert (waited["decision"], waited["principal"], waited["channel"], waited["note"]) == (
        "approved", "bob", "link", "approved by bob: looks right",
    )  # fmt: skip
    mutations = [r for r in await _records(runs, run_id) if r["kind"] == "mutation"]
    assert (mutations[-1]["principal"], mutations[-1]["tool"]) == ("bob", "link")
    revision = (await runs.reads.get_run(AGENT, run_id))["revision"]

    await _refused(ErrorCode.REVIEW_LINK_USED, review.decide_by_link(token, "rejected"))
    await _refused(ErrorCode.REVIEW_LINK_USED, review.open_link(token))
    assert (await runs.reads.get_run(AGENT, run_id))["revision"] == revision
    row = await runs.store.review_request(TENANT, result["requestId"], "bob")
    assert row is not None
    assert (row.decision, row.used_at) == ("approved", "2026-03-01T12:00:00.000Z")


async def test_two_decisions_racing_on_one_link_record_one(
    runs: RunService, review: ReviewService, kept: KeptNotices
) -> None:
    run_id, token = await _link(runs, review, kept)

    outcomes = await asyncio.gather(
        review.decide_by_link(token, "rejected"), review.decide_by_link(token, "approved"), return_exceptions=True
    )

    errors = [o for o in outcomes if isinstance(o, WorkbenchError)]
    assert [e.code for e in errors] == [ErrorCode.REVIEW_LINK_USED]
    trace = (await runs.reads.get_run(AGENT, run_id))["trace"]
    assert sum(e["type"] == "human_gate_resolved" for e in trace) == 1


async def test_a_reviewer_the_policy_refuses_gets_its_code_a_denial_and_an_unused_link(
    runs: RunService, review: ReviewService, kept: KeptNotices
) -> None:
    """A refused decision changes nothing: the link stays unused (and keeps getting the same refusal)."""
    run_id, token = await _link(runs, review, kept, reviewer="mallory")
    before = await runs.reads.get_run(AGENT, run_id)

    await _refused(ErrorCode.NOT_AUTHORIZED, review.decide_by_link(token, "approved"))

    assert await runs.reads.get_run(AGENT, run_id) == before
    denied = [r for r in await _records(runs, run_id) if r["kind"] == "denied"]
    assert [(r["principal"], r["tool"], r["detail"]["code"]) for r in denied] == [("mallory", "link", "NOT_AUTHORIZED")]
    assert (await review.open_link(token)).reviewer == "mallory"
    await _refused(ErrorCode.NOT_AUTHORIZED, review.decide_by_link(token, "rejected"))


async def test_a_decision_the_gate_no_longer_takes_leaves_the_link_unused(
    runs: RunService, review: ReviewService, kept: KeptNotices
) -> None:
    run_id, token = await _link(runs, review, kept)
    await runs.resolve_gate(
        AGENT.__class__(TENANT, "alice"), run_id, step_id="draft", gate="PAUSE_BEFORE", decision="approved"
    )
    await runs.execute(AGENT, run_id, BeginStep(step_id="draft"))

    await _refused(ErrorCode.GATE_NOT_APPLICABLE, review.decide_by_link(token, "rejected"))

    assert (await review.open_link(token)).reviewer == "bob"


async def test_expired_tampered_and_orphaned_links_fail_with_their_codes(
    runs: RunService, review: ReviewService, kept: KeptNotices, now: MovableNow
) -> None:
    run_id, token = await _link(runs, review, kept)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]

    await _refused(ErrorCode.REVIEW_LINK_INVALID, review.open_link(flipped))
    await _refused(ErrorCode.REVIEW_LINK_INVALID, review.decide_by_link(flipped, "approved"))
    await _refused(ErrorCode.REVIEW_LINK_INVALID, review.open_link("not-a-token"))
    await _refused(ErrorCode.INVALID_INPUT, review.decide_by_link(token, "maybe"))
    await _refused(ErrorCode.INVALID_INPUT, review.decide_by_link(token, "approved", "x" * 10_001))

    now.advance(72 * 3600)
    await _refused(ErrorCode.REVIEW_LINK_EXPIRED, review.open_link(token))
    await _refused(ErrorCode.REVIEW_LINK_EXPIRED, review.decide_by_link(token, "approved"))
    now.advance(-72 * 3600)

    assert await runs.delete_run(AGENT, run_id)
    await _refused(ErrorCode.REVIEW_LINK_INVALID, review.open_link(token))


async def test_a_link_minted_by_another_key_is_invalid(
    runs: RunService, review: ReviewService, kept: KeptNotices, now: MovableNow
) -> None:
    _, token = await _link(runs, review, kept)
    stranger = ReviewService(runs, LinkSigner.ephemeral(BASE_URL), kept, now=now)
    await _refused(ErrorCode.REVIEW_LINK_INVALID, stranger.open_link(token))


async def test_next_actions_says_of_whom_a_review_was_requested_and_until_when(
    runs: RunService, review: ReviewService, kept: KeptNotices, now: MovableNow
) -> None:
    run_id = await start(runs)
    before = (await runs.reads.next_actions(AGENT, run_id))["pendingGates"]
    await review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=["carol"])
    now.advance(60)
    await review.request_review(AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=["bob", "mallory"])
    await _refused(ErrorCode.NOT_AUTHORIZED, review.decide_by_link(token_of(kept.notices[-1].link), "approved"))
    await review.decide_by_link(token_of(kept.notices[-2].link), "rejected")

    pending = (await runs.reads.next_actions(AGENT, run_id))["pendingGates"]

    assert before == [{"stepId": "draft", "gate": "PAUSE_BEFORE"}]
    assert pending == [
        {
            "stepId": "draft",
            "gate": "PAUSE_BEFORE",
            "review": {
                "requestedAt": "2026-03-01T12:01:00.000Z",
                "expiresAt": "2026-03-04T12:01:00.000Z",
                "reviewers": ["bob", "mallory"],
                "answered": ["bob"],
            },
        }
    ]


class _BrokenForCarol:
    """A notifier that breaks its promise never to raise, for one reviewer."""

    def __init__(self) -> None:
        self.delivered: list[str] = []

    async def notify(self, notice: ReviewNotice) -> None:
        if notice.reviewer == "carol":
            raise OSError("queue full")
        self.delivered.append(notice.reviewer)


async def test_a_failing_notifier_neither_fails_the_request_nor_skips_other_reviewers(
    runs: RunService, now: MovableNow
) -> None:
    notifier = _BrokenForCarol()
    review = ReviewService(runs, LinkSigner.ephemeral(BASE_URL), notifier, now=now)
    run_id = await start(runs)

    result = await review.request_review(
        AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=["carol", "bob"]
    )

    assert result["notified"] == notifier.delivered == ["bob"]
    assert [r.reviewer for r in await runs.store.review_requests(TENANT, run_id)] == ["bob", "carol"]
