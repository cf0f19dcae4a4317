"""Valid arguments for every run-scoped tool (given a run id), for the tenancy and bad-input matrices."""

from __future__ import annotations

from typing import Any

RULE_SET = {
    "id": "default",
    "ruleSchemaId": "demoJobRule",
    "rules": [{"id": "r1", "priority": 0, "enabled": True, "payload": {"kind": "remote", "value": "true"}}],
}


def run_scoped_calls(run_id: str) -> dict[str, dict[str, Any]]:
    """Each tool that names a run, with arguments that would succeed on a fresh jobSearchWorkflow run (or
    on the right state for it), so only the run's ownership decides the outcome."""
    return {
        "get_run": {"runId": run_id},
        "next_actions": {"runId": run_id},
        "export_bundle": {"runId": run_id},
        "audit_log": {"runId": run_id},
        "resolve_gate": {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE", "decision": "approved"},
        "write_artifact": {"runId": run_id, "artifactKey": "k", "typeId": "t", "data": {"x": 1}},
        "begin_step": {"runId": run_id, "stepId": "parser1"},
        "complete_step": {"runId": run_id, "stepId": "parser1"},
        "fail_step": {"runId": run_id, "stepId": "parser1", "message": "boom"},
        "request_gate": {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE"},
        "request_review": {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE", "reviewers": ["bob"]},
        "ask_user_to_review": {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE"},
        "wait_for_decision": {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE", "timeoutSeconds": 0},
        "resolve_checkpoint": {"runId": run_id, "stepId": "parser1", "checkpointId": "cp", "decision": "approved"},
        "complete_run": {"runId": run_id},
        "cancel_run": {"runId": run_id},
        "fail_run": {"runId": run_id, "message": "boom"},
        "log_model_io": {"runId": run_id, "direction": "request"},
        "log_tool_call": {"runId": run_id, "name": "search"},
        "annotate": {"runId": run_id, "text": "hello"},
        "patch_artifact": {"runId": run_id, "artifactKey": "k", "patch": [{"op": "add", "path": "/y", "value": 2}]},
        "replace_rule_set": {"runId": run_id, "ruleSet": RULE_SET},
        "raise_budget": {"runId": run_id, "budget": {"maxTotalTokens": 10}, "note": "more"},
    }
