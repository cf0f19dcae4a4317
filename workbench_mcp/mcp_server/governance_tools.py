"""Governance tools: a run's audit log (mutations and refusals) and, for reviewers, budget raises."""

# No `from __future__ import annotations` in tool modules (run_tools.py says why).

from typing import Annotated

from mcp.types import CallToolResult

from workbench_mcp.auth import current_principal
from workbench_mcp.config import Toolset
from workbench_mcp.mcp_server import arguments as a
from workbench_mcp.mcp_server import outputs as o
from workbench_mcp.mcp_server.tool_errors import tool_result
from workbench_mcp.mcp_server.tool_spec import ToolFn, ToolSpec, read_tool
from workbench_mcp.service import RunService


def _audit_log(service: RunService) -> ToolFn:
    async def audit_log(runId: a.RunId) -> Annotated[CallToolResult, o.AuditLog]:
        return tool_result(await service.audit_log(current_principal(), runId))

    return audit_log


def _raise_budget(service: RunService) -> ToolFn:
    async def raise_budget(
        runId: a.RunId,
        budget: a.BudgetLimits,
        note: a.Note,
        expectedRevision: a.ExpectedRevision | None = None,
        correlationId: a.CorrelationId | None = None,
    ) -> Annotated[CallToolResult, o.BudgetRaised]:
        result = await service.raise_budget(
            current_principal(),
            runId,
            budget_limits=budget,
            note=note,
            expected_revision=expectedRevision,
            correlation_id=correlationId,
        )
        return tool_result(result)

    return raise_budget


TOOLS: list[ToolSpec] = [
    read_tool(
        "audit_log",
        "Audit log",
        "The run's audit records, oldest first: {records: [{kind, at, principal, tool, correlationId?, eventId?,"
        " detail?}]}; kind mutation (one per trace event) or denied, approval, rejection, budget_raised, policy,"
        " webhook_delivery.",
        _audit_log,
    ),
    ToolSpec(
        "raise_budget",
        Toolset.STEPS,
        "Raise a run's budget",
        "Raise the run's budget limits (each only up; others stay); audited with the note. Then work that"
        " BUDGET_EXCEEDED refused can go on.",
        read_only=False,
        build=_raise_budget,
    ),
]
