"""ReviewService: review requests delivered to reviewers, never to the agent (README "Human review").

`request_review` records the protocol's `human_gate_requested` (through RunService.request_gate, unless the gate
is already requested since its last decision), stores one request per reviewer and hands each reviewer's notice,
link included, to the notifier. Its result says who was notified and until when, and never holds a link: the
agent that asked cannot answer its own request.

`decide_by_link` records the decision as the reviewer (tenant = the link's, subject = the reviewer, scopes of a
reviewer: read and gates:approve) under channel `link`, and marks the link used in the SAME transaction as the
decision (RunService.resolve_gate's `claim`): a crash leaves neither a used link without its decision nor a
decision with a link still usable. The run's approval policy applies as to any decision. A decision the policy
refuses (NOT_AUTHORIZED, INSUFFICIENT_SCOPE) changes nothing, like every refusal: the transaction rolls back,
the link stays unused (it keeps answering that reviewer with the same refusal) and a `denied` record names the
reviewer, with tool `link`. So does a decision the gate no longer accepts (GATE_NOT_APPLICABLE).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from workbench_mcp import results
from workbench_mcp.engine import gates, readiness
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.governance import policy
from workbench_mcp.principal import Principal
from workbench_mcp.review.links import LinkClaims, LinkSigner
from workbench_mcp.review.notice import NoNotifier, ReviewNotice, ReviewNotifier
from workbench_mcp.scopes import APPROVE, READ
from workbench_mcp.service import RunService
from workbench_mcp.store.run_store import (
    GovernanceRecord,
    ReviewRequest,
    RunTransaction,
    StoredGovernanceRecord,
)

logger = logging.getLogger(__name__)
DEFAULT_TTL_SECONDS = 72 * 3600
"""How long a review link works unless the service is told otherwise (`review-link --ttl`)."""
MAX_TTL_SECONDS = 30 * 24 * 3600
MAX_REVIEWERS = 16
MAX_SUBJECT_CHARS = 256
MAX_TEXT_CHARS = 10_000
"""A note or reason, as the MCP tools bound them."""
REVIEWER_SCOPES: frozenset[str] = frozenset((READ, APPROVE))
"""What a link lets its reviewer do: read the run and decide the one gate it names (a policy rule that demands
another scope, e.g. runs:admin, refuses link decisions)."""
DECISIONS = ("approved", "rejected", "edited")
REVIEW_REQUESTED = "review_requested"
"""The governance record of a review request (audit_log): who asked, of whom, until when."""
CHANNEL = "link"


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """What a valid, unused review link is about: the page renders it (and reads the run as `principal`)."""

    tenant_id: str
    run_id: str
    step_id: str
    gate: str
    reviewer: str
    request_id: str
    reason: str | None
    requested_by: str
    created_at: str
    expires_at: str

    @property
    def principal(self) -> Principal:
        """The reviewer, as every read and the decision of this link are made."""
        return Principal(self.tenant_id, self.reviewer, REVIEWER_SCOPES)


@dataclass(frozen=True, slots=True)
class MintedRequest:
    """One stored request: its rows and, per reviewer, the link (never returned to the agent)."""

    request_id: str
    workflow_id: str
    expires_at: str
    links: dict[str, str]
    gate_requested: bool
    """True when this request recorded the gate's `human_gate_requested` (it was not requested yet)."""
    revision: int


