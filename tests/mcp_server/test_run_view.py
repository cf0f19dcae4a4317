"""The MCP Apps run view (issue 12 §4) in headless Chromium, inside a minimal host: a page that embeds the
`ui://` resource read from the real server, answers `ui/initialize`, sends the tool-input and tool-result
notifications of a real get_run call, and proxies the view's `tools/call` requests to the real server over
HTTP with the signed-in user's token (the browser hands each request to this test through a DevTools binding,
as a desktop host's native side would; the token never enters the page).

Checked: the view renders the run's steps, artifacts and timeline; a hostile artifact renders as inert text;
Approve resolves the gate on the server (as that user: principal and channel read back from the server); a
token without the approve scope gets the server's refusal shown, and the gate stays pending.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import server_config, server_in_thread, token
from tests.web.chromium import Browser, find_chromium, page_server
from workbench_mcp.mcp_server.run_view import RUN_VIEW_URI
from workbench_mcp.scopes import READ

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PENDING_SHOT, SCREENSHOT = ARTIFACTS / "run-view-pending.png", ARTIFACTS / "run-view.png"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\"><script>window.pwned=1</script>"
GATE = {"stepId": "parser1", "gate": "PAUSE_BEFORE"}
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}

HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>test host</title></head>
<body style="margin:0;background:#ddd">
<iframe id="view" sandbox="allow-scripts allow-same-origin" style="width:1100px;height:600px;border:0;background:#fff">
</iframe>
<script>
const frame = document.getElementById("view");
let toolInput = null, toolResult = null;
window.hostSeen = [];
window.startView = (html, input, result) => { toolInput = input; toolResult = result; frame.srcdoc = html; };
const toView = (message) => frame.contentWindow.postMessage({ jsonrpc: "2.0", ...message }, "*");
window.answer = (id, result) => toView({ id, result });
window.addEventListener("message", (event) => {
  if (event.source !== frame.contentWindow) return;
  const m = event.data;
  window.hostSeen.push(m.method || "reply");
  if (m.method === "ui/initialize") {
    toView({ id: m.id, result: { protocolVersion: "2026-01-26", hostInfo: { name: "test-host", version: "1" },
      hostCapabilities: { serverTools: {} }, hostContext: { theme: "light", displayMode: "inline" } } });
  } else if (m.method === "ui/notifications/initialized") {
    toView({ method: "ui/notifications/tool-input", params: { arguments: toolInput } });
    toView({ method: "ui/notifications/tool-result", params: toolResult });
  } else if (m.method === "tools/call") {
    hostToolCall(JSON.stringify({ id: m.id, params: m.params }));
  } else if (m.method === "ui/notifications/size-changed") {
    frame.style.height = Math.min(m.params.height, 4000) + "px";
  }
});
</script></body></html>"""

IN_VIEW = "document.getElementById('view').contentDocument"
SEEN = f"""
(() => {{
  const doc = {IN_VIEW};
  const all = (sel) => [...doc.querySelectorAll(sel)];
  const row = (step) => doc.querySelector(`tr[data-step="${{step}}"]`);
  return JSON.stringify({{
    status: doc.querySelector('[data-testid="run-status"]').textContent,
    steps: all("tbody tr").map((r) => r.dataset.step),
    parserCells: row("parser1") ? [...row("parser1").cells].map((c) => c.textContent) : null,
    buttons: all("button").map((b) => b.dataset.testid),
    artifacts: all('[data-testid="artifact"]').map((a) => a.textContent),
    events: all('[data-testid="timeline-event"]').length,
    message: doc.querySelector('[data-testid="message"]').textContent,
    images: all("img").length,
    scripts: all("script").length,
    title: doc.title,
    pwned: document.getElementById("view").contentWindow.pwned === undefined ? null : true,
  }});
}})()
"""


