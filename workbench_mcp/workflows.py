"""The catalog of workflows a run can start from: the built-in reference workflow plus any loaded ones."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench_mcp.engine.lifecycle import parse_workflow
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.governance.policy import Governance, parse_governance
from workbench_mcp.protocol.reference_workflow import DEFAULT_RULE_SET, JOB_SEARCH_WORKFLOW
from workbench_mcp.protocol.rules import RuleSet
from workbench_mcp.protocol.validation import parse_model
from workbench_mcp.protocol.workflow import WorkflowSpec


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    workflow: WorkflowSpec
    rule_sets: tuple[RuleSet, ...] = ()
    governance: Governance | None = None
    """Approval policies and budget (README "Governance"); None keeps today's rules (the built-ins)."""


@dataclass
class WorkflowCatalog:
    entries: dict[str, CatalogEntry] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls) -> WorkflowCatalog:
        catalog = cls()
        catalog.add(JOB_SEARCH_WORKFLOW, [DEFAULT_RULE_SET])
        return catalog

    def add(self, workflow: Any, rule_sets: Iterable[Any] = (), governance: Any = None) -> CatalogEntry:
        spec = parse_workflow(workflow)
        sets = tuple(parse_model(RuleSet, rs, ErrorCode.INVALID_WORKFLOW, "ruleSets: ") for rs in rule_sets)
        policy = None if governance is None else parse_governance(governance, spec.id)
        if policy is not None and policy.approvals is not None:
            steps = {step.id for step in spec.steps}
            for step_id in policy.approvals.steps:
                if step_id not in steps:
                    raise WorkbenchError(
                        ErrorCode.INVALID_WORKFLOW, f"governance names no step of {spec.id}: {step_id}"
                    )
        entry = CatalogEntry(spec, sets, policy)
        self.entries[spec.id] = entry
        return entry

    def get(self, workflow_id: str) -> CatalogEntry:
        entry = self.entries.get(workflow_id)
        if entry is None:
            known = ", ".join(sorted(self.entries))
            raise WorkbenchError(ErrorCode.UNKNOWN_WORKFLOW, f"Unknown workflow: {workflow_id} (available: {known})")
        return entry

    def load_directory(self, directory: Path) -> None:
        """Each *.json file is a WorkflowSpec, or {"workflow": spec, "ruleSets": [...], "governance": {...}};
        errors name the file."""
        for path in sorted(directory.glob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(document, dict) and "workflow" in document:
                    self.add(document["workflow"], document.get("ruleSets", []), document.get("governance"))
                else:
                    self.add(document)
            except json.JSONDecodeError as exc:
                raise WorkbenchError(ErrorCode.INVALID_WORKFLOW, f"{path}: not valid JSON: {exc}") from None
            except WorkbenchError as exc:
                raise WorkbenchError(exc.code, f"{path}: {exc.message}") from None
