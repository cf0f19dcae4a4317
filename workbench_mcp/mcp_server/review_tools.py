"""request_review (README "Human review"): the agent asks, reviewers are notified; the result holds no link."""

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from workbench_mcp import results as o
from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.tool_spec import ToolFn, ToolSpec
from workbench_mcp.review.service import ReviewService

# Each subject's length and their number are checked by the service (INVALID_INPUT), not advertised: tools/list
# size budget.
Reviewers = Annotated[list[str], Field(description="Default: the policy's approvers")]


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
        "Request a review",
        "Notify reviewers to decide a gate awaiting review (each gets a link, never shown here); returns who and "
        "until when. Then wait_for_decision.",
        read_only=False,
        build_review=_request_review,
        idempotent=False,
        destructive=False,
    ),
]
