"""Issue 12 "Must show", the review link end to end over real HTTP: a `workbench-mcp serve` process, a webhook
receiver, the official MCP client as the agent, headless Chromium as the reviewer, the reference runtime as the
bundle's verifier.

The agent (runs:read + runs:write) asks for a review; the reviewer learns the link from the webhook only
(verified here with the standard library, not the server's code); the agent's results never carry it. The
reviewer opens it in Chromium, sees the artifacts and their diff, and approves by clicking. The link then fails
a second time, as do an expired and a tampered link; audit_log names the reviewer and channel `link`; the
exported bundle verifies in `@llm-workbench/runtime`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from tests.interop.node_process import NodeOracle
from tests.review.receiver import Receiver, running_receiver
from tests.servers import error_code, free_port, mcp_client, payload, token
from tests.web.chromium import Browser, find_chromium
from workbench_mcp.auth import load_or_create_dev_secret
from workbench_mcp.config import ServerConfig
from workbench_mcp.principal import Principal
from workbench_mcp.review import links
from workbench_mcp.review.service import ReviewService
from workbench_mcp.scopes import READ, WRITE
from workbench_mcp.wiring import open_service

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = (REPO / "test-artifacts" / "review-page.png", Path("/work/wt/review-page.png"))
ORG = "org_acme"
REVIEWER = "rita@acme.example"
WEBHOOK_SECRET = "whsec-e2e-0123456789abcdefghijklmnopqrstuvwxyz"
WORKFLOW = {
    "workflow": {
        "id": "releaseNotes",
        "version": 1,
        "title": "Release notes",
        "steps": [
            {"id": "draft", "gatePolicy": "PAUSE_AFTER", "inputs": ["changelog"], "outputs": ["notes"]},
            {"id": "publish", "gatePolicy": "AUTO", "inputs": ["notes"]},
        ],
        "edges": [{"id": "e1", "from": "draft", "to": "publish"}],
    },
    "governance": {"approvals": {"default": {"subjects": [REVIEWER]}}},
}

PAGE = """
(() => {
  const visible = (el) => {
    if (!el) return false;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== "hidden" && style.display !== "none";
  };
  const one = (id) => document.querySelector(`[data-testid="${id}"]`);
  const text = (id) => (visible(one(id)) ? one(id).textContent : null);
  const diff = document.querySelector('[data-testid="artifact-notes"] [data-testid="artifact-diff"]');
  return JSON.stringify({
    title: text("review-title"),
    reviewer: text("reviewer"),
    reason: text("reason"),
    gateStatus: text("gate-status"),
    notes: visible(one("artifact-notes")) ? one("artifact-notes").dataset.role : null,
    changelog: visible(one("artifact-changelog")) ? one("artifact-changelog").dataset.role : null,
    notesData: document.querySelector('[data-testid="artifact-notes"] [data-testid="artifact-data"]').textContent,
    diff: visible(diff) ? diff.textContent : null,
    approve: visible(one("approve")),
    scripts: document.scripts.length,
    pageWidth: document.documentElement.scrollWidth,
  });
})()
"""
NOTICE = """
(() => {
  const n = document.querySelector('[data-testid="notice"]');
  return n ? JSON.stringify({kind: n.dataset.kind, code: n.dataset.code, title: n.querySelector("h1").textContent})
           : null;
})()
"""


@dataclass
class Served:
    url: str
    db: Path
    receiver: Receiver
    jwt_secret: str


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """`workbench-mcp serve` in a process of its own, its webhook pointing at a receiver in this test."""
    db = tmp_path / "workbench.db"
    jwt_secret, _ = load_or_create_dev_secret(db)  # serve uses the database's development secret
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "release.json").write_text(json.dumps(WORKFLOW))
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(WEBHOOK_SECRET)
    secret_file.chmod(0o600)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    async with running_receiver() as receiver:
        # fmt: off
        command = [
            sys.executable, "-m", "workbench_mcp", "serve", "--port", str(port), "--db", str(db),
            "--workflows", str(folder), "--toolsets", "all", "--log-level", "WARNING",
            "--webhook-url", receiver.url, "--webhook-secret-file", str(secret_file),
        ]
        # fmt: on
        with (tmp_path / "serve.log").open("wb") as log:
            server = await asyncio.create_subprocess_exec(
                *command,
                cwd=REPO,
                env={**env, "PYTHONPATH": str(REPO)},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx2.AsyncClient(base_url=url, timeout=10) as http:
                for _ in range(600):  # until it answers (a bounded wait, not a timing assertion)
                    assert server.returncode is None, (tmp_path / "serve.log").read_text()
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx2.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            yield Served(url, db, receiver, jwt_secret)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            await asyncio.wait_for(server.wait(), 30)


async def ok(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}: {result.structured_content}"
    return payload(result)


def verified_delivery(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The README receiver's check, written out independently: HMAC-SHA256 over `t.body`, a fresh `t`."""
    fields = [part.split("=", 1) for part in headers["workbench-signature"].split(",")]
    stamps = [value for name, value in fields if name == "t"]
    assert len(stamps) == 1
    assert abs(time.time() - int(stamps[0])) <= 300
    expected = hmac.new(WEBHOOK_SECRET.encode(), stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    assert any(name == "v1" and hmac.compare_digest(expected, value) for name, value in fields)
    assert headers["content-type"].startswith("application/json")
    event: dict[str, Any] = json.loads(body)
    return event


async def _delivered(receiver: Receiver) -> tuple[dict[str, str], bytes]:
    for _ in range(300):  # the notifier delivers in the background
        if receiver.received:
            return receiver.received[0].headers, receiver.received[0].body
        await asyncio.sleep(0.05)
    raise AssertionError("the webhook receiver got nothing")


async def _expired_link(served: Served, run_id: str) -> str:
    """A link minted by a clock two hours behind, for one hour, the way `review-link` mints: the server's
    database and link key, from another process."""
    key = links.read_key(links.default_key_path(served.db))
    past = datetime.now(UTC) - timedelta(hours=2)
    async with open_service(ServerConfig(db_path=served.db)) as runs:
        review = ReviewService(runs, links.LinkSigner(key, served.url), now=lambda: past)
        minted = await review.mint(
            Principal(ORG, "agent"), run_id, step_id="draft", gate="PAUSE_AFTER", reviewers=[REVIEWER], ttl_seconds=3600
        )
    return minted.links[REVIEWER]


def _tampered(link: str) -> str:
    """One character of the signed payload changed."""
    head, _, tail = link.rpartition("/review/")
    version, body, mac = tail.split(".")
    swapped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    return f"{head}/review/{version}.{swapped}.{mac}"


@pytest.mark.slow
async def test_a_review_link_from_request_to_verified_bundle(served: Served) -> None:
    executable = find_chromium()
    agent_url = served.url + "/api/mcp"
    async with mcp_client(agent_url, token("agent", ORG, secret=served.jwt_secret, scopes=[READ, WRITE])) as agent:
        run_id = (await ok(agent, "start_run", {"workflowId": "releaseNotes"}))["runId"]
        await ok(agent, "begin_step", {"runId": run_id, "stepId": "draft"})
        for text in ("Fixes a crash on start.", "Fixes a crash on start.\nAdds dark mode."):
            notes = {"runId": run_id, "artifactKey": "notes", "typeId": "releaseNotes", "data": {"text": text}}
            await ok(agent, "write_artifact", notes)
        await ok(agent, "complete_step", {"runId": run_id, "stepId": "draft"})
        # The agent asks; its result says who was notified and until when, never the link.
        asked = await ok(
            agent,
            "request_review",
            {"runId": run_id, "stepId": "draft", "gate": "PAUSE_AFTER", "reason": "Ship these notes?"},
        )
        assert asked["notified"] == [REVIEWER]

        # The reviewer's copy arrives at the webhook, signed.
        headers, body = await _delivered(served.receiver)
        event = verified_delivery(headers, body)
        assert (event["tenantId"], event["runId"], event["workflowId"]) == (ORG, run_id, "releaseNotes")
        assert (event["stepId"], event["gate"], event["reason"], event["reviewer"]) == (
            "draft",
            "PAUSE_AFTER",
            "Ship these notes?",
            REVIEWER,
        )
        assert event["expiresAt"] == asked["expiresAt"]
        link: str = event["reviewLink"]
        assert link.startswith(served.url + "/review/")
        token_part = link.removeprefix(served.url + "/review/")

        # The agent cannot see the link: not in its result, the run, next_actions or audit_log ...
        seen_by_agent = [
            asked,
            await ok(agent, "get_run", {"runId": run_id}),
            await ok(agent, "next_actions", {"runId": run_id}),
            await ok(agent, "audit_log", {"runId": run_id}),
        ]
        for document in seen_by_agent:
            assert token_part not in json.dumps(document)
            assert "/review/" not in json.dumps(document)
        # ... nor decide in the reviewer's stead: its token may not resolve gates.
        decision = {"runId": run_id, "stepId": "draft", "gate": "PAUSE_AFTER", "decision": "approved"}
        assert error_code(await agent.call_tool("resolve_gate", decision)) == "INSUFFICIENT_SCOPE"

        expired = await _expired_link(served, run_id)  # before the decision: a decided gate mints no links

        # The reviewer opens the link in Chromium, reads, types a note and clicks Approve.
        def review_in_browser() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
            with Browser(executable) as browser:
                browser.open(link)
                page = json.loads(browser.evaluate(PAGE))
                for path in SCREENSHOTS:
                    browser.screenshot(path)
                browser.type_into('[data-testid="note"]', "Good to ship")
                browser.click('[data-testid="approve"]')
                decided = json.loads(browser.evaluate(NOTICE))
                browser.open(link)  # the second use
                again = json.loads(browser.evaluate(NOTICE))
            return page, decided, again

        page, decided, again = await asyncio.to_thread(review_in_browser)
        assert page["title"] == "PAUSE_AFTER gate of draft"
        assert page["reviewer"] == REVIEWER
        assert page["reason"] == "Ship these notes?"
        assert page["gateStatus"] == "pending"
        assert (page["notes"], page["changelog"]) == ("output", None)  # the step's output (no changelog written)
        assert "Adds dark mode." in page["notesData"]
        assert page["diff"] is not None
        assert "--- notes v1" in page["diff"]
        assert '+  "text": "Fixes a crash on start.\\nAdds dark mode."' in page["diff"]
        assert page["approve"] is True
        assert page["scripts"] == 0
        assert page["pageWidth"] <= 1280
        assert decided == {"kind": "decided", "code": "OK", "title": "Approved"}
        assert again["kind"] == "used"
        assert again["code"] == "REVIEW_LINK_USED"

        # Over plain HTTP: the used, an expired and a tampered link, with their statuses.
        tampered = _tampered(link)
        async with httpx2.AsyncClient(timeout=30) as http:
            assert (await http.get(link)).status_code == 410
            stale = await http.get(expired)
            assert stale.status_code == 410
            assert 'data-code="REVIEW_LINK_EXPIRED"' in stale.text
            changed = await http.get(tampered)
            assert changed.status_code == 404
            assert 'data-code="REVIEW_LINK_INVALID"' in changed.text

        # The decision is the reviewer's, through the link; the gate is open.
        records = (await ok(agent, "audit_log", {"runId": run_id}))["records"]
        resolved = [r for r in records if r["kind"] == "mutation" and r.get("tool") == "link"]
        assert [(r["principal"], r["tool"]) for r in resolved] == [(REVIEWER, "link")]
        trace = (await ok(agent, "get_run", {"runId": run_id}))["trace"]
        decisions = [(e["decision"], e.get("note")) for e in trace if e["type"] == "human_gate_resolved"]
        assert decisions == [("approved", f"approved by {REVIEWER}: Good to ship")]  # the policy names who
        assert (await ok(agent, "next_actions", {"runId": run_id}))["readySteps"] == ["publish"]

        bundle = await ok(agent, "export_bundle", {"runId": run_id, "audit": True})
        assert (await ok(agent, "verify_run_integrity", {"bundle": bundle}))["ok"] is True
    oracle = NodeOracle("reference_runner.mjs")
    try:
        assert oracle.ask({"verify": bundle}) == {"parsed": True, "verified": True, "imported": True}
    finally:
        oracle.close()
    assert SCREENSHOTS[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