def _utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The protocol's timestamp format (milliseconds, Z)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ReviewService:
    def __init__(
        self,
        runs: RunService,
        signer: LinkSigner,
        notifier: ReviewNotifier | None = None,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.runs = runs
        self.signer = signer
        self.notifier: ReviewNotifier = notifier or NoNotifier()
        self.ttl_seconds = ttl_seconds
        self._now = now  # its own clock: the engine's (deterministic in tests) must not be advanced by reviews
        self._store = runs.store

    # --- requests ------------------------------------------------------------------------------------

    async def request_review(
        self,
        who: Principal,
        run_id: str,
        *,
        step_id: str,
        gate: str,
        reason: str | None = None,
        reviewers: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> results.ReviewRequested:
        """Ask the reviewers (default: the subjects the run's policy allows for this gate) to decide the gate;
        each gets a notice with a link of their own. The result never contains a link."""
        minted = await self.mint(
            who, run_id, step_id=step_id, gate=gate, reason=reason, reviewers=reviewers, correlation_id=correlation_id
        )
        notified: list[str] = []
        for reviewer, link in minted.links.items():
            notice = ReviewNotice(
                request_id=minted.request_id,
                tenant_id=who.tenant_id,
                run_id=run_id,
                workflow_id=minted.workflow_id,
                step_id=step_id,
                gate=gate,
                reason=reason,
                reviewer=reviewer,
                link=link,
                expires_at=minted.expires_at,
            )
            try:
                await self.notifier.notify(notice)
                notified.append(reviewer)
            except Exception as exc:
                # A notifier only enqueues and never raises (notice.py); one that does must not fail the request,
                # which is stored already, nor keep the other reviewers from their notices.
                logger.error("review notice %s for %s not handed over: %r", minted.request_id, reviewer, exc)
        return results.ReviewRequested(
            ok=True,
            runId=run_id,
            stepId=step_id,
            gate=gate,
            requestId=minted.request_id,
            notified=notified,
            expiresAt=minted.expires_at,
            gateRequested=minted.gate_requested,
            revision=minted.revision,
        )

    async def mint(
        self,
        who: Principal,
        run_id: str,
        *,
        step_id: str,
        gate: str,
        reason: str | None = None,
        reviewers: Sequence[str] | None = None,
        correlation_id: str | None = None,
        ttl_seconds: int | None = None,
    ) -> MintedRequest:
        """Store one request per reviewer and return their links (request_review notifies them; the
        `review-link` command prints one for an operator). Checks first, so a refused call changes nothing:
        the gate must be awaiting a decision (GATE_NOT_APPLICABLE otherwise) and someone must be asked."""
        _check_text(reason, "reason")
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        if not 0 < ttl <= MAX_TTL_SECONDS:
            raise WorkbenchError(ErrorCode.INVALID_INPUT, f"a review link lives 1 s to {MAX_TTL_SECONDS} s, not {ttl}")
        asked = _reviewers(reviewers)
        state, trace = await self._store.load_run(who.tenant_id, run_id)
        _require_pending(state, step_id, gate)
        if not asked:
            asked = _policy_subjects(await self._store.governance_log(who.tenant_id, run_id), step_id, gate)
        requested_now = not gates.requested_since_decision(trace, step_id, gate)
        if requested_now:
            await self.runs.request_gate(
                who, run_id, step_id=step_id, gate=gate, reason=reason, correlation_id=correlation_id
            )
        now = self._now()
        expires = now + timedelta(seconds=ttl)
        request_id = f"rr_{secrets.token_hex(16)}"
        rows = [
            ReviewRequest(
                request_id=request_id,
                reviewer=reviewer,
                run_id=run_id,
                step_id=step_id,
                gate=gate,
                reason=reason,
                requested_by=who.subject,
                created_at=iso(now),
                expires_at=iso(expires),
            )
            for reviewer in asked
        ]
        detail: dict[str, Any] = {
            "stepId": step_id,
            "gate": gate,
            "requestId": request_id,
            "reviewers": asked,
            "expiresAt": iso(expires),
        }
        async with self._store.run_transaction(who.tenant_id, run_id) as tx:
            _require_pending(tx.state, step_id, gate)  # still, now that no other writer can change it
            tx.add_review_requests(rows)
            tx.add_governance(GovernanceRecord(REVIEW_REQUESTED, who.subject, "request_review", detail, correlation_id))
            revision = tx.state.revision
            workflow_id = tx.state.run.workflow_id
        links = {
            reviewer: self.signer.url(
                self.signer.mint(
                    LinkClaims(who.tenant_id, run_id, step_id, gate, reviewer, request_id, int(expires.timestamp()))
                )
            )
            for reviewer in asked
        }
        return MintedRequest(request_id, workflow_id, iso(expires), links, requested_now, revision)

    # --- links ---------------------------------------------------------------------------------------

    async def open_link(self, token: str) -> ReviewContext:
        """What the link is about, without using it: REVIEW_LINK_INVALID (not ours, changed, or its run is gone),
        REVIEW_LINK_EXPIRED, REVIEW_LINK_USED."""
        claims = self.signer.verify(token, now=self._now().timestamp())
        row = await self._store.review_request(claims.tenant_id, claims.request_id, claims.reviewer)
        if row is None or (row.run_id, row.step_id, row.gate) != (claims.run_id, claims.step_id, claims.gate):
            # A genuine token whose request is gone: its run was deleted (the rows go with it).
            raise WorkbenchError(ErrorCode.REVIEW_LINK_INVALID, "this review link's run no longer exists")
        if row.used_at is not None:
            raise _used(row)
        return ReviewContext(
            tenant_id=claims.tenant_id,
            run_id=row.run_id,
            step_id=row.step_id,
            gate=row.gate,
            reviewer=row.reviewer,
            request_id=row.request_id,
            reason=row.reason,
            requested_by=row.requested_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    async def decide_by_link(self, token: str, decision: str, note: str | None = None) -> dict[str, Any]:
        """Record the reviewer's decision and use the link, both or neither (module docstring)."""
        if decision not in DECISIONS:
            raise WorkbenchError(ErrorCode.INVALID_INPUT, f"decision must be one of {', '.join(DECISIONS)}")
        _check_text(note, "note")
        context = await self.open_link(token)
        used_at = iso(self._now())

        async def claim(tx: RunTransaction) -> None:
            if not await tx.use_review_request(context.request_id, context.reviewer, decision=decision, at=used_at):
                # Another decision through this link won the race since open_link looked.
                raise WorkbenchError(ErrorCode.REVIEW_LINK_USED, "this review link was already used")

        result = await self.runs.resolve_gate(
            context.principal,
            context.run_id,
            step_id=context.step_id,
            gate=context.gate,
            decision=decision,
            note=note,
            channel=CHANNEL,
            claim=claim,
        )
        return dict(result) | {"requestId": context.request_id, "reviewer": context.reviewer, "channel": CHANNEL}


def _check_text(text: str | None, what: str) -> None:
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"a {what} has at most {MAX_TEXT_CHARS} characters")


def _used(row: ReviewRequest) -> WorkbenchError:
    return WorkbenchError(
        ErrorCode.REVIEW_LINK_USED, f"this review link was already used (decision {row.decision}, at {row.used_at})"
    )


def _reviewers(given: Sequence[str] | None) -> list[str]:
    """Distinct subjects in the order given; INVALID_INPUT for an empty or oversized one, or too many."""
    if given is None:
        return []
    if isinstance(given, str):
        given = [given]
    asked: list[str] = []
    for subject in given:
        if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_CHARS:
            raise WorkbenchError(
                ErrorCode.INVALID_INPUT, f"a reviewer is a subject of 1 to {MAX_SUBJECT_CHARS} characters"
            )
        if not subject.isprintable():
            raise WorkbenchError(ErrorCode.INVALID_INPUT, "a reviewer subject may not contain control characters")
        if subject not in asked:
            asked.append(subject)
    if len(asked) > MAX_REVIEWERS:
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"at most {MAX_REVIEWERS} reviewers per request")
    return asked


def _policy_subjects(records: list[StoredGovernanceRecord], step_id: str, gate: str) -> list[str]:
    pin = policy.pinned(records)
    rule = None if pin is None else pin.rule(step_id, gate)
    if rule is None or rule.subjects is None:
        raise WorkbenchError(
            ErrorCode.INVALID_INPUT,
            f"no reviewers: name them in `reviewers` (the run's approval policy names no subjects for {gate} of "
            f"step {step_id})",
        )
    return list(rule.subjects)[:MAX_REVIEWERS]


def _require_pending(state: RunState, step_id: str, gate: str) -> None:
    """The gate resolve_gate would accept a decision on, and not decided yet: the same codes as resolve_gate."""
    gates.check_awaitable(state, step_id, gate)
    if {"stepId": step_id, "gate": gate} not in readiness.next_actions(state).pending_gates:
        raise WorkbenchError(
            ErrorCode.GATE_NOT_APPLICABLE, f"the {gate} gate of step {step_id} is already approved: nothing to review"
        )