class Mcp:
    """JSON-RPC tools/call and resources/read over HTTP with one user's token."""

    def __init__(self, url: str, bearer: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=30, headers={**HEADERS, "Authorization": f"Bearer {bearer}"})

    def rpc(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = self._http.post("/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        result: dict[str, Any] = reply.json()["result"]
        return result

    def close(self) -> None:
        self._http.close()

    def tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.rpc("tools/call", {"name": name, "arguments": arguments})
        assert not result.get("isError"), result
        body: dict[str, Any] = result["structuredContent"]
        return body


@contextmanager
def host_page() -> Iterator[str]:
    """The host page on its own loopback origin (the view's srcdoc frame shares it, so the test can read it)."""
    with page_server(HOST_PAGE) as port:
        yield f"http://127.0.0.1:{port}/"


def _seen(browser: Browser) -> dict[str, Any]:
    seen: dict[str, Any] = json.loads(browser.evaluate(SEEN))
    return seen


def _serve_until(browser: Browser, user: Mcp, done: str, rounds: int = 200) -> dict[str, Any]:
    """Proxy the view's tools/call requests to the server as `user` until `done` (JS over `seen`) holds."""
    for _ in range(rounds):
        ready = browser.evaluate(f"{IN_VIEW}.readyState === 'complete' && !!{IN_VIEW}.querySelector('tbody')")
        if ready:
            seen = _seen(browser)
            if browser.evaluate(f"(seen => {done})({json.dumps(seen)})"):
                return seen
        called = browser.event("Runtime.bindingCalled", timeout=0.1)
        if called is not None:
            request = json.loads(called["params"]["payload"])
            result = user.rpc("tools/call", request["params"])
            browser.evaluate(f"answer({json.dumps(request['id'])}, {json.dumps(result)})")
    raise AssertionError(f"the view never reached {done}: {_seen(browser)}")


@contextmanager
def rendered(tmp_path: Path, reviewer_scopes: list[str] | None) -> Iterator[tuple[Browser, Mcp, Mcp, str]]:
    """A run with a hostile artifact, shown in the view as the reviewer's get_run result."""
    executable = find_chromium()
    with (
        server_in_thread(server_config(tmp_path)) as url,
        host_page() as host,
        Browser(executable) as browser,
        ExitStack() as stack,
    ):
        agent = stack.enter_context(closing(Mcp(url, token("agent_1", "acme"))))
        reviewer = stack.enter_context(closing(Mcp(url, token("bob", "acme", scopes=reviewer_scopes))))
        run_id = agent.tool("start_run", {"workflowId": "jobSearchWorkflow"})["runId"]
        agent.tool("write_artifact", {"runId": run_id, "artifactKey": HOSTILE, "typeId": "t.v1", "data": HOSTILE})
        view = reviewer.rpc("resources/read", {"uri": RUN_VIEW_URI})["contents"][0]
        assert view["mimeType"] == "text/html;profile=mcp-app"
        result = reviewer.rpc("tools/call", {"name": "get_run", "arguments": {"runId": run_id}})
        browser.open(host)
        browser.send("Runtime.enable", session=browser._session)
        browser.send("Runtime.addBinding", {"name": "hostToolCall"}, session=browser._session)
        browser.evaluate(
            f"startView({json.dumps(view['text'])}, {json.dumps({'runId': run_id})}, {json.dumps(result)})"
        )
        yield browser, agent, reviewer, run_id


def test_get_run_links_the_view_and_the_view_is_a_self_contained_app(tmp_path: Path) -> None:
    with server_in_thread(server_config(tmp_path)) as url, closing(Mcp(url, token("alice"))) as user:
        tools = {tool["name"]: tool for tool in user.rpc("tools/list", {})["tools"]}
        view = user.rpc("resources/read", {"uri": RUN_VIEW_URI})["contents"][0]
    assert tools["get_run"]["_meta"] == {"ui": {"resourceUri": RUN_VIEW_URI}}
    assert all("_meta" not in tool for name, tool in tools.items() if name != "get_run")
    html = view["text"]
    assert "default-src 'none'" in html
    for absent in ("innerHTML", "http://", "https://"):  # no markup from data, nothing fetched from anywhere
        assert absent not in html


def test_the_view_renders_a_run_and_approve_resolves_the_gate(tmp_path: Path) -> None:
    with rendered(tmp_path, None) as (browser, agent, reviewer, run_id):
        seen = _serve_until(browser, reviewer, "seen.buttons.includes('approve-parser1-PAUSE_BEFORE')")
        assert seen["status"] == "running"
        assert seen["steps"] == ["parser1", "jobSearcher", "output"]
        assert seen["parserCells"][:4] == ["parser1", "PAUSE_BEFORE", "pending", "pending"]
        assert seen["events"] == 2  # rule_changed, artifact_written
        # The hostile strings are shown as text: no element, no script run, nothing rewritten.
        assert len(seen["artifacts"]) == 1
        assert HOSTILE in seen["artifacts"][0]
        assert (seen["images"], seen["scripts"], seen["title"], seen["pwned"]) == (0, 1, "Workbench run", None)
        assert seen["title"] != "pwned"

        browser.screenshot(PENDING_SHOT)
        # Approve as bob (the reviewer): the host proxies resolve_gate with bob's token.
        browser.evaluate(f"{IN_VIEW}.querySelector('[data-testid=\"approve-parser1-PAUSE_BEFORE\"]').click()")
        seen = _serve_until(browser, reviewer, "seen.parserCells[3] === 'approved' && seen.buttons.length === 0")
        browser.screenshot(SCREENSHOT)
        decided = agent.tool("wait_for_decision", {"runId": run_id, **GATE, "timeoutSeconds": 0})
        pending = agent.tool("next_actions", {"runId": run_id})["pendingGates"]
    assert (decided["decided"], decided["decision"], decided["principal"]) == (True, "approved", "bob")
    assert decided["channel"] == "resolve_gate"
    assert pending == []
    assert PENDING_SHOT.read_bytes()[:8] == SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_reviewer_without_the_approve_scope_is_refused_by_the_server(tmp_path: Path) -> None:
    with rendered(tmp_path, [READ]) as (browser, agent, reviewer, run_id):
        _serve_until(browser, reviewer, "seen.buttons.includes('approve-parser1-PAUSE_BEFORE')")
        browser.evaluate(f"{IN_VIEW}.querySelector('[data-testid=\"approve-parser1-PAUSE_BEFORE\"]').click()")
        seen = _serve_until(browser, reviewer, "seen.message !== ''")
        pending = agent.tool("next_actions", {"runId": run_id})["pendingGates"]
    assert seen["message"].startswith("INSUFFICIENT_SCOPE: ")
    assert seen["parserCells"][3] == "pending"
    assert pending == [GATE]


@pytest.fixture(autouse=True)
def _artifacts_folder() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
