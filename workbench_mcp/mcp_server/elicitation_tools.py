"""ask_user_to_review: a gate decision answered by the human at the MCP client (elicitation, form mode).

The SDK's `Resolve`/`Elicit` carries the question: on 2026-07-28 inside the tool call (input-required round
trips, which a stateless server answers on any worker), on 2025-11-25 as a mid-call `elicitation/create`,
which only a connection with a back-channel (stdio) can carry. Every other client gets ELICITATION_UNAVAILABLE
before anything is asked; the scope check (gates:approve) runs even earlier, in WorkbenchMCP.call_tool.
"""

from contextvars import ContextVar
from typing import Annotated, Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import CallToolResult, ClientCapabilities
from mcp_types.version import is_version_at_least

from workbench_mcp import results as o
from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset
from workbench_mcp.errors import WorkbenchError
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.tool_spec import ToolFn, ToolSpec
from workbench_mcp.review.elicitation import (
    CHANNEL,
    MODERN_VERSION,
    ReviewForm,
    gate_decision,
    no_back_channel,
    no_form_capability,
    not_answered,
    review_message,
    review_subject,
    revision_moved,
)
from workbench_mcp.service import RunService

_shown_revision: ContextVar[int | None] = ContextVar("review_shown_revision", default=None)
"""The revision the question showed, handed from the resolver to the tool body (same task, same call): the
decision is recorded only if the run is still at it, so nobody approves a state they did not see."""


def elicitation_refusal(
    protocol_version: str | None, can_send_request: bool, capabilities: ClientCapabilities | None
) -> WorkbenchError | None:
    """ELICITATION_UNAVAILABLE unless a request like this can carry a form question to the user, else None.

    Checked before the SDK would: its own checks answer a missing capability with a JSON-RPC error and a missing
    back-channel with NoBackChannelError (an INTERNAL_ERROR result), and agents need a tool error."""
    in_call = protocol_version is not None and is_version_at_least(protocol_version, MODERN_VERSION)
    if not in_call and not can_send_request:
        return no_back_channel(protocol_version)
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare `elicitation: {}` (the shape before modes existed) means form support, as in the SDK.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return no_form_capability()
    return None


def _ask_user_to_review(service: RunService) -> ToolFn:
    async def ask_reviewer(
        ctx: Context[Any, Any], runId: str, stepId: str, gate: str, expectedRevision: int | None
    ) -> Elicit[ReviewForm]:
        refusal = elicitation_refusal(ctx.protocol_version, ctx.session.can_send_request, ctx.client_capabilities)
        if refusal is not None:
            raise refusal
        run = await service.reads.gate_for_review(current_principal(), runId, step_id=stepId, gate=gate)
        subject = review_subject(run, stepId, gate)
        if expectedRevision is not None and expectedRevision != subject.revision:
            raise revision_moved(runId, expectedRevision, subject.revision)
        _shown_revision.set(subject.revision)
        return Elicit(review_message(subject), ReviewForm)

    async def ask_user_to_review(
        runId: a.RunId,
        stepId: a.StepId,
        gate: a.Gate,
        answer: Annotated[ElicitationResult[ReviewForm], Resolve(ask_reviewer)],
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.ReviewAnswered]:
        shown = _shown_revision.get()
        if not isinstance(answer, AcceptedElicitation):
            return tool_result(not_answered(runId, stepId, gate, answer.action, shown or 0))
        decision, note = gate_decision(answer.data)
        result = await service.resolve_gate(
            current_principal(),
            runId,
            step_id=stepId,
            gate=gate,
            decision=decision,
            note=note,
            expected_revision=shown,
            correlation_id=correlationId,
            channel=CHANNEL,
        )
        return tool_result({**result, "answer": "accept"})

    return ask_user_to_review


TOOLS = [
    ToolSpec(
        "ask_user_to_review",
        Toolset.STEPS,
        "Ask the user to review a gate",
        "Ask the user at this client (MCP elicitation) to approve, reject or edit a gate under review; their answer is "
        "recorded as their decision, decline records nothing. Errors: ELICITATION_UNAVAILABLE (client cannot be "
        "asked), GATE_NOT_APPLICABLE.",
        read_only=False,
        build=_ask_user_to_review,
        idempotent=False,
        destructive=False,
        asks_user=True,
    ),
]
