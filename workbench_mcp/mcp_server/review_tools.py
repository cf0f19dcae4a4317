"""request_review (README "Human review"): the agent asks, reviewers are notified; the result holds no link."""

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server import outputs as o
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.tool_spec import ToolFn, ToolSpec
from workbench_mcp.review.service import MAX_REVIEWERS, MAX_SUBJECT_CHARS, ReviewService

Reviewers = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_SUBJECT_CHARS)]],
    Field(min_length=1, max_length=MAX_REVIEWERS, description="Subjects to ask (default: the policy's approvers)"),
]


def _request_review(review: ReviewService) -> ToolFn:
    async def request_review(
        runId: a.RunId,
        stepId: a.StepId,
        gate: a.Gate,
        reason: a.Reason | None = None,
        reviewers: Reviewers | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.ReviewRequested]:
        result = await review.request_review(
            current_principal(),
            runId,
            step_id=stepId,
            gate=gate,
            reason=reason,
            reviewers=reviewers,
            correlation_id=correlationId,
        )
        return tool_result(result)

    return request_review


TOOLS = [
    ToolSpec(
        "request_review",
        Toolset.STEPS,
        "Ask reviewers to decide a gate",
        "Notify reviewers (each gets a link of their own, never shown here) to decide a gate awaiting review; "
        "returns who was notified and when the request expires. Then wait_for_decision.",
        read_only=False,
        build_review=_request_review,
        idempotent=False,
        destructive=False,
    ),
]
