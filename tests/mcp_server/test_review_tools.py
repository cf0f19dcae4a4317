"""request_review over real HTTP: an agent token gets who was notified and until when, never a link; the link
reaches the reviewer through the notifier, and its decision reaches the waiting agent as principal + channel."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from tests.interop.node_process import NodeOracle
from tests.review.conftest import KeptNotices, workflow_file
from tests.servers import error_code, mcp_client, payload, running_server, server_config, token
from workbench_mcp.review.service import ReviewService
from workbench_mcp.web.app import create_app

AGENT_SCOPES = ["runs:read", "runs:write"]


def _workflows(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "reviewed.json").write_text(json.dumps(workflow_file()))
    return folder


async def test_an_agent_token_gets_no_link_and_the_reviewer_decides_through_it(
    tmp_path: Path, database_url: str | None
) -> None:
    """On each backend: the review request, the link's single use and the wait are the store's."""
    config = server_config(
        tmp_path, workflows_dir=_workflows(tmp_path), public_url="https://wb.example", database_url=database_url
    )
    kept = KeptNotices()
    app: Starlette = create_app(config, notifier=kept)
    agent = token("agent_7", scopes=AGENT_SCOPES)
    async with running_server(config, app) as url, mcp_client(f"{url}/api/mcp", agent) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        run_id = payload(await client.call_tool("start_run", {"workflowId": "reviewed"}))["runId"]
        asked = await client.call_tool(
            "request_review", {"runId": run_id, "stepId": "draft", "gate": "PAUSE_BEFORE", "reason": "tone"}
        )
        result = payload(asked)
        pending = payload(await client.call_tool("next_actions", {"runId": run_id}))["pendingGates"]

        review: ReviewService = app.state.review
        links = [n.link for n in kept.notices]
        decided = await review.decide_by_link(links[1].rsplit("/", 1)[1], "approved", "ok")
        waited = payload(
            await client.call_tool(
                "wait_for_decision", {"runId": run_id, "stepId": "draft", "gate": "PAUSE_BEFORE", "timeoutSeconds": 5}
            )
        )
        bundle = payload(await client.call_tool("export_bundle", {"runId": run_id, "audit": True}))

    assert "request_review" in listed
    assert (result["notified"], result["gateRequested"]) == (["alice", "bob"], True)
    seen = json.dumps([c.model_dump() for c in asked.content]) + json.dumps(result) + json.dumps(pending)
    assert [n.reviewer for n in kept.notices] == ["alice", "bob"]
    for link in links:
        assert link.startswith("https://wb.example/review/v1.")
        assert link.rsplit("/", 1)[1] not in seen
    assert "/review/" not in seen
    assert pending[0]["review"]["reviewers"] == ["alice", "bob"]
    assert pending[0]["review"]["expiresAt"] == result["expiresAt"]
    assert decided["changed"] is True
    assert (waited["decided"], waited["principal"], waited["channel"]) == (True, "bob", "link")
    audit = [(r["kind"], r["principal"], r["tool"]) for r in bundle["audit"]["records"]]
    assert ("review_requested", "agent_7", "request_review") in audit
    assert set(audit[-3:]) == {("mutation", "bob", "link"), ("approval", "bob", "link"), ("gate_opened", "bob", "link")}
    assert "/review/" not in json.dumps(bundle)
    oracle = NodeOracle("reference_runner.mjs")
    try:
        assert oracle.ask({"verify": bundle}) == {"parsed": True, "verified": True, "imported": True}
    finally:
        oracle.close()
    key_file = tmp_path / "workbench.db.review-link-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


async def test_a_read_only_token_is_refused_and_nothing_is_sent(tmp_path: Path) -> None:
    config = server_config(tmp_path, workflows_dir=_workflows(tmp_path))
    kept = KeptNotices()
    app = create_app(config, notifier=kept)
    async with running_server(config, app) as url:
        async with mcp_client(f"{url}/api/mcp", token("agent_7", scopes=AGENT_SCOPES)) as client:
            run_id = payload(await client.call_tool("start_run", {"workflowId": "reviewed"}))["runId"]
        async with mcp_client(f"{url}/api/mcp", token("agent_7", scopes=["runs:read"])) as reader:
            arguments: dict[str, Any] = {"runId": run_id, "stepId": "draft", "gate": "PAUSE_BEFORE"}
            refused = await reader.call_tool("request_review", arguments)
            records = payload(await reader.call_tool("audit_log", {"runId": run_id}))["records"]

    assert error_code(refused) == "INSUFFICIENT_SCOPE"
    assert kept.notices == []
    assert [(r["kind"], r["tool"]) for r in records if r["kind"] != "mutation"][-1] == ("denied", "request_review")
