"""/runs/demo: public, read-only, server-rendered, everything escaped, integrity recomputed per request
from the stored rows and compared with the hash sealed when the demo run was built."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.rest import RunFactory
from workbench_mcp.config import ServerConfig
from workbench_mcp.protocol.bundle import MAX_BUNDLE_BYTES
from workbench_mcp.web.demo_page import DemoRun, Integrity, check_integrity, event_summary, render_run_page
from workbench_mcp.wiring import open_service

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


async def test_the_demo_page_is_public_and_shows_a_verified_completed_run(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        page = await client.get("/runs/demo")
        again = await client.get("/runs/demo")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no scripts at all
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert "<script" not in html
    assert 'data-testid="integrity-badge" data-verified="true"' in html
    assert 'data-testid="run-status">completed<' in html
    assert html.count('data-testid="timeline-event"') == 23
    for testid in ("gate-parser1-before", "gate-jobSearcher-after", "workflow-graph", "artifact-compiledProfile"):
        assert f'data-testid="{testid}"' in html
    assert "rejected" in html  # the jobSearcher PAUSE_AFTER gate was rejected once before its approval
    # The same run each time (built once per server), its hash recomputed per request.
    assert again.text == html


@pytest.fixture
async def demo_and_db(tmp_path: Path) -> AsyncIterator[tuple[DemoRun, Path]]:
    """The page's DemoRun on a store whose file the test can reach (the server's is a hidden temp file)."""
    db = tmp_path / "demo.db"
    demo = DemoRun()
    async with open_service(ServerConfig(db_path=db)) as service:
        demo.attach(service)
        yield demo, db
        demo.attach(None)


VERIFIED = 'data-testid="integrity-badge" data-verified="true"'
FAILED = 'data-testid="integrity-badge" data-verified="false"'


@pytest.mark.parametrize(
    "tamper",
    [
        # The run row: its decoded state is cached in the store and its bundle in the export cache.
        "UPDATE runs SET run_json = replace(run_json, 'public demo', 'edited demo')",
        # An event row of the trace.
        "UPDATE trace_events SET event_json = replace(event_json, '\"approved\"', '\"rejected\"') "
        "WHERE type = 'human_gate_resolved'",
    ],
)
async def test_a_tampered_stored_row_shows_as_not_verified(demo_and_db: tuple[DemoRun, Path], tamper: str) -> None:
    demo, db = demo_and_db
    before = await demo.page()
    assert VERIFIED in before
    assert await demo.page() == before  # served again, nothing changed: same page, still verified
    with sqlite3.connect(db) as conn:  # behind the server's back, as a disk edit or a bad restore would
        assert conn.execute(tamper).rowcount >= 1
    after = await demo.page()
    assert FAILED in after
    assert "Integrity check failed" in after
    assert "no longer hashes to" in after


def hostile_state() -> dict[str, Any]:
    state = RunFactory().new(tags=['<script>alert("tag")</script>'])
    state["run"]["workflowSnapshot"]["title"] = "<img src=x onerror=alert(1)>"
    state["trace"].append({**state["trace"][0], "id": "evt_x", "type": "annotation", "text": "</li><b>bold</b>"})
    return state


def test_every_value_from_the_run_is_escaped() -> None:
    html = render_run_page(hostile_state(), Integrity(True, "a" * 64, "ok"))
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "</li><b>bold" not in html
    assert "&lt;script&gt;alert(&#34;tag&#34;)&lt;/script&gt;" in html  # Jinja2 autoescape (markupsafe)
    assert "&lt;/li&gt;&lt;b&gt;bold&lt;/b&gt;" in html


def test_a_tampered_bundle_gets_the_failed_badge(tmp_path: Path) -> None:
    state = RunFactory().new()
    bundle = {
        "protocolVersion": "1.0.0",
        "run": state["run"],
        "trace": state["trace"],
        "artifacts": [],
        "ruleSets": [v for _, v in state["ruleSetsById"]],
        "integrity": {"sha256": "0" * 64},
    }
    integrity = check_integrity(copy.deepcopy(bundle))
    assert integrity.verified is False
    html = render_run_page(state, integrity)
    assert 'data-verified="false"' in html
    assert "Integrity check failed" in html


def test_the_badge_refuses_a_bundle_over_the_bundle_limit() -> None:
    # One check and one ceiling for every verifier (offload.check_bundle): the tool's and the CLI's code.
    state = RunFactory().new()
    bundle = {"protocolVersion": "1.0.0", "run": {**state["run"], "metadata": {"pad": "x" * MAX_BUNDLE_BYTES}}}
    integrity = check_integrity(bundle)
    assert integrity.verified is False
    assert integrity.detail.startswith("LIMIT_EXCEEDED: bundle exceeds maximum size")


def test_every_event_type_has_a_summary() -> None:
    samples: dict[str, dict[str, Any]] = {
        "step_completed": {"ok": False, "error": {"message": "boom"}},
        "artifact_patch": {"artifactKey": "a", "fromVersion": 1, "toVersion": 2, "patch": [{"op": "add"}]},
        "model_io": {"direction": "response", "provider": "p", "model": "m", "usage": {"totalTokens": 3}},
        "span_ended": {"status": "ok", "durationMs": 1.23456},
    }
    assert event_summary({"type": "step_completed", **samples["step_completed"]}) == "failed: boom"
    assert event_summary({"type": "artifact_patch", **samples["artifact_patch"]}) == "a v1 → v2 (add)"
    assert event_summary({"type": "model_io", **samples["model_io"]}) == "response p/m · 3 tokens"
    assert event_summary({"type": "span_ended", **samples["span_ended"]}) == "ok, 1.23 ms"
