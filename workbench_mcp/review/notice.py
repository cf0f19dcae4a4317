"""What a review request tells a reviewer, and the interface every delivery channel implements.

The notice carries the review link, so it goes to reviewers only (a webhook configured by the operator),
never back to the agent that asked for the review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ReviewNotice:
    """One reviewer's copy of one review request."""

    request_id: str
    tenant_id: str
    run_id: str
    workflow_id: str
    step_id: str
    gate: str
    reason: str | None
    reviewer: str
    link: str
    expires_at: str
    """ISO-8601 UTC, the protocol's timestamp format."""


class ReviewNotifier(Protocol):
    """Delivers notices. `notify` only enqueues: it never blocks the run on a slow or failing receiver,
    and never raises for a delivery problem (delivery attempts are recorded by the implementation)."""

    async def notify(self, notice: ReviewNotice) -> None: ...


class NoNotifier:
    """No webhook configured: operators mint links with `workbench-mcp review-link`."""

    async def notify(self, notice: ReviewNotice) -> None:
        return None
