"""The reference deployment's workflow, rule set and demo registry (docs/protocol.md section 9)."""

from __future__ import annotations

from typing import Any

JOB_SEARCH_WORKFLOW_ID = "jobSearchWorkflow"

JOB_SEARCH_WORKFLOW: dict[str, Any] = {
    "id": JOB_SEARCH_WORKFLOW_ID,
    "version": 1,
    "title": "Job search (reference)",
    "steps": [
        {
            "id": "parser1",
            "gatePolicy": "PAUSE_BEFORE",
            "inputs": ["parserInputs"],
            "outputs": ["compiledProfile"],
        },
        {
            "id": "jobSearcher",
            "gatePolicy": "PAUSE_AFTER",
            "inputs": ["compiledProfile"],
            "outputs": ["potentialJobs"],
        },
        {"id": "output", "gatePolicy": "AUTO", "inputs": ["potentialJobs"], "outputs": ["scoredResults"]},
    ],
    "edges": [
        {"id": "e1", "from": "parser1", "to": "jobSearcher"},
        {"id": "e2", "from": "jobSearcher", "to": "output"},
    ],
}

DEFAULT_RULE_SET: dict[str, Any] = {
    "id": "default",
    "ruleSchemaId": "demoJobRule",
    "rules": [
        {
            "id": "r1",
            "priority": 0,
            "enabled": True,
            "label": "Remote only",
            "payload": {"kind": "remote", "value": "true"},
        },
        {
            "id": "r2",
            "priority": 1,
            "enabled": True,
            "label": "Ban keyword: unpaid",
            "payload": {"kind": "keyword", "value": "unpaid"},
        },
    ],
}

DEMO_REDACTIONS: dict[str, list[str]] = {
    "parserInputs": ["/resumeText", "/profiles/0/url"],
    "compiledProfile": ["/summary"],
    "potentialJobs": ["/0/url", "/1/url"],
}
"""User-profile export redaction paths of the demo registry, by artifact typeId. A property of the demo:
the server's own exports pass no redactions (issue 10), so a tenant's `parserInputs` are not rewritten."""
